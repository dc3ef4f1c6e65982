package relay

import (
	"strconv"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/smtpreply"
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
var errReplySyntax = smtpreply.ErrMalformed

// ParseReply parses the lines of a complete reply (each without CRLF). All
// lines must carry the same code, and only the last may lack the "-"
// continuation mark (RFC 5321 4.2.1). The parsing is internal/smtpreply's.
func ParseReply(lines []string) (Reply, error) {
	r, err := smtpreply.Parse(lines)
	if err != nil {
		return Reply{}, err
	}
	return Reply(r), nil
}

// ParseEnhancedCode returns the enhanced status code at the start of text
// when it is well formed and agrees with the reply code's class, else ""
// (RFC 3463 2, RFC 2034 4; see smtpreply.EnhancedCode).
func ParseEnhancedCode(code int, text string) string { return smtpreply.EnhancedCode(code, text) }
