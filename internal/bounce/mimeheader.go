package bounce

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// mimeHeader is a message's or a MIME part's header: its fields in the
// order go-message's textproto.Header keeps them, so that Get and Values
// answer as they did when the walk was go-message's. A header read from a
// message (readHeader) holds its fields last first, as textproto.ReadHeader
// does; Add appends. Get returns the value of the last matching field of
// that list (for a read header: the first field of that name in the
// message), Values all of them from the end of the list (for a read header:
// in message order). Names match as textproto's canonical keys do: ASCII
// case-insensitively, and a field name with a byte that is not a token
// character matches no name.
type mimeHeader struct {
	l []headerField
}

// headerField is one field. A folded field's value is built when it is
// asked for (most folded fields, Received and signatures, never are):
// value then holds its text from after the colon to the end of its last
// line, and fold says how its lines are joined.
type headerField struct {
	key, value string
	fold       foldKind
}

type foldKind uint8

const (
	notFolded     foldKind = iota
	foldTextproto          // readHeader's: each line trimmed of spaces and tabs, empty ones dropped
	foldLenient            // lenientScan's: continuation lines trimmed, the whole trimmed
)

// val returns the field's value.
func (f *headerField) val() string {
	switch f.fold {
	case foldTextproto:
		first, next := nextLine(f.value, 0)
		return fieldValue(first, f.value[next:])
	case foldLenient:
		return lenientValue(f.value)
	}
	return f.value
}

// lenientValue joins a field's lines as lenientScan did: the first (its
// text after the colon) as it is, each further line trimmed, with a space
// between, and the whole trimmed.
func lenientValue(raw string) string {
	var sb strings.Builder
	sb.Grow(len(raw))
	for pos, first := 0, true; pos < len(raw); first = false {
		var l string
		if i := strings.IndexByte(raw[pos:], '\n'); i >= 0 {
			l, pos = raw[pos:pos+i], pos+i+1
		} else {
			l, pos = raw[pos:], len(raw)
		}
		l = strings.TrimRight(l, "\r")
		if first {
			sb.WriteString(l)
			continue
		}
		sb.WriteByte(' ')
		sb.WriteString(strings.TrimSpace(l))
	}
	return strings.TrimSpace(sb.String())
}

// Len is the number of fields.
func (h *mimeHeader) Len() int { return len(h.l) }

// Add appends a field.
func (h *mimeHeader) Add(k, v string) { h.l = append(h.l, headerField{key: k, value: v}) }

// Get returns the value of field k, or "".
func (h *mimeHeader) Get(k string) string {
	for i := len(h.l) - 1; i >= 0; i-- {
		if keyIs(h.l[i].key, k) {
			return h.l[i].val()
		}
	}
	return ""
}

// Values returns the values of every field k.
func (h *mimeHeader) Values(k string) []string {
	var out []string
	for i := len(h.l) - 1; i >= 0; i-- {
		if keyIs(h.l[i].key, k) {
			out = append(out, h.l[i].val())
		}
	}
	return out
}

