package bounce

import (
	"strings"
	"unicode/utf8"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
)

// An e-mail address in free text (RFC 5321 Mailbox, loosely: what bounces
// print, including Sisimai's encoded-word local parts) is found by hand, not by a regular expression:
// in a notice of many lines, the expression's backtracking search and the
// two case-insensitive line tests around it were a tenth of the parse
// (issue 18). Each function here answers exactly as the expression in its
// comment; TestAddrScanAgrees and FuzzAddrScan compare them.

// isLocalByte: [A-Za-z0-9!#$%&'*+/=?^_{|}~.\-], the characters of a
// local part.
var isLocalByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+/=?^_{|}~.-" {
		t[c] = true
	}
	return t
}()

// addrAt is the end of the domain of an address whose "@" is at at, or -1
// when no domain starts there: a label is an alphanumeric run with inner
// hyphens, ending in an alphanumeric; labels are joined by dots.
func domainEnd(s string, at int) int {
	i := at + 1
	if i >= len(s) || !ascii.IsAlnum(s[i]) {
		return -1
	}
	for {
		// A label from i (s[i] is alphanumeric): the longest run of
		// alphanumerics and hyphens, back to its last alphanumeric.
		end := i + 1
		for j := i + 1; j < len(s) && (ascii.IsAlnum(s[j]) || s[j] == '-'); j++ {
			if s[j] != '-' {
				end = j + 1
			}
		}
		if end+1 < len(s) && s[end] == '.' && ascii.IsAlnum(s[end+1]) {
			i = end + 1
			continue
		}
		return end
	}
}

// findAddrs is addrRefRe.FindAllStringIndex(s, n) of addr_test.go, for
//
//	[A-Za-z0-9!#$%&'*+/=?^_{|}~.\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*
//
// The leftmost match is at the first "@" with a local part before it and
// a domain after it, and starts where its run of local-part characters
// does (no "@" is one of them, so the run belongs to that "@" alone).
func findAddrs(s string, n int) [][]int {
	var out [][]int
	from := 0
	for n < 0 || len(out) < n {
		m := findAddrFrom(s, from)
		if m == nil {
			break
		}
		out = append(out, m)
		from = m[1]
	}
	return out
}

// findAddrFrom is the leftmost address in s[from:], in s's offsets.
func findAddrFrom(s string, from int) []int {
	for at := from; at < len(s); at++ {
		k := strings.IndexByte(s[at:], '@')
		if k < 0 {
			return nil
		}
		at += k
		start := at
		for start > from && isLocalByte[s[start-1]] {
			start--
		}
		if start == at {
			continue
		}
		if end := domainEnd(s, at); end >= 0 {
			return []int{start, end}
		}
	}
	return nil
}

// findAddr is addrRefRe.FindString(s).
func findAddr(s string) string {
	if m := findAddrFrom(s, 0); m != nil {
		return s[m[0]:m[1]]
	}
	return ""
}

// findAllAddrs is addrRefRe.FindAllString(s, n).
func findAllAddrs(s string, n int) []string {
	var out []string
	for _, m := range findAddrs(s, n) {
		out = append(out, s[m[0]:m[1]])
	}
	return out
}

// plainAddress reads the common shapes of a one-address header —
// "a@b.c", "<a@b.c>", "Display Name <a@b.c>" — with plain characters only
// (letters, digits, ".", "_", "+", "-"; no dot at an end of a part or
// two in a row), and gives what mail.ParseAddressList gives as the
// address; ok is false for anything else, which net/mail then parses
// (it allocated a dozen objects per header; TestPlainAddressAgrees and
// FuzzPlainAddress compare the two).
func plainAddress(v string) (addr string, ok bool) {
	s := strings.Trim(v, " \t")
	if strings.HasSuffix(s, ">") {
		lt := strings.LastIndexByte(s, '<')
		if lt < 0 {
			return "", false
		}
		if !plainPhrase(s[:lt]) {
			return "", false
		}
		s = s[lt+1 : len(s)-1]
	}
	local, domain, found := strings.Cut(s, "@")
	if !found || !plainDotAtom(local) || !plainDotAtom(domain) {
		return "", false
	}
	return s, true
}

