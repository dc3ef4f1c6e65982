package bounce

import (
	"errors"
	"strings"
	"unsafe"
)

// Reply is an SMTP reply as a receiving server sent it: the basic reply code
// (RFC 5321 4.2), the enhanced status code that follows it when the server
// supports ENHANCEDSTATUSCODES (RFC 2034 3), and the text.
type Reply struct {
	Code     int    `json:"reply_code,omitempty"` // 550; 0 when the reply has none
	Enhanced Code   `json:"-"`                    // 5.7.26; zero when absent
	Text     string `json:"text"`                 // the text of all lines, codes removed, on one line
}

// ErrNoReply is returned by ParseReply for text without a reply code or
// enhanced status code.
var ErrNoReply = errors.New("no SMTP reply code or enhanced status code found")

// maxReplyLen bounds the text kept from a reply.
const maxReplyLen = 4096

// ParseReply parses an SMTP reply as a user would paste it: "550 5.7.26
// Unauthenticated email ...", the multi-line form of RFC 5321 4.2.1
// ("550-5.7.26 first line" ... "550 5.7.26 last line"), the same lines
// unfolded into one (as in a DSN Diagnostic-Code), a diagnostic with its
// type ("smtp; 550 5.1.1 ..."), or an enhanced code alone ("5.1.1 User
// unknown", "#5.1.1").
func ParseReply(s string) (*Reply, error) {
	if len(s) > 64*1024 {
		s = s[:64*1024]
	}
	s = strings.TrimSpace(s)
	// A DSN diagnostic type prefix (RFC 3464 2.3.6): "smtp; 550 ...".
	if i := strings.IndexByte(s, ';'); i > 0 && i < 12 && isToken(s[:i]) {
		s = strings.TrimSpace(s[i+1:])
	}
	var r Reply // on the heap only when there is one
	rest := s
	if n, ok := replyCodeAt(rest, 0); ok {
		r.Code = n
		rest = rest[3:]
		rest = strings.TrimLeft(rest, " -:,\t")
		// "554 554 5.7.1": a relaying MTA quoting the code twice.
		if m, ok := replyCodeAt(rest, 0); ok && m == n {
			rest = strings.TrimLeft(rest[3:], " -:,\t")
		}
	}
	if c, n := enhancedAt(strings.TrimLeft(rest, "#('\""), 0); n > 0 {
		r.Enhanced = c
		rest = strings.TrimLeft(rest, "#('\"")[n:]
		rest = strings.TrimPrefix(rest, ")")
	}
	if r.Code == 0 && r.Enhanced.IsZero() {
		return nil, ErrNoReply
	}
	r.Text = cleanReplyText(rest, r.Code, r.Enhanced)
	return &r, nil
}

// cleanReplyText joins continuation lines and removes the repeated
// "550-5.7.26" prefixes RFC 5321 4.2.1 puts on each line. It walks the
// words in place (nextField: strings.Fields's words, without the slice).
func cleanReplyText(s string, code int, enh Code) string {
	var b strings.Builder
	var pbuf [3]byte
	prefix := ""
	if code != 0 {
		pbuf = [3]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)} // itoa3
		prefix = unsafe.String(&pbuf[0], 3)                                               // compared only
	}
	es := ""
	if !enh.IsZero() {
		es = enh.String()
	}
	prev := "" // the word before w (words are never empty)
	start, end := nextField(s, 0)
	for start < len(s) {
		w := s[start:end]
		nstart, nend := nextField(s, end)
		if prefix != "" && (w == prefix || len(w) > 3 && w[:3] == prefix && w[3] == '-') {
			// "550-5.7.26" or "550" followed by "5.7.26"
			if w == prefix && nstart < len(s) && es != "" && s[nstart:nend] == es {
				w = s[nstart:nend]
				nstart, nend = nextField(s, nend)
			}
			prev, start, end = w, nstart, nend
			continue
		}
		if es != "" && w == es && prev != "" && (prev == prefix || len(prev) > len(es) && prev[len(prev)-len(es)-1] == '-' && strings.HasSuffix(prev, es)) {
			prev, start, end = w, nstart, nend
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		if b.Len() > maxReplyLen {
			break
		}
		prev, start, end = w, nstart, nend
	}
	return b.String()
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c >= 0x80
}

// replyCodeAt reports a basic reply code (RFC 5321 4.2: first digit 2-5,
// second 0-5) starting at s[i], standing alone: not part of a longer
// number, an IP address or a word.
func replyCodeAt(s string, i int) (int, bool) {
	if i+3 > len(s) {
		return 0, false
	}
	a, b, c := s[i], s[i+1], s[i+2]
	if a < '2' || a > '5' || b < '0' || b > '5' || !isDigit(c) {
		return 0, false
	}
	if i > 0 && isWordByte(s[i-1]) {
		return 0, false
	}
	if i+3 < len(s) {
		switch s[i+3] {
		case ' ', '-', '\t', '\r', '\n', ':', ',', '\'', '"', '>', ')':
		default:
			return 0, false
		}
		// "550-" must continue with something, not "550-2024".
		if s[i+3] == '-' && i+4 < len(s) && isDigit(s[i+4]) && !(i+5 < len(s) && s[i+5] == '.') {
			return 0, false
		}
	}
	return int(a-'0')*100 + int(b-'0')*10 + int(c-'0'), true
}

