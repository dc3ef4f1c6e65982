// Package smtpreply reads and parses SMTP replies (RFC 5321 4.2) with
// enhanced status codes (RFC 3463, RFC 2034). It is the one reply parser
// of the SMTP probes (internal/mx/smtpprobe, internal/relay): every byte a
// server sends passes through Read, which bounds line length, lines per
// reply and bytes per reply, so a hostile server costs bounded memory.
//
// Lines come back as sent (without CRLF, not sanitized); callers sanitize
// before showing them.
package smtpreply

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// Limits bound one reply. Zero fields take the Default values.
type Limits struct {
	MaxLine  int // one line, CRLF included
	MaxLines int // lines in one multi-line reply
	MaxBytes int // all lines of one reply
}

// Default limits. RFC 5321 4.5.3.1.5 caps a reply line at 512 octets; we
// allow more for sloppy servers. An EHLO reply has a few dozen lines.
var Default = Limits{MaxLine: 4096, MaxLines: 128, MaxBytes: 64 << 10}

func (l Limits) orDefault() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = Default.MaxLine
	}
	if l.MaxLines <= 0 {
		l.MaxLines = Default.MaxLines
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = Default.MaxBytes
	}
	return l
}

// Errors. ErrMalformed is wrapped by every syntax or limit violation (a
// server sending one is broken, never answering); the limit errors are
// also matched by their own sentinel. A connection closed inside a reply
// wraps io.ErrUnexpectedEOF (not ErrMalformed); closed before the first
// byte of a reply, Read returns io.EOF itself.
var (
	ErrMalformed    = errors.New("malformed SMTP reply")
	ErrLineTooLong  = errors.New("reply line too long")
	ErrTooManyLines = errors.New("reply has too many lines")
	ErrTooLong      = errors.New("reply too long")
)

// Reply is one parsed reply: the code, the enhanced status code of the
// first line when there is one, and the text of each line after "NNN-" or
// "NNN " (raw, not sanitized).
type Reply struct {
	Code     int
	Enhanced string
	Lines    []string
}

// Read reads one complete reply from br within lim. Bare LF line ends
// are tolerated. A line longer than br's buffer is assembled up to
// lim.MaxLine, so memory stays bounded whatever the buffer size. onLine,
// when not nil, sees each raw line (without CRLF) as it is read. On error
// the Reply holds what was parsed so far (Code is 0 when nothing was).
// I/O errors (timeouts included) are returned unwrapped.
func Read(br *bufio.Reader, lim Limits, onLine func(line string)) (Reply, error) {
	lim = lim.orDefault()
	var (
		r     Reply
		total int
		acc   []byte
	)
	for {
		frag, err := br.ReadSlice('\n')
		if len(acc)+len(frag) > lim.MaxLine {
			return r, fmt.Errorf("%w: %w: longer than %d bytes", ErrMalformed, ErrLineTooLong, lim.MaxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			acc = append(acc, frag...)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(acc) == 0 && len(frag) == 0 && len(r.Lines) == 0 {
					return r, io.EOF
				}
				return r, fmt.Errorf("connection closed in the middle of a reply: %w", io.ErrUnexpectedEOF)
			}
			return r, err
		}
		raw := frag
		if acc != nil {
			raw = append(acc, frag...)
			acc = nil
		}
		total += len(raw)
		line := strings.TrimRight(string(raw), "\r\n")
		if onLine != nil {
			onLine(line)
		}
		code, more, text, perr := ParseLine(line)
		if perr != nil {
			return r, perr
		}
		if len(r.Lines) == 0 {
			r.Code = code
		} else if code != r.Code {
			// RFC 5321 4.2.1: every line of a multi-line reply carries
			// the same code.
			return r, fmt.Errorf("%w: code %d in a multi-line %d reply", ErrMalformed, code, r.Code)
		}
		r.Lines = append(r.Lines, text)
		if !more {
			break
		}
		if len(r.Lines) >= lim.MaxLines {
			return r, fmt.Errorf("%w: %w: more than %d lines", ErrMalformed, ErrTooManyLines, lim.MaxLines)
		}
		if total > lim.MaxBytes {
			return r, fmt.Errorf("%w: %w: longer than %d bytes", ErrMalformed, ErrTooLong, lim.MaxBytes)
		}
	}
	r.Enhanced = EnhancedCode(r.Code, r.Lines[0])
	return r, nil
}

// ParseLine splits one reply line (without CRLF) into its code, the
// continuation flag and the text. RFC 5321 4.2:
//
//	Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//	             Reply-code [ SP textstring ] CRLF
//	Reply-code = %x32-35 %x30-35 %x30-39
func ParseLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%w: line too short: %q", ErrMalformed, sanitize.Line(line))
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", fmt.Errorf("%w: no reply code: %q", ErrMalformed, sanitize.Line(sanitize.Truncate(line, 80)))
		}
	}
	if line[0] < '2' || line[0] > '5' || line[1] > '5' {
		return 0, false, "", fmt.Errorf("%w: reply code %s out of range", ErrMalformed, line[:3])
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	switch {
	case len(line) == 3:
		return code, false, "", nil
	case line[3] == '-':
		return code, true, line[4:], nil
	case line[3] == ' ':
		return code, false, line[4:], nil
	}
	return 0, false, "", fmt.Errorf("%w: expected ' ' or '-' after the code: %q", ErrMalformed, sanitize.Line(sanitize.Truncate(line, 80)))
}

// Parse parses the lines of a complete reply (each without CRLF). All
// lines carry the same code, and only the last lacks the "-" continuation
// mark (RFC 5321 4.2.1).
func Parse(lines []string) (Reply, error) {
	if len(lines) == 0 {
		return Reply{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	var r Reply
	for i, l := range lines {
		code, more, text, err := ParseLine(l)
		if err != nil {
			return Reply{}, err
		}
		if i == 0 {
			r.Code = code
		} else if code != r.Code {
			return Reply{}, fmt.Errorf("%w: code %d in a multi-line %d reply", ErrMalformed, code, r.Code)
		}
		last := i == len(lines)-1
		if more == last {
			if last {
				return Reply{}, fmt.Errorf("%w: the last line continues", ErrMalformed)
			}
			return Reply{}, fmt.Errorf("%w: line %d ends the reply early", ErrMalformed, i+1)
		}
		r.Lines = append(r.Lines, text)
	}
	r.Enhanced = EnhancedCode(r.Code, r.Lines[0])
	return r, nil
}

// EnhancedCode returns the enhanced status code at the start of text when
// it is well formed and agrees with the reply code's class, else "".
// RFC 3463 2: status-code = class "." subject "." detail, class 2, 4 or 5,
// subject and detail 1-3 digits; RFC 2034 4: the enhanced code follows the
// reply code and a space, and its class matches the reply's first digit.
func EnhancedCode(code int, text string) string {
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
