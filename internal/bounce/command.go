package bounce

import "strings"

// findCommandASCII is findCommand written out by hand for ASCII text: the
// command whose expression in commandRes matches leftmost (the earlier
// expression on a tie), "" when none does. Every expression's words and
// delimiters are ASCII, and on ASCII text (?i) is ASCII case folding, \s
// is [\t\n\f\r ] and \b is the ASCII word boundary, so lowering the text
// once and comparing bytes is the same test. ok is false for text with
// other bytes (the Kelvin sign and the long s fold onto k and s under
// (?i)); the caller then runs the expressions.
//
// The expressions' first words ("for", "after") are common English, so
// the anchored search ran the backtracker at every one of them in a
// notice: about a tenth of a message's parse.
func findCommandASCII(text string) (cmd string, ok bool) {
	if !isASCII(text) {
		return "", false
	}
	lower := text
	for i := 0; i < len(text); i++ {
		if c := text[i]; 'A' <= c && c <= 'Z' {
			lower = strings.ToLower(text)
			break
		}
	}
	best, at := "", -1
	for _, c := range commandScans {
		if i := c.find(lower); i >= 0 && (at < 0 || i < at) {
			best, at = c.cmd, i
		}
	}
	return best, true
}

// commandScans are commandRes's expressions in the same order, each as
// the leftmost start of a match in lowered ASCII text (-1: none).
var commandScans = []struct {
	cmd  string
	find func(s string) int
}{
	// (in reply to|after|like our|following|for)\s+(the\s+)?(end of data|final data|data|text)\b
	// | \(DATA\) | >>> DATA | -{3,}SMTP command\s+DATA
	{"DATA", func(s string) int {
		return leftmost(
			replyPhrase(s, []string{"in reply to", "after", "like our", "following", "for"}, []string{"end of data", "final data", "data", "text"}),
			strings.Index(s, "(data)"),
			strings.Index(s, ">>> data"),
			dashesSMTPCommandData(s),
		)
	}},
	// (in reply to|after|like our|following)\s+(the\s+)?rcpt\b | (>>>|<<<)\s*RCPT
	// | RCPT TO:.{0,80}does not like | rejected recipient
	{"RCPT", func(s string) int {
		return leftmost(
			replyPhrase(s, []string{"in reply to", "after", "like our", "following"}, []string{"rcpt"}),
			arrowsCommand(s, ">>>", "rcpt", false),
			arrowsCommand(s, "<<<", "rcpt", false),
			rcptToDoesNotLike(s),
			strings.Index(s, "rejected recipient"),
		)
	}},
	// (in reply to|after|like our|following)\s+(the\s+)?mail( from)?\b | >>>\s*MAIL\s+FROM
	// ("mail from" followed by \b implies "mail" followed by \b: the
	// optional part never decides whether there is a match.)
	{"MAIL", func(s string) int {
		return leftmost(
			replyPhrase(s, []string{"in reply to", "after", "like our", "following"}, []string{"mail"}),
			arrowsCommand(s, ">>>", "mail", true),
		)
	}},
	// (in reply to|after|following)\s+(the\s+)?ehlo\b | >>>\s*EHLO
	{"EHLO", func(s string) int {
		return leftmost(
			replyPhrase(s, []string{"in reply to", "after", "following"}, []string{"ehlo"}),
			arrowsCommand(s, ">>>", "ehlo", false),
		)
	}},
	// (in reply to|after|following)\s+(the\s+)?helo\b | >>>\s*HELO
	{"HELO", func(s string) int {
		return leftmost(
			replyPhrase(s, []string{"in reply to", "after", "following"}, []string{"helo"}),
			arrowsCommand(s, ">>>", "helo", false),
		)
	}},
	// after (initial )?connection | (in reply to|after) (the )?(connect|greeting|banner)
	{"CONN", func(s string) int {
		return leftmost(
			strings.Index(s, "after connection"),
			strings.Index(s, "after initial connection"),
			literalPhrase(s, []string{"in reply to ", "after "}, []string{"the connect", "the greeting", "the banner", "connect", "greeting", "banner"}),
		)
	}},
}

