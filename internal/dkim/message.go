package dkim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strings"
	"sync"
)

// MaxMessageSize bounds what ReadMessage accepts: 50 MB, above any
// provider's message size limit.
const MaxMessageSize = 50 << 20

// ErrTooLarge is returned by ReadMessage for input above the limit.
var ErrTooLarge = errors.New("message too large")

// ReadMessage reads one RFC 5322 message from r, at most max bytes
// (MaxMessageSize when max <= 0). An mbox "From " separator line in front
// is dropped.
func ReadMessage(r io.Reader, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxMessageSize
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d MB; deliverdoctor reads at most %d MB", ErrTooLarge, max>>20, max>>20)
	}
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("the message is empty")
	}
	return b, nil
}

// Field is one header field of a message, as DKIM verifiers split them.
type Field struct {
	Name  string // as written, trimmed ("" for a line without a colon)
	Value string // unfolded and trimmed
	Raw   string // the field as it appears, continuation lines included
}

// SplitHeader splits a message into header fields (top first) and body the
// way RFC 5322 2.2 and go-msgauth do: a line starting with space or tab
// continues the previous field; an empty line ends the header. complete is
// false when no empty line was found (the message is all header).
func SplitHeader(msg []byte) (fields []Field, body []byte, complete bool) {
	rest := msg
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, next = rest[:i+1], rest[i+1:]
		}
		content := bytes.TrimRight(line, "\r\n")
		if len(content) == 0 {
			return fields, next, true
		}
		if (content[0] == ' ' || content[0] == '\t') && len(fields) > 0 {
			f := &fields[len(fields)-1]
			f.Raw += string(line)
			f.Value = strings.TrimSpace(f.Value + string(content))
		} else {
			f := Field{Raw: string(line)}
			if name, value, ok := strings.Cut(string(content), ":"); ok {
				f.Name, f.Value = strings.TrimSpace(name), strings.TrimSpace(value)
			} else {
				f.Value = string(content)
			}
			fields = append(fields, f)
		}
		rest = next
	}
	return fields, nil, false
}

// Values returns the values of the fields named name (case-insensitive),
// top first.
func Values(fields []Field, name string) []string {
	var out []string
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

var fromDomainRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`@([A-Za-z0-9._-]+)\s*>?\s*$`) })

// AuthorDomain returns the domain of the RFC5322.From address (the
// author, RFC 7489 3.1.1) in lower case. A From that net/mail cannot parse
// falls back to the last "@domain" in it.
func AuthorDomain(from string) (string, error) {
	addrs, err := mail.ParseAddressList(from)
	if err == nil && len(addrs) > 0 {
		if len(addrs) > 1 {
			return "", fmt.Errorf("the From field has %d addresses; receivers refuse or cannot authenticate such mail", len(addrs))
		}
		_, dom, ok := strings.Cut(addrs[0].Address, "@")
		if ok && dom != "" {
			return strings.ToLower(strings.TrimSuffix(dom, ".")), nil
		}
	}
	if m := fromDomainRe().FindStringSubmatch(from); m != nil {
		return strings.ToLower(strings.TrimSuffix(m[1], ".")), nil
	}
	if err == nil {
		err = errors.New("no address")
	}
	return "", fmt.Errorf("cannot find the author's domain in From: %v", err)
}