// keyIs reports whether field name f is name k (a token): the two have
// the same canonical form (net/textproto.CanonicalMIMEHeaderKey).
func keyIs(f, k string) bool {
	if len(f) != len(k) {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !isHeaderTokenByte(c) {
			return false
		}
		if lowerASCII(c) != lowerASCII(k[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isHeaderTokenByte is net/textproto's validHeaderFieldByte: an RFC 7230
// token character.
func isHeaderTokenByte(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// nextLine returns the line of b starting at pos without its "\n" or
// "\r\n" (bufio.Reader.ReadLine's line), and the offset after it. A last
// line without a newline is a line.
func nextLine[T string | []byte](b T, pos int) (T, int) {
	rest := b[pos:]
	i := indexNewline(rest)
	if i < 0 {
		return rest, len(b)
	}
	line := rest[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, pos + i + 1
}

// headerEnd returns the offset in b of the blank line that ends the
// header block starting at b[0], or len(b).
func headerEnd(b []byte) int {
	for pos := 0; pos < len(b); {
		if b[pos] == '\n' || b[pos] == '\r' && pos+1 < len(b) && b[pos+1] == '\n' {
			return pos
		}
		i := indexNewline(b[pos:])
		if i < 0 {
			return len(b)
		}
		pos += i + 1
	}
	return len(b)
}

// readHeader reads the header block at the start of b as go-message's
// textproto.ReadHeader reads it from a stream, with the same fields and
// the same errors. end is what reading past b gives: nil for io.EOF,
// else the error (io.ErrUnexpectedEOF, errHeaderTooBig), which a header
// that runs to the end of b returns. It returns the header and the
// offset of the body (after the blank line). Names and values are copies:
// nothing returned refers to b. The fields go into buf when it is big
// enough (a header no longer used).
func readHeader(b []byte, end error, buf []headerField) (mimeHeader, int, error) {
	var h mimeHeader
	if len(b) > 0 && isWSP(b[0]) {
		line, pos := nextLine(b, 0)
		return h, pos, fmt.Errorf("message: malformed MIME header initial line: %v", string(line))
	}
	e := headerEnd(b)
	// One copy of the block; names and values are parts of it.
	block := string(b[:e])
	n := 1 // fields: lines that do not continue the one before
	for i := 0; i < len(block)-1; i++ {
		if block[i] == '\n' && !isWSP(block[i+1]) {
			n++
		}
	}
	if cap(buf) >= min(n, 64) {
		h.l = buf[:0]
	} else {
		h.l = make([]headerField, 0, min(n, 64))
	}
	pos := 0
	for {
		if pos >= len(block) {
			if e < len(b) {
				// The blank line.
				_, pos = nextLine(b, pos)
				h.reverse()
				return h, pos, nil
			}
			h.reverse()
			return h, pos, end
		}
		start := pos
		first, next := nextLine(block, pos)
		pos = next
		// Continuation lines.
		for pos < len(block) && isWSP(block[pos]) {
			_, pos = nextLine(block, pos)
		}
		i := strings.IndexByte(first, ':')
		if i < 0 {
			// ReadHeader looks for the colon in the whole field, its lines
			// joined with CRLF; the error quotes that.
			kv := joinedField(block[start:min(pos, len(block))])
			j := strings.IndexByte(kv, ':')
			if j < 0 {
				h.reverse()
				return h, pos, fmt.Errorf("message: malformed MIME header line: %v", kv)
			}
			key := trimWSP(kv[:j])
			h.reverse()
			// The name spans a line break: CR is not a name byte.
			return h, pos, fmt.Errorf("message: malformed MIME header key: %v", key)
		}
		key := trimWSP(first[:i])
		for j := 0; j < len(key); j++ {
			if c := key[j]; c < 33 || c > 126 || c == ':' {
				h.reverse()
				return h, pos, fmt.Errorf("message: malformed MIME header key: %v", key)
			}
		}
		if key == "" {
			continue
		}
		if next >= pos {
			h.l = append(h.l, headerField{key: key, value: trimWSP(first[i+1:])})
		} else {
			vstart := start + i + 1
			h.l = append(h.l, headerField{key: key, value: block[vstart:pos], fold: foldTextproto})
		}
	}
}

// joinedField is a field's lines each ended with CRLF, as ReadHeader
// holds them.
func joinedField(s string) string {
	var sb strings.Builder
	for pos := 0; pos < len(s); {
		var l string
		l, pos = nextLine(s, pos)
		sb.WriteString(l)
		sb.WriteString("\r\n")
	}
	return sb.String()
}

// fieldValue is textproto's value of a field: the rest of its first line
// and its continuation lines, each trimmed of spaces and tabs, the empty
// ones left out, joined with a space.
func fieldValue(first, cont string) string {
	v := trimWSP(first)
	if cont == "" {
		return v
	}
	var sb strings.Builder
	sb.Grow(len(first) + len(cont))
	sb.WriteString(v)
	for pos := 0; pos < len(cont); {
		var l string
		l, pos = nextLine(cont, pos)
		l = trimWSP(l)
		if l == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(l)
	}
	return sb.String()
}

func trimWSP(s string) string {
	i, j := 0, len(s)
	for i < j && isWSP(s[i]) {
		i++
	}
	for j > i && isWSP(s[j-1]) {
		j--
	}
	return s[i:j]
}

func (h *mimeHeader) reverse() {
	for i, j := 0, len(h.l)-1; i < j; i, j = i+1, j-1 {
		h.l[i], h.l[j] = h.l[j], h.l[i]
	}
}

// readTopHeader reads a message's header as msgReader did: at most
// maxHeaderRead bytes of it.
func readTopHeader(raw []byte) (mimeHeader, []byte, error) {
	view, end := raw, error(nil)
	if len(raw) >= maxHeaderRead {
		view, end = raw[:maxHeaderRead], errHeaderTooBig
	}
	h, n, err := readHeader(view, end, nil)
	if err != nil {
		return h, nil, err
	}
	return h, raw[n:], nil
}

var errHeaderTooBig = errors.New("message: header exceeds maximum size")

// eofErr is what a header or part that runs to the end of its data
// returns: nil for a clean io.EOF.
func eofErr(end error) error {
	if end == io.EOF {
		return nil
	}
	return end
}
