package bounce

import (
	"html"
	"strings"
	"unicode/utf8"
)

// htmlToText reduces an HTML bounce to its text: script, style and head
// blocks become a space, line-breaking tags a newline, other tags
// nothing, then entities are decoded. It is dropBlockRe, blockBreakRe and
// tagRe applied in turn (htmlToTextPlain in the tests), written out by
// hand: the three expressions over a 40 KB Office 365 notice were a tenth
// of the parser's time. A text with U+017F (which (?i) folds to "s") is
// left to the expressions.
func htmlToText(s string) string {
	if strings.Contains(s, "\u017f") {
		s = dropBlockRe.ReplaceAllString(s, " ")
	} else {
		s = dropBlocks(s)
	}
	s = replaceTags(s, blockBreakAt, "\n")
	s = replaceTags(s, anyTagAt, "")
	return html.UnescapeString(s)
}

var blockNames = []string{"script", "style", "head"}

// dropBlocks is dropBlockRe.ReplaceAllString(s, " "):
// (?is)<(script|style|head)\b.*?</(script|style|head)>.
func dropBlocks(s string) string { return replaceTags(s, blockAt, " ") }

// blockAt is the end of a script, style or head block starting at the '<'
// at p, -1 if none starts there, or noMoreMatches when no closing tag
// follows anywhere (so no later '<' can start a match either).
func blockAt(s string, p int) int {
	n := nameAt(s, p+1, blockNames)
	if n == 0 || !boundaryAt(s, p+1+n) {
		return -1
	}
	if end := closingBlock(s, p+1+n); end >= 0 {
		return end
	}
	return noMoreMatches
}

// noMoreMatches, from a replaceTags match function: stop looking.
const noMoreMatches = -2

// closingBlock finds the end of the first </script>, </style> or </head>
// at or after i, or -1.
func closingBlock(s string, i int) int {
	for {
		j := strings.Index(s[i:], "</")
		if j < 0 {
			return -1
		}
		p := i + j + 2
		if n := nameAt(s, p, blockNames); n > 0 && p+n < len(s) && s[p+n] == '>' {
			return p + n + 1
		}
		i = p - 1
	}
}

// nameAt is the length of the first of names (lower case) that s holds at
// i, ignoring ASCII case; 0 when none.
func nameAt(s string, i int, names []string) int {
	for _, n := range names {
		if hasPrefixFold(s[i:], n) {
			return len(n)
		}
	}
	return 0
}

// boundaryAt is \b at i after a word byte: the byte at i is not \w.
func boundaryAt(s string, i int) bool {
	return i >= len(s) || !isREWord(s[i])
}

var breakNames = []string{"br", "/p", "/div", "/tr", "/li", "/h1", "/h2", "/h3", "/h4", "/h5", "/h6", "/table", "p", "div", "tr"}

// blockBreakAt matches blockBreakRe at s[p] == '<':
// (?i)<(br|/p|/div|/tr|/li|/h[1-6]|/table|p|div|tr)\b[^>]{0,500}>.
func blockBreakAt(s string, p int) int {
	for _, n := range breakNames {
		if hasPrefixFold(s[p+1:], n) && boundaryAt(s, p+1+len(n)) {
			return closeWithin(s, p+1+len(n), 500)
		}
	}
	return -1
}

// anyTagAt matches tagRe at s[p] == '<': (?s)<[^>]{0,1000}>.
func anyTagAt(s string, p int) int { return closeWithin(s, p+1, 1000) }

// closeWithin is [^>]{0,max}> at i: the end after the first '>' when at
// most max characters (runes, an invalid byte counting as one) come
// before it, or -1.
func closeWithin(s string, i, max int) int {
	n := 0
	for i < len(s) {
		c := s[i]
		if c == '>' {
			return i + 1
		}
		if n == max {
			return -1
		}
		n++
		if c < utf8.RuneSelf {
			i++
			continue
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return -1
}

// replaceTags replaces every match of a tag expression (match gives the
// end of a match starting at a '<', -1, or noMoreMatches), leftmost first, not
// overlapping, as ReplaceAllString does.
func replaceTags(s string, match func(string, int) int, repl string) string {
	var b strings.Builder
	last, i := 0, 0
	for {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			break
		}
		p := i + j
		end := match(s, p)
		if end == noMoreMatches {
			break
		}
		if end < 0 {
			i = p + 1
			continue
		}
		if last == 0 && b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:p])
		b.WriteString(repl)
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isREWord is a byte of \w, what \b looks at.
func isREWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
