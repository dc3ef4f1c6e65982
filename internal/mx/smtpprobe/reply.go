package smtpprobe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/smtpreply"
)

// Limits on what the probe reads, so a hostile or broken server (a 10 MB
// banner, a multi-line reply that never ends) costs a bounded amount of
// memory and time.
const (
	// MaxLineLength bounds one reply line including CRLF. RFC 5321
	// 4.5.3.1.5 sets 512 octets; real servers stay far below 4096.
	MaxLineLength = 4096
	// MaxReplyLines bounds the lines of one multi-line reply (an EHLO
	// reply has a few dozen at most).
	MaxReplyLines = 128
	// MaxSessionBytes bounds everything read from one connection.
	MaxSessionBytes = 1 << 20
)

// Protocol errors: the server broke the reply syntax of RFC 5321 4.2 or a
// limit above. They end the probe; the connection is closed without QUIT
// because its state is unknown.
var (
	ErrLineTooLong  = smtpreply.ErrLineTooLong  // a line over MaxLineLength
	ErrReplyTooLong = smtpreply.ErrTooManyLines // a reply over MaxReplyLines
	ErrTooMuchData  = errors.New("server sent more than 1 MiB")
	ErrMalformed    = smtpreply.ErrMalformed // wrapped by the two above too
)

// Reply is one SMTP reply (RFC 5321 4.2): a three-digit code and one or
// more lines of text. The text is sanitized (control characters escaped)
// and may be shown to people as is.
type Reply struct {
	Code int `json:"code"`
	// Enhanced is the RFC 3463 status code the text starts with, if any
	// (RFC 2034), e.g. "5.1.1".
	Enhanced string `json:"enhanced_code,omitempty"`
	// Lines are the text parts of each reply line, after "NNN-"/"NNN ".
	Lines []string `json:"lines"`
}

// Text is the reply text on one line, without the enhanced code prefix
// repeated on each line.
func (r *Reply) Text() string {
	if r == nil {
		return ""
	}
	parts := make([]string, 0, len(r.Lines))
	for _, l := range r.Lines {
		if r.Enhanced != "" {
			l = strings.TrimPrefix(strings.TrimPrefix(l, r.Enhanced), " ")
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, " ")
}

// String is the reply as a server would print its last line: "250 2.0.0 Ok".
func (r *Reply) String() string {
	if r == nil {
		return ""
	}
	s := fmt.Sprint(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if t := r.Text(); t != "" {
		s += " " + t
	}
	return s
}

// Positive reports a 2xx or 3xx reply.
func (r *Reply) Positive() bool { return r != nil && r.Code >= 200 && r.Code < 400 }

// Transient reports a 4xx reply (try again later).
func (r *Reply) Transient() bool { return r != nil && r.Code >= 400 && r.Code < 500 }

// Permanent reports a 5xx reply.
func (r *Reply) Permanent() bool { return r != nil && r.Code >= 500 && r.Code < 600 }

// countingReader fails once more than limit bytes were read through it.
type countingReader struct {
	r     io.Reader
	n     *int64
	limit int64
}

func (c countingReader) Read(p []byte) (int, error) {
	if *c.n >= c.limit {
		return 0, ErrTooMuchData
	}
	if rest := c.limit - *c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// limits are the reply bounds passed to the shared reader.
var limits = smtpreply.Limits{MaxLine: MaxLineLength, MaxLines: MaxReplyLines, MaxBytes: smtpreply.Default.MaxBytes}

// readReply reads one reply with the shared reader (internal/smtpreply):
// lines "NNN-text" continued until "NNN text" or "NNN" (RFC 5321 4.2.1),
// bare LF tolerated. The text is sanitized here. A connection closed in
// the middle of a reply is a protocol error (ErrMalformed) for the probe.
func readReply(br *bufio.Reader) (*Reply, error) {
	r, err := smtpreply.Read(br, limits, nil)
	rep := &Reply{Code: r.Code, Enhanced: r.Enhanced}
	for _, l := range r.Lines {
		rep.Lines = append(rep.Lines, sanitize.Line(l))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return rep, err
}
