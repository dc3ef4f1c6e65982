package relay

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// Reply is one SMTP reply (RFC 5321 4.2): a three-digit code, the RFC 3463
// enhanced status code when the server sent one (RFC 2034), and the text
// lines without the code prefix. Text comes off the network: use Line or
// the sanitized fields of Attempt before printing it.
type Reply struct {
	Code     int
	Enhanced string // "5.7.1", or "" when the reply has none
	Lines    []string
}

// Class is the first digit of the code: 2 positive, 3 intermediate,
// 4 transient failure, 5 permanent failure (RFC 5321 4.2.1).
func (r Reply) Class() int { return r.Code / 100 }

// Positive reports a 2yz reply.
func (r Reply) Positive() bool { return r.Class() == 2 }

// Text is the reply text with the lines joined by spaces and any enhanced
// code at the start of the first line removed, sanitized for printing.
func (r Reply) Text() string {
	lines := make([]string, len(r.Lines))
	copy(lines, r.Lines)
	if r.Enhanced != "" && len(lines) > 0 {
		lines[0] = strings.TrimSpace(strings.TrimPrefix(lines[0], r.Enhanced))
	}
	return sanitize.Line(strings.Join(lines, " "))
}

// String is the reply as a person would quote it: "550 5.7.1 Relay denied".
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if t := r.Text(); t != "" {
		s += " " + t
	}
	return s
}

// errReplySyntax is wrapped by every reply that does not follow RFC 5321
// 4.2; a server sending one is treated as broken, never as an answer.
var errReplySyntax = errors.New("malformed SMTP reply")

// parseReplyLine splits one reply line (without CRLF) into its code, the
// continuation flag and the text. RFC 5321 4.2: Reply-line = *( Reply-code
// "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF, where the
// code is three digits, the first 2-5.
func parseReplyLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%w: line too short: %q", errReplySyntax, sanitize.Line(line))
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", fmt.Errorf("%w: no reply code: %q", errReplySyntax, sanitize.Line(truncate(line, 80)))
		}
	}
	if line[0] < '2' || line[0] > '5' || line[1] > '5' {
		return 0, false, "", fmt.Errorf("%w: reply code %s out of range", errReplySyntax, line[:3])
	}
	code, _ = strconv.Atoi(line[:3])
	switch {
	case len(line) == 3:
		return code, false, "", nil
	case line[3] == '-':
		return code, true, line[4:], nil
	case line[3] == ' ':
		return code, false, line[4:], nil
	default:
		return 0, false, "", fmt.Errorf("%w: expected ' ' or '-' after the code: %q", errReplySyntax, sanitize.Line(truncate(line, 80)))
	}
}

// ParseReply parses the lines of a complete reply (each without CRLF). All
// lines must carry the same code, and only the last may lack the "-"
// continuation mark (RFC 5321 4.2.1).
func ParseReply(lines []string) (Reply, error) {
	if len(lines) == 0 {
		return Reply{}, fmt.Errorf("%w: empty", errReplySyntax)
	}
	var r Reply
	for i, l := range lines {
		code, more, text, err := parseReplyLine(l)
		if err != nil {
			return Reply{}, err
		}
		if i == 0 {
			r.Code = code
		} else if code != r.Code {
			return Reply{}, fmt.Errorf("%w: code %d in a multi-line %d reply", errReplySyntax, code, r.Code)
		}
		last := i == len(lines)-1
		if more == last {
			if last {
				return Reply{}, fmt.Errorf("%w: the last line continues", errReplySyntax)
			}
			return Reply{}, fmt.Errorf("%w: line %d ends the reply early", errReplySyntax, i+1)
		}
		r.Lines = append(r.Lines, text)
	}
	r.Enhanced = ParseEnhancedCode(r.Code, r.Lines[0])
	return r, nil
}

// ParseEnhancedCode returns the enhanced status code at the start of text
// when it is well formed and agrees with the reply code's class, else "".
// RFC 3463 2: status-code = class "." subject "." detail, class 2, 4 or 5,
// subject and detail 1-3 digits; RFC 2034 4: the enhanced code follows the
// reply code and a space, and its class matches the reply's first digit.
func ParseEnhancedCode(code int, text string) string {
	tok := text
	if i := strings.IndexAny(tok, " \t"); i >= 0 {
		tok = tok[:i]
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	if len(parts[0]) != 1 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return ""
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return ""
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return ""
			}
		}
	}
	if int(parts[0][0]-'0') != code/100 {
		return ""
	}
	return tok
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
