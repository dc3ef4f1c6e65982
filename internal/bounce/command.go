package bounce

import (
	"iter"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
)

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
	if !ascii.Only(text) {
		return "", false
	}
	lower := ascii.Lower(text)
	var at [len(commandNames)]int
	commandStarts(lower, &at)
	best := -1
	for k, i := range at {
		if i >= 0 && (best < 0 || i < at[best]) {
			best = k
		}
	}
	if best < 0 {
		return "", true
	}
	return commandNames[best], true
}

// commandNames are commandRes's commands, in its order.
var commandNames = [...]string{"DATA", "RCPT", "MAIL", "EHLO", "HELO", "CONN"}

const (
	cmdDATA = iota
	cmdRCPT
	cmdMAIL
	cmdEHLO
	cmdHELO
	cmdCONN
)

// replyPrefixes are the words the five "in reply to ..." alternatives
// start with, and which of the commands each may start (DATA alone takes
// "for"; EHLO and HELO do not take "like our").
var replyPrefixes = []struct {
	word string
	cmds [5]bool // DATA, RCPT, MAIL, EHLO, HELO
}{
	{"in reply to", [5]bool{true, true, true, true, true}},
	{"after", [5]bool{true, true, true, true, true}},
	{"like our", [5]bool{true, true, true, false, false}},
	{"following", [5]bool{true, true, true, true, true}},
	{"for", [5]bool{true, false, false, false, false}},
}

// replyWords are the words after (prefix)\s+(the\s+)? for each of the
// five commands, each followed by \b. ("mail( from)?\b": "mail from"
// followed by \b implies "mail" followed by \b, so the optional part
// never decides whether there is a match.)
var replyWords = [5][]string{
	{"end of data", "final data", "data", "text"},
	{"rcpt"},
	{"mail"},
	{"ehlo"},
	{"helo"},
}

// commandStarts sets at[k] to the leftmost start of a match of
// commandRes[k] in s (lowered ASCII), -1 for none. Each literal every
// alternative starts with is looked for once, and what may follow it is
// checked for every command at each place it occurs:
//
//	DATA (in reply to|after|like our|following|for)\s+(the\s+)?(end of data|final data|data|text)\b
//	     | \(DATA\) | >>> DATA | -{3,}SMTP command\s+DATA
//	RCPT (in reply to|after|like our|following)\s+(the\s+)?rcpt\b | (>>>|<<<)\s*RCPT
//	     | RCPT TO:.{0,80}does not like | rejected recipient
//	MAIL (in reply to|after|like our|following)\s+(the\s+)?mail( from)?\b | >>>\s*MAIL\s+FROM
//	EHLO (in reply to|after|following)\s+(the\s+)?ehlo\b | >>>\s*EHLO
//	HELO (in reply to|after|following)\s+(the\s+)?helo\b | >>>\s*HELO
//	CONN after (initial )?connection | (in reply to|after) (the )?(connect|greeting|banner)
func commandStarts(s string, at *[len(commandNames)]int) {
	for k := range at {
		at[k] = -1
	}
	// set records a start for command k if it is the leftmost so far.
	set := func(k, i int) {
		if i >= 0 && (at[k] < 0 || i < at[k]) {
			at[k] = i
		}
	}
	for _, p := range replyPrefixes {
		replyPhrases(s, p.word, p.cmds, set)
	}
	arrows(s, set)
	for start := range occurrences(s, "<<<") {
		if strings.HasPrefix(s[skipSpaces(s, start+3):], "rcpt") {
			set(cmdRCPT, start)
			break
		}
	}
	set(cmdDATA, strings.Index(s, "(data)"))
	set(cmdDATA, dashesSMTPCommandData(s))
	set(cmdRCPT, rcptToDoesNotLike(s))
	set(cmdRCPT, strings.Index(s, "rejected recipient"))
	set(cmdCONN, strings.Index(s, "after connection"))
	set(cmdCONN, strings.Index(s, "after initial connection"))
	set(cmdCONN, literalPhrase(s, []string{"in reply to ", "after "}, []string{"the connect", "the greeting", "the banner", "connect", "greeting", "banner"}))
}

// replyPhrases finds (word)\s+(the\s+)?(replyWords[k])\b for each
// command k that word may start, at every place word occurs, stopping
// once each has its leftmost.
func replyPhrases(s, word string, cmds [5]bool, set func(k, i int)) {
	left := 0
	for _, c := range cmds {
		if c {
			left++
		}
	}
	var done [5]bool
	for start := range occurrences(s, word) {
		if left == 0 {
			return
		}
		j := start + len(word)
		e := skipSpaces(s, j)
		if e == j {
			continue // \s+ needs one
		}
		u := -1 // after "the\s+", if that follows
		if strings.HasPrefix(s[e:], "the") {
			if t := e + len("the"); skipSpaces(s, t) > t {
				u = skipSpaces(s, t)
			}
		}
		for c, ok := range cmds {
			if !ok || done[c] {
				continue
			}
			if wordAt(s, e, replyWords[c]) || u >= 0 && wordAt(s, u, replyWords[c]) {
				set(c, start)
				done[c] = true
				left--
			}
		}
	}
}