// leftmost is the smallest of the offsets that are not -1, or -1.
func leftmost(offsets ...int) int {
	best := -1
	for _, i := range offsets {
		if i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// isSpaceRE is \s: [\t\n\f\r ] (no \v).
func isSpaceRE(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// isWordRE is \w: [0-9A-Za-z_].
func isWordRE(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// skipSpaces returns the offset after the run of \s at i.
func skipSpaces(s string, i int) int {
	for i < len(s) && isSpaceRE(s[i]) {
		i++
	}
	return i
}

// wordAt reports whether one of words is at s[i:] and ends at a \b.
func wordAt(s string, i int, words []string) bool {
	for _, w := range words {
		if strings.HasPrefix(s[i:], w) {
			// Every word ends in a letter, so \b needs a non-word byte
			// (or the end) after it.
			if e := i + len(w); e == len(s) || !isWordRE(s[e]) {
				return true
			}
		}
	}
	return false
}

// replyPhrase is the leftmost start of
// (prefixes)\s+(the\s+)?(words)\b.
func replyPhrase(s string, prefixes, words []string) int {
	best := -1
	for _, p := range prefixes {
		for from := 0; ; {
			k := strings.Index(s[from:], p)
			if k < 0 || best >= 0 && from+k >= best {
				break
			}
			start := from + k
			from = start + 1
			j := start + len(p)
			e := skipSpaces(s, j)
			if e == j {
				continue // \s+ needs one
			}
			if wordAt(s, e, words) {
				best = start
				break
			}
			if strings.HasPrefix(s[e:], "the") {
				t := e + len("the")
				if u := skipSpaces(s, t); u > t && wordAt(s, u, words) {
					best = start
					break
				}
			}
		}
	}
	return best
}

// literalPhrase is the leftmost start of a prefix immediately followed by
// one of words (no boundary asked for).
func literalPhrase(s string, prefixes, words []string) int {
	best := -1
	for _, p := range prefixes {
		for from := 0; ; {
			k := strings.Index(s[from:], p)
			if k < 0 || best >= 0 && from+k >= best {
				break
			}
			start := from + k
			from = start + 1
			rest := s[start+len(p):]
			found := false
			for _, w := range words {
				if strings.HasPrefix(rest, w) {
					found = true
					break
				}
			}
			if found {
				best = start
				break
			}
		}
	}
	return best
}

// arrowsCommand is the leftmost start of arrows\s*cmd, and with from
// arrows\s*cmd\s+from.
func arrowsCommand(s, arrows, cmd string, from bool) int {
	for off := 0; ; {
		k := strings.Index(s[off:], arrows)
		if k < 0 {
			return -1
		}
		start := off + k
		off = start + 1
		j := skipSpaces(s, start+len(arrows))
		if !strings.HasPrefix(s[j:], cmd) {
			continue
		}
		if !from {
			return start
		}
		j += len(cmd)
		if e := skipSpaces(s, j); e > j && strings.HasPrefix(s[e:], "from") {
			return start
		}
	}
}

// dashesSMTPCommandData is the leftmost start of -{3,}smtp command\s+data:
// the first dash of a run of three or more right before "smtp command".
func dashesSMTPCommandData(s string) int {
	const phrase = "smtp command"
	for off := 0; ; {
		k := strings.Index(s[off:], phrase)
		if k < 0 {
			return -1
		}
		at := off + k
		off = at + 1
		d := at
		for d > 0 && s[d-1] == '-' {
			d--
		}
		if at-d < 3 {
			continue
		}
		j := at + len(phrase)
		if e := skipSpaces(s, j); e > j && strings.HasPrefix(s[e:], "data") {
			return d
		}
	}
}

// rcptToDoesNotLike is the leftmost start of rcpt to:.{0,80}does not like,
// where . is any byte but a newline (the text is ASCII: a byte is a rune).
func rcptToDoesNotLike(s string) int {
	const head, tail = "rcpt to:", "does not like"
	for off := 0; ; {
		k := strings.Index(s[off:], head)
		if k < 0 {
			return -1
		}
		start := off + k
		off = start + 1
		rest := s[start+len(head):]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[:nl]
		}
		if len(rest) > 80+len(tail) {
			rest = rest[:80+len(tail)]
		}
		if strings.Contains(rest, tail) {
			return start
		}
	}
}
