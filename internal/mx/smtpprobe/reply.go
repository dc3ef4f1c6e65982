package smtpprobe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
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
	ErrLineTooLong  = errors.New("reply line longer than 4096 octets")
	ErrReplyTooLong = errors.New("multi-line reply longer than 128 lines")
	ErrTooMuchData  = errors.New("server sent more than 1 MiB")
	ErrMalformed    = errors.New("malformed SMTP reply")
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

// readReply reads one reply: lines "NNN-text" continued until "NNN text"
// or "NNN" (RFC 5321 4.2.1). Bare LF line ends are tolerated.
func readReply(br *bufio.Reader) (*Reply, error) {
	rep := &Reply{}
	var rawFirst string
	for n := 0; ; n++ {
		if n >= MaxReplyLines {
			return rep, ErrReplyTooLong
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return rep, ErrLineTooLong
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(line) > 0 || n > 0 {
					return rep, fmt.Errorf("%w: connection closed in the middle of a reply", ErrMalformed)
				}
				return rep, io.EOF
			}
			return rep, err
		}
		s := strings.TrimRight(string(line), "\r\n")
		code, more, text, ok := splitLine(s)
		if !ok {
			return rep, fmt.Errorf("%w: %q", ErrMalformed, sanitize.Line(truncate(s, 80)))
		}
		if n == 0 {
			rep.Code = code
			rawFirst = text
		} else if code != rep.Code {
			// RFC 5321 4.2.1: every line of a multi-line reply carries
			// the same code.
			return rep, fmt.Errorf("%w: code %d in a multi-line %d reply", ErrMalformed, code, rep.Code)
		}
		rep.Lines = append(rep.Lines, sanitize.Line(text))
		if !more {
			break
		}
	}
	rep.Enhanced = enhancedCode(rep.Code, rawFirst)
	return rep, nil
}

// splitLine parses "NNN-text", "NNN text" or "NNN".
func splitLine(s string) (code int, more bool, text string, ok bool) {
	if len(s) < 3 {
		return 0, false, "", false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, "", false
		}
	}
	code = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if code < 200 || code > 599 {
		return 0, false, "", false
	}
	switch {
	case len(s) == 3:
		return code, false, "", true
	case s[3] == '-':
		return code, true, s[4:], true
	case s[3] == ' ':
		return code, false, s[4:], true
	}
	return 0, false, "", false
}

// enhancedCode returns the RFC 3463 code at the start of text when its
// class matches the reply code's first digit (RFC 2034 4).
func enhancedCode(code int, text string) string {
	tok, _, _ := strings.Cut(text, " ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || tok[0]-'0' != byte(code/100) {
		return ""
	}
	for i, p := range parts {
		max := 3
		if i == 0 {
			max = 1
		}
		if p == "" || len(p) > max {
			return ""
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return ""
			}
		}
	}
	return tok
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