// arrows finds the ">>>" alternatives: >>> DATA (one space),
// >>>\s*RCPT, >>>\s*MAIL\s+FROM, >>>\s*EHLO and >>>\s*HELO, each at
// its leftmost.
func arrows(s string, set func(k, i int)) {
	for start := range occurrences(s, ">>>") {
		if strings.HasPrefix(s[start+3:], " data") {
			set(cmdDATA, start)
		}
		j := skipSpaces(s, start+3)
		rest := s[j:]
		switch {
		case strings.HasPrefix(rest, "rcpt"):
			set(cmdRCPT, start)
		case strings.HasPrefix(rest, "ehlo"):
			set(cmdEHLO, start)
		case strings.HasPrefix(rest, "helo"):
			set(cmdHELO, start)
		case strings.HasPrefix(rest, "mail"):
			m := j + len("mail")
			if e := skipSpaces(s, m); e > m && strings.HasPrefix(s[e:], "from") {
				set(cmdMAIL, start)
			}
		}
	}
}

// isSpaceRE is \s: [\t\n\f\r ] (no \v).
func isSpaceRE(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// isWordRE is \w: [0-9A-Za-z_].
func isWordRE(c byte) bool { return c == '_' || ascii.IsAlnum(c) }

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

// literalPhrase is the leftmost start of a prefix immediately followed by
// one of words (no boundary asked for).
func literalPhrase(s string, prefixes, words []string) int {
	best := -1
	for _, p := range prefixes {
		for start := range occurrences(s, p) {
			if best >= 0 && start >= best {
				break
			}
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

// dashesSMTPCommandData is the leftmost start of -{3,}smtp command\s+data:
// the first dash of a run of three or more right before "smtp command".
func dashesSMTPCommandData(s string) int {
	const phrase = "smtp command"
	for at := range occurrences(s, phrase) {
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
	return -1
}

// rcptToDoesNotLike is the leftmost start of rcpt to:.{0,80}does not like,
// where . is any byte but a newline (the text is ASCII: a byte is a rune).
func rcptToDoesNotLike(s string) int {
	const head, tail = "rcpt to:", "does not like"
	for start := range occurrences(s, head) {
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
	return -1
}

// remoteSaid is remoteRes[2] written out by hand for lowered ASCII text
// (it has no literal to start from, so the expression was tried at every
// byte, five times the cost of the others):
//
//	\b([a-z0-9][a-z0-9.\-]*\.[a-z]{2,})\s*\[[0-9a-f.:]+\][: ]+(said|did not like|failed|responded)
//
// It returns the offsets of the first group of the leftmost match, ok
// false when there is none. A match's name is the run of [a-z0-9.\-]
// right before the \s*\[ (the group cannot stop short of it: what
// follows must be a space or the bracket), its last dot followed by two
// or more letters only, from the leftmost letter or digit of the run
// that starts a word. The first bracket that works gives the leftmost
// match: the run before a later bracket starts after this one.
func remoteSaid(s string) (start, end int, ok bool) {
	for q := range occurrences(s, "[") {
		if !bracketThenVerb(s, q) {
			continue
		}
		end := q
		for end > 0 && isSpaceRE(s[end-1]) {
			end--
		}
		// The run of name bytes ending at end.
		r := end
		for r > 0 && isNameByte(s[r-1]) {
			r--
		}
		if r == end {
			continue
		}
		// Its last dot, followed by two or more letters to the end.
		dot := strings.LastIndexByte(s[r:end], '.')
		if dot < 0 {
			continue
		}
		dot += r
		if end-dot-1 < 2 || !allLetters(s[dot+1:end]) {
			continue
		}
		// The leftmost start: a letter or digit at a word boundary,
		// before the dot.
		for p := r; p < dot; p++ {
			if ascii.IsAlnum(s[p]) && (p == 0 || !isWordRE(s[p-1])) {
				return p, end, true
			}
		}
	}
	return 0, 0, false
}

// bracketThenVerb reports whether s[q:] is \[[0-9a-f.:]+\][: ]+(said|did
// not like|failed|responded).
func bracketThenVerb(s string, q int) bool {
	i := q + 1
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f' || s[i] == '.' || s[i] == ':') {
		i++
	}
	if i == q+1 || i >= len(s) || s[i] != ']' {
		return false
	}
	i++
	j := i
	for j < len(s) && (s[j] == ':' || s[j] == ' ') {
		j++
	}
	if j == i {
		return false
	}
	rest := s[j:]
	return strings.HasPrefix(rest, "said") || strings.HasPrefix(rest, "did not like") ||
		strings.HasPrefix(rest, "failed") || strings.HasPrefix(rest, "responded")
}

func isNameByte(c byte) bool { return ascii.IsAlnum(c) || c == '.' || c == '-' }

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// occurrences yields the offsets of every occurrence of sub in s, in
// order, overlapping ones included.
func occurrences(s, sub string) iter.Seq[int] {
	return func(yield func(int) bool) {
		for off := 0; off <= len(s); {
			k := strings.Index(s[off:], sub)
			if k < 0 || !yield(off+k) {
				return
			}
			off += k + 1
		}
	}
}