// plainPhrase: empty, or words of plain characters separated and
// followed by spaces or tabs.
func plainPhrase(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && !isPlainAtext(c) {
			return false
		}
	}
	return true
}

func plainDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isPlainAtext(s[i]) {
			return false
		}
	}
	return true
}

func isPlainAtext(c byte) bool {
	return ascii.IsAlnum(c) || c == '.' || c == '_' || c == '+' || c == '-'
}

// foldName appends s case-folded as (?i) compares it with ASCII: ASCII
// letters lowered, the long s and the Kelvin sign (which (?i) equates with
// s and k) to those letters; every other byte as it is.
func foldName(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c >= utf8.RuneSelf:
			if strings.HasPrefix(s[i:], "\u017f") {
				dst = append(dst, 's')
				i++
				continue
			}
			if strings.HasPrefix(s[i:], "\u212a") {
				dst = append(dst, 'k')
				i += 2
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

const reSpace = " \t\n\f\r" // \s

// headerNames are the field names of isHeaderLike.
var headerNames = map[string]bool{}

func init() {
	for _, n := range strings.Split("to|cc|bcc|from|reply-to|sender|return-path|subject|date|message-id|in-reply-to|references|received|delivered-to|errors-to|original sender|sender-mta|reporting-mta|remote-mta|final-recipient|original-recipient|x-actual-recipient|x-postfix-sender|received-from-mta", "|") {
		headerNames[n] = true
	}
}

// isHeaderLike reports whether line is a header field of the original
// message quoted in a notice, not a statement about a failure:
//
//	(?i)^\s*(to|cc|bcc|from|reply-to|sender|return-path|subject|date|message-id|in-reply-to|references|x-[a-z0-9-]+|received|delivered-to|errors-to|original sender|sender-mta|reporting-mta|remote-mta|final-recipient|original-recipient|x-actual-recipient|x-postfix-sender|received-from-mta)\s*:
//
// No name holds a colon or ends in a space, so the name is what lies
// between the leading spaces and the first colon, trailing spaces off.
func isHeaderLike(line string) bool {
	rest := strings.TrimLeft(line, reSpace)
	c := strings.IndexByte(rest, ':')
	if c <= 0 {
		return false
	}
	var buf [64]byte
	name := foldName(buf[:0], strings.TrimRight(rest[:c], reSpace))
	if headerNames[string(name)] {
		return true
	}
	if len(name) < 3 || name[0] != 'x' || name[1] != '-' {
		return false
	}
	for _, b := range name[2:] {
		if !ascii.IsAlnum(b) && b != '-' {
			return false
		}
	}
	return true
}

// senderWords: an address right after one of them is a sender's.
var senderWords = []string{"from", "sender", "return-path", "envelope-from", "reply-to", "errors-to", "f=", "by", "message-id", "msgid", "generated by"}

// senderBefore reports whether prefix, the text before an address, ends
// in words that make the address a sender's:
//
//	(?i)(from|sender|return-path|envelope-from|reply-to|errors-to|f=|by|message-id|msgid|generated by)\s*[:=]?\s*[<\[("']*\s*$
//
// Read from the end: spaces, opening brackets and quotes, spaces, an
// optional colon or equals sign, spaces, then one of the words (none ends
// in a space or a bracket; "f=" ends in the sign, so both ways are tried).
func senderBefore(prefix string) bool {
	r := strings.TrimRight(prefix, reSpace)
	r = strings.TrimRight(r, `<[("'`)
	r = strings.TrimRight(r, reSpace)
	if endsWithSenderWord(r) {
		return true
	}
	if n := len(r); n > 0 && (r[n-1] == ':' || r[n-1] == '=') {
		return endsWithSenderWord(strings.TrimRight(r[:n-1], reSpace))
	}
	return false
}

func endsWithSenderWord(s string) bool {
	// The longest word has 13 letters, each at most 3 bytes before
	// folding (the Kelvin sign): the last 39 bytes, from a rune start.
	if len(s) > 39 {
		i := len(s) - 39
		for i < len(s) && !utf8.RuneStart(s[i]) {
			i++
		}
		s = s[i:]
	}
	var buf [48]byte
	f := foldName(buf[:0], s)
	for _, w := range senderWords {
		if len(f) >= len(w) && string(f[len(f)-len(w):]) == w {
			return true
		}
	}
	return false
}