// enhancedAt reports an enhanced status code at s[i] and its length: class
// 2, 4 or 5, then 1-3 digits, a dot, 1-3 digits, standing alone (not part
// of an IP address or a version number like 4.16.55.1).
func enhancedAt(s string, i int) (Code, int) {
	if i >= len(s) || (s[i] != '2' && s[i] != '4' && s[i] != '5') {
		return Code{}, 0
	}
	if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.' || (s[i-1] >= 'a' && s[i-1] <= 'z') || (s[i-1] >= 'A' && s[i-1] <= 'Z')) {
		return Code{}, 0
	}
	j := i + 1
	if j >= len(s) || s[j] != '.' {
		return Code{}, 0
	}
	j++
	var parts [2]int
	for p := 0; p < 2; p++ {
		start := j
		for j < len(s) && isDigit(s[j]) && j-start < 4 {
			j++
		}
		n := j - start
		if n == 0 || n > 3 {
			return Code{}, 0
		}
		v := 0
		for _, d := range s[start:j] {
			v = v*10 + int(d-'0')
		}
		parts[p] = v
		if p == 0 {
			if j >= len(s) || s[j] != '.' {
				return Code{}, 0
			}
			j++
		}
	}
	if j < len(s) {
		c := s[j]
		if isDigit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			return Code{}, 0
		}
		if c == '.' && j+1 < len(s) && isDigit(s[j+1]) {
			return Code{}, 0
		}
	}
	return Code{int(s[i] - '0'), parts[0], parts[1]}, j - i
}

// FindReply looks for a failure reply (4xx/5xx) inside free text, such as a
// bounce's "host mx.example.com[192.0.2.1] said: 550 5.1.1 <bob@example.com>:
// Recipient address rejected" or "(#5.1.1)". It returns the reply that
// starts at the first failure reply code (with the enhanced code that
// follows it, or else the first enhanced code in the text), or one built
// from an enhanced code alone. ok is false when the text has neither.
func FindReply(text string) (r *Reply, ok bool) {
	if len(text) > 64*1024 {
		text = text[:64*1024]
	}
	replyAt, enhAt := -1, -1
	var enh Code
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '4' && c != '5' && c != '2' {
			continue
		}
		if replyAt < 0 && c != '2' {
			if _, ok := replyCodeAt(text, i); ok && !looksLikeNumberList(text, i) {
				replyAt = i
			}
		}
		if enhAt < 0 || (replyAt >= 0 && enhAt < replyAt && !strings.Contains(text[enhAt:replyAt], " ")) {
			if e, n := enhancedAt(text, i); n > 0 && e.Class != 2 && !e.madeUp() && enhAt < 0 {
				enhAt, enh = i, e
				i += n - 1
			}
		}
		if replyAt >= 0 && enhAt >= 0 {
			break
		}
	}
	if replyAt < 0 && enhAt < 0 {
		return nil, false
	}
	start := replyAt
	if start < 0 {
		start = enhAt
	}
	seg := text[start:]
	if i := strings.Index(seg, "\n\n"); i > 0 {
		seg = seg[:i]
	}
	if len(seg) > maxReplyLen {
		seg = seg[:maxReplyLen]
	}
	r, err := ParseReply(seg)
	if err != nil {
		return nil, false
	}
	// An enhanced code elsewhere in the text belongs to this reply if it
	// comes before it ("5.1.0 - Unknown address error 550 ...") or on the
	// same line ("552 sorry, mailbox is over quota (#5.1.1)").
	sameLine := replyAt < 0 || enhAt < replyAt || !strings.Contains(text[replyAt:enhAt], "\n")
	if r.Enhanced.IsZero() && enhAt >= 0 && sameLine && (replyAt < 0 || enh.Class == r.Code/100) {
		r.Enhanced = enh
	}
	return r, true
}

// looksLikeNumberList rejects "421, , Host" style fragments only when they
// are clearly not replies: a code immediately followed by another number
// ("450 451 452 codes"). Kept deliberately small.
func looksLikeNumberList(s string, i int) bool {
	j := i + 3
	for j < len(s) && (s[j] == ' ' || s[j] == ',') {
		j++
	}
	if _, ok := replyCodeAt(s, j); ok && j > i+3 && s[i:i+3] != s[j:j+3] {
		return true
	}
	return false
}
