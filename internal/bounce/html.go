package bounce

import (
	"html"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// htmlToText reduces an HTML bounce to its text: script, style and head
// blocks become a space, line-breaking tags a newline, other tags
// nothing, then entities are decoded. It is dropBlockRe, blockBreakRe and
// tagRe applied in turn (htmlToTextPlain in the tests), written out by
// hand: the three expressions over a 40 KB Office 365 notice were a tenth
// of the parser's time. A text with U+017F (which (?i) folds to "s") is
// left to the expressions.
func htmlToText(s string) string {
	folds := strings.Contains(s, "\u017f")
	if folds {
		s = dropBlockRe.ReplaceAllString(s, " ")
	}
	sc := htmlPool.Get().(*htmlScratch)
	// Each pass writes into the buffer its input is not in (a pass that
	// changes nothing hands on its input), so only the result is copied.
	if !folds {
		s = sc.replace(s, blockAt, " ")
	}
	s = sc.replace(s, blockBreakAt, "\n")
	s = sc.replace(s, anyTagAt, "")
	out := html.UnescapeString(s)
	if sc.holds(out) {
		out = strings.Clone(out)
	}
	if cap(sc.a)+cap(sc.b) <= maxPooledHTML {
		htmlPool.Put(sc)
	}
	return out
}

// htmlScratch is htmlToText's two pass buffers, pooled: each pass wrote a
// new string as long as the part (three per HTML part).
type htmlScratch struct{ a, b []byte }

var htmlPool = sync.Pool{New: func() any { return new(htmlScratch) }}

// maxPooledHTML: larger buffers are left to the collector.
const maxPooledHTML = 1 << 20

// holds reports whether s is in one of the buffers.
func (sc *htmlScratch) holds(s string) bool { return within(s, sc.a) || within(s, sc.b) }

func within(s string, b []byte) bool {
	if len(s) == 0 || cap(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
	return lo <= p && p < lo+uintptr(cap(b))
}

// replace is appendReplaceTags's result, written into the buffer s is not
// in; the result is s itself when nothing matched, else a view of that
// buffer, valid until the buffer is written again.
func (sc *htmlScratch) replace(s string, match func(string, int) int, repl string) string {
	dst := &sc.a
	if within(s, sc.a) {
		dst = &sc.b
	}
	out, changed := appendReplaceTags((*dst)[:0], s, match, repl)
	if !changed {
		return s
	}
	*dst = out
	return unsafe.String(unsafe.SliceData(out), len(out))
}

var blockNames = []string{"script", "style", "head"}

// blockAt matches dropBlockRe, (?is)<(script|style|head)\b.*?</(script|style|head)>:
// it is the end of a script, style or head block starting at the '<'
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

// appendReplaceTags appends s with every match of a tag expression
// replaced by repl to dst (match gives the end of a match starting at a
// '<', -1, or noMoreMatches), leftmost first, not overlapping, as
// ReplaceAllString does; changed is false (and dst as it was) when
// nothing matched.
func appendReplaceTags(dst []byte, s string, match func(string, int) int, repl string) (_ []byte, changed bool) {
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
		if !changed {
			changed = true
			dst = slices.Grow(dst, len(s))
		}
		dst = append(dst, s[last:p]...)
		dst = append(dst, repl...)
		last, i = end, end
	}
	if !changed {
		return dst, false
	}
	return append(dst, s[last:]...), true
}

// isREWord is a byte of \w, what \b looks at.
func isREWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
