package bounce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// contentType is what the walk needs of a Content-Type field, as
// go-message's Header.ContentType gives it: no field is text/plain; a
// value mime.ParseMediaType refuses is the media type itself, with no
// parameters; parameter values are RFC 2047-decoded (go-message's charsets: wordDecoder).
type contentType struct {
	mt         string
	boundary   string
	charset    string
	hasCharset bool
	reportType string
}

func parseContentType(v string) contentType {
	if v == "" {
		return contentType{mt: "text/plain"}
	}
	if ct, ok := parseContentTypeFast(v); ok {
		return ct
	}
	return parseContentTypeStd(v)
}

// parseContentTypeStd is parseContentType through mime.ParseMediaType.
func parseContentTypeStd(v string) contentType {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return contentType{mt: v}
	}
	ct := contentType{mt: mt, boundary: decodeParam(params["boundary"]), reportType: decodeParam(params["report-type"])}
	if cs, ok := params["charset"]; ok {
		ct.charset, ct.hasCharset = decodeParam(cs), true
	}
	return ct
}

// parseContentTypeFast is mime.ParseMediaType's reading of the usual
// field - ASCII, a few parameters, no RFC 2231 continuations, no quoted
// pairs - without its map; ok is false for anything else.
func parseContentTypeFast(v string) (contentType, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			return contentType{}, false
		}
	}
	base, _, _ := strings.Cut(v, ";")
	mt := strings.TrimSpace(strings.ToLower(base))
	if !validMediaType(mt) {
		return contentType{mt: v}, true
	}
	ct := contentType{mt: mt}
	var keys, values [8]string
	n := 0
	for rest := v[len(base):]; len(rest) > 0; {
		rest = trimLeftASCIISpace(rest)
		if rest == "" {
			break
		}
		key, value, r2, ok := consumeParam(rest)
		if !ok {
			return contentType{}, false
		}
		if key == "" {
			if strings.TrimSpace(r2) == ";" {
				break
			}
			return contentType{mt: v}, true
		}
		if strings.IndexByte(key, '*') >= 0 || n == len(keys) {
			return contentType{}, false
		}
		dup := false
		for i := 0; i < n; i++ {
			if keys[i] == key {
				if values[i] != value {
					return contentType{mt: v}, true
				}
				dup = true
			}
		}
		if !dup {
			keys[n], values[n] = key, value
			n++
		}
		rest = r2
	}
	for i := 0; i < n; i++ {
		switch keys[i] {
		case "boundary":
			ct.boundary = decodeParam(values[i])
		case "report-type":
			ct.reportType = decodeParam(values[i])
		case "charset":
			ct.charset, ct.hasCharset = decodeParam(values[i]), true
		}
	}
	return ct, true
}

// validMediaType is mime's checkMediaTypeDisposition: a token, or two
// joined by "/".
func validMediaType(s string) bool {
	typ, rest := consumeMediaToken(s)
	if typ == "" {
		return false
	}
	if rest == "" {
		return true
	}
	rest, ok := strings.CutPrefix(rest, "/")
	if !ok {
		return false
	}
	sub, rest := consumeMediaToken(rest)
	return sub != "" && rest == ""
}

func consumeMediaToken(v string) (string, string) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= 0x20 || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?=", c) >= 0 {
			return v[:i], v[i:]
		}
	}
	return v, ""
}

func trimLeftASCIISpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] >= '\t' && s[0] <= '\r') {
		s = s[1:]
	}
	return s
}

// consumeParam is mime's consumeMediaParam; ok is false for a quoted
// pair, which the fast path leaves to mime.
func consumeParam(v string) (param, value, rest string, ok bool) {
	rest = trimLeftASCIISpace(v)
	rest, found := strings.CutPrefix(rest, ";")
	if !found {
		return "", "", v, true
	}
	rest = trimLeftASCIISpace(rest)
	param, rest = consumeMediaToken(rest)
	param = strings.ToLower(param)
	if param == "" {
		return "", "", v, true
	}
	rest = trimLeftASCIISpace(rest)
	if rest, found = strings.CutPrefix(rest, "="); !found {
		return "", "", v, true
	}
	rest = trimLeftASCIISpace(rest)
	var rest2 string
	if rest != "" && rest[0] == '"' {
		value, rest2 = rest, rest
		for i := 1; i < len(rest); i++ {
			c := rest[i]
			if c == '"' {
				value, rest2 = rest[1:i], rest[i+1:]
				break
			}
			if c == '\\' {
				return "", "", v, false
			}
			if c == '\r' || c == '\n' {
				break
			}
		}
		if rest2 == rest {
			value = ""
		}
	} else {
		value, rest2 = consumeMediaToken(rest)
	}
	if value == "" && rest2 == rest {
		return "", "", v, true
	}
	return param, value, rest2, true
}

func decodeParam(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// multipartBody splits a multipart body held in memory into its parts
// exactly as go-message's textproto.MultipartReader reads them from a
// stream (through its 4 KB bufio.Reader): the same parts, the same bytes
// in each, the same errors.
type multipartBody struct {
	d   []byte
	end error // what reading past d gives: io.EOF or io.ErrUnexpectedEOF
	pos int

	partsRead int
	hasPart   bool
	partEnd   int

	nl, nlDashBoundary, dashBoundaryDash, dashBoundary []byte
}

// peekBufferSize is go-message's multipart read buffer: a line between
// parts longer than this is an error (bufio.ErrBufferFull).
const peekBufferSize = 4096

func newMultipartBody(d []byte, end error, boundary string) multipartBody {
	b := make([]byte, 0, len(boundary)+6)
	b = append(append(append(b, "\r\n--"...), boundary...), "--"...)
	return multipartBody{
		d: d, end: end,
		nl:               b[:2],
		nlDashBoundary:   b[:len(b)-2],
		dashBoundaryDash: b[2:],
		dashBoundary:     b[2 : len(b)-2],
	}
}

// next returns the next part: its header, its (undecoded) body and what
// reading past that body gives (io.EOF after a delimiter,
// io.ErrUnexpectedEOF when the data ran out first). The error is io.EOF
// after the last part. The header's fields go into buf if it is big
// enough: the previous part's, once walked.
func (m *multipartBody) next(buf []headerField) (mimeHeader, []byte, error, error) {
	if m.hasPart {
		m.pos, m.hasPart = m.partEnd, false
	}
	if string(m.dashBoundary) == "--" {
		return mimeHeader{}, nil, nil, fmt.Errorf("multipart: boundary is empty")
	}
	expectNewPart := false
	for {
		line, err := m.readSlice()
		if err == io.EOF && m.isFinalBoundary(line) {
			return mimeHeader{}, nil, nil, io.EOF
		}
		if err != nil {
			return mimeHeader{}, nil, nil, fmt.Errorf("multipart: NextPart: %v", err)
		}
		if m.isBoundaryDelimiterLine(line) {
			m.partsRead++
			h, n, err := readHeader(m.d[m.pos:], eofErr(m.end), buf)
			if err != nil {
				return mimeHeader{}, nil, nil, err
			}
			start := m.pos + n
			end, perr := m.scanPart(start)
			m.hasPart, m.partEnd = true, end
			return h, m.d[start:end], perr, nil
		}
		if m.isFinalBoundary(line) {
			return mimeHeader{}, nil, nil, io.EOF
		}
		if expectNewPart {
			return mimeHeader{}, nil, nil, fmt.Errorf("multipart: expecting a new Part; got line %q", string(line))
		}
		if m.partsRead == 0 {
			continue // the preamble
		}
		if bytes.Equal(line, m.nl) {
			expectNewPart = true
			continue
		}
		return mimeHeader{}, nil, nil, fmt.Errorf("multipart: unexpected line in Next(): %q", line)
	}
}

// readSlice is bufio.Reader.ReadSlice('\n') with a peekBufferSize buffer.
func (m *multipartBody) readSlice() ([]byte, error) {
	rest := m.d[m.pos:]
	if i := bytes.IndexByte(rest[:min(len(rest), peekBufferSize)], '\n'); i >= 0 {
		m.pos += i + 1
		return rest[:i+1], nil
	}
	if len(rest) >= peekBufferSize {
		m.pos += peekBufferSize
		return rest[:peekBufferSize], bufio.ErrBufferFull
	}
	m.pos = len(m.d)
	return rest, m.end
}

// scanPart returns where the data of the part starting at start ends, and
// how: io.EOF at a delimiter, io.ErrUnexpectedEOF at the end of the data
// (a partial delimiter at the very end is not data).
func (m *multipartBody) scanPart(start int) (int, error) {
	p, first := start, true
	for {
		n, err := scanUntilBoundary(m.d[p:], m.dashBoundary, m.nlDashBoundary, first, io.ErrUnexpectedEOF)
		p += n
		if n > 0 {
			first = false
		}
		if err != nil {
			return p, err
		}
		if n == 0 {
			return p, io.ErrUnexpectedEOF // not reached: all the data is in buf
		}
	}
}

// scanUntilBoundary is go-message's (from mime/multipart), on all the
// rest of the data at once: first is its total == 0.
func scanUntilBoundary(buf, dashBoundary, nlDashBoundary []byte, first bool, readErr error) (int, error) {
	if first {
		if bytes.HasPrefix(buf, dashBoundary) {
			switch matchAfterPrefix(buf, dashBoundary, readErr) {
			case -1:
				return len(dashBoundary), nil
			case 0:
				return 0, nil
			case +1:
				return 0, io.EOF
			}
		}
		if bytes.HasPrefix(dashBoundary, buf) {
			return 0, readErr
		}
	}
	if i := bytes.Index(buf, nlDashBoundary); i >= 0 {
		switch matchAfterPrefix(buf[i:], nlDashBoundary, readErr) {
		case -1:
			return i + len(nlDashBoundary), nil
		case 0:
			return i, nil
		case +1:
			return i, io.EOF
		}
	}
	if bytes.HasPrefix(nlDashBoundary, buf) {
		return 0, readErr
	}
	i := bytes.LastIndexByte(buf, nlDashBoundary[0])
	if i >= 0 && bytes.HasPrefix(nlDashBoundary, buf[i:]) {
		return i, nil
	}
	return len(buf), readErr
}

func matchAfterPrefix(buf, prefix []byte, readErr error) int {
	if len(buf) == len(prefix) {
		if readErr != nil {
			return +1
		}
		return 0
	}
	c := buf[len(prefix)]
	if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-' {
		return +1
	}
	return -1
}

func (m *multipartBody) isFinalBoundary(line []byte) bool {
	if !bytes.HasPrefix(line, m.dashBoundaryDash) {
		return false
	}
	rest := skipLWSP(line[len(m.dashBoundaryDash):])
	return len(rest) == 0 || bytes.Equal(rest, m.nl)
}

func (m *multipartBody) isBoundaryDelimiterLine(line []byte) bool {
	if !bytes.HasPrefix(line, m.dashBoundary) {
		return false
	}
	rest := skipLWSP(line[len(m.dashBoundary):])
	// The first delimiter line decides whether lines end in LF or CRLF.
	if m.partsRead == 0 && len(rest) == 1 && rest[0] == '\n' {
		m.nl = m.nl[1:]
		m.nlDashBoundary = m.nlDashBoundary[1:]
	}
	return bytes.Equal(rest, m.nl)
}

func skipLWSP(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// mimeScratch holds the buffers a part is decoded into. What the walk
// keeps is copied out of them (TestPooledReaderNotKept).
type mimeScratch struct {
	dec, cs, line []byte
}

var mimeScratchPool = sync.Pool{New: func() any { return new(mimeScratch) }}

func (sc *mimeScratch) release() {
	if cap(sc.dec) > 1<<20 {
		sc.dec = nil
	}
	if cap(sc.cs) > 1<<20 {
		sc.cs = nil
	}
	if cap(sc.line) > 1<<16 {
		sc.line = nil
	}
	mimeScratchPool.Put(sc)
}

// body returns the first lim bytes of an entity's body as go-message's
// Entity.Body reads: transfer-decoded unless multipart, and for text/*
// with a charset parameter converted to UTF-8; an unknown encoding or
// charset leaves the bytes as they are, a decoding error ends them. The
// bytes may be the input's or sc's. end is what reading past raw gives.
func (sc *mimeScratch) body(h *mimeHeader, ct *contentType, raw []byte, end error, lim int, st *walkState) []byte {
	data := raw
	var enc encoding.Encoding
	if strings.HasPrefix(ct.mt, "text/") && ct.hasCharset {
		enc = charsetEncoding(ct.charset)
	}
	cteLim := lim
	if enc != nil {
		cteLim = -1 // how many bytes make lim bytes of UTF-8 is not known
	}
	if !strings.HasPrefix(ct.mt, "multipart/") {
		switch cte := h.Get("Content-Transfer-Encoding"); {
		case strings.EqualFold(cte, "quoted-printable"):
			sc.dec, sc.line = decodeQP(sc.dec[:0], raw, end, cteLim, sc.line)
			data = sc.dec
		case strings.EqualFold(cte, "base64"):
			var quirk bool
			sc.dec, quirk = decodeBase64(sc.dec[:0], raw, cteLim)
			data = sc.dec
			if quirk {
				st.quirks = append(st.quirks, "base64 data after a padded quantum")
			}
		}
	}
	if enc != nil {
		sc.cs = transformLimited(enc.NewDecoder(), sc.cs[:0], data, lim)
		data = sc.cs
	}
	if len(data) > lim {
		data = data[:lim]
	}
	return data
}

// decodeQP appends to dst the decoding of quoted-printable src as
// mime/quotedprintable's Reader gives it (through its 4 KB bufio.Reader):
// line by line, trailing white space dropped, "=" at the end of a line
// joining it to the next, a "=" not followed by two hex digits kept as it
// is unless a line ends there; decoding ends at the first error (an
// unescaped control byte, a bad soft line break, a line longer than 4 KB)
// with what came before it. end is what reading past src gives; lim < 0
// is no limit. line is a scratch buffer, returned for reuse.
func decodeQP(dst, src []byte, end error, lim int, line []byte) ([]byte, []byte) {
	pos := 0
	var rerr error
	for rerr == nil && (lim < 0 || len(dst) < lim) {
		rest := src[pos:]
		var whole []byte
		if i := bytes.IndexByte(rest[:min(len(rest), peekBufferSize)], '\n'); i >= 0 {
			whole, pos = rest[:i+1], pos+i+1
		} else if len(rest) >= peekBufferSize {
			whole, pos, rerr = rest[:peekBufferSize], pos+peekBufferSize, bufio.ErrBufferFull
		} else {
			whole, pos, rerr = rest, len(src), end
		}
		hasLF := bytes.HasSuffix(whole, []byte("\n"))
		hasCR := bytes.HasSuffix(whole, []byte("\r\n"))
		l := bytes.TrimRight(whole, "\n\r \t")
		line = append(line[:0], l...)
		if bytes.HasSuffix(l, []byte("=")) {
			rightStripped := bytes.TrimLeft(whole[len(l):], " \t")
			line = line[:len(line)-1]
			if !bytes.HasPrefix(rightStripped, []byte("\n")) && !bytes.HasPrefix(rightStripped, []byte("\r\n")) &&
				!(len(rightStripped) == 0 && len(line) > 0 && rerr == io.EOF) {
				rerr = errBadQP
			}
		} else if hasLF {
			if hasCR {
				line = append(line, '\r', '\n')
			} else {
				line = append(line, '\n')
			}
		}
		for k := 0; k < len(line); k++ {
			b := line[k]
			switch {
			case b == '=':
				hb, ok := hexByte(line[k+1:])
				if !ok {
					if len(line)-k >= 2 && line[k+1] != '\r' && line[k+1] != '\n' {
						break // a literal "="
					}
					return dst, line
				}
				b = hb
				k += 2
			case b == '\t' || b == '\r' || b == '\n', b >= 0x80:
			case b < ' ' || b > '~':
				return dst, line
			}
			dst = append(dst, b)
		}
	}
	return dst, line
}

var errBadQP = errors.New("quotedprintable: invalid bytes after =")

func hexByte(v []byte) (byte, bool) {
	if len(v) < 2 {
		return 0, false
	}
	h, ok1 := unhex(v[0])
	l, ok2 := unhex(v[1])
	return h<<4 | l, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

var b64Map = func() (m [256]byte) {
	for i := range m {
		m[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = byte(i)
	}
	return m
}()

// decodeBase64 appends to dst the decoding of base64 src as go-message
// reads it (encoding/base64's stream decoder, spaces, tabs, CRs and LFs
// skipped): quantum by quantum, ending at the first quantum with a byte
// outside the alphabet (the quanta before it kept), after a padded
// quantum, or at an incomplete last quantum (dropped). quirk reports data
// after a padded quantum: the stream decoder goes on decoding it when one
// of its reads happened to end right after the padding, so go-message's
// answer there depends on read sizes (walk_ref_test.go allows it).
// lim < 0 is no limit.
func decodeBase64(dst, src []byte, lim int) (out []byte, quirk bool) {
	var q [4]byte
	n := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		q[n] = c
		n++
		if n < 4 {
			continue
		}
		n = 0
		a, b, c2, d := b64Map[q[0]], b64Map[q[1]], b64Map[q[2]], b64Map[q[3]]
		if a|b|c2|d != 0xff {
			v := uint(a)<<18 | uint(b)<<12 | uint(c2)<<6 | uint(d)
			dst = append(dst, byte(v>>16), byte(v>>8), byte(v))
			if lim >= 0 && len(dst) >= lim {
				return dst, false
			}
			continue
		}
		if a == 0xff || b == 0xff {
			return dst, false
		}
		v := uint(a)<<18 | uint(b)<<12
		switch {
		case q[2] == '=' && q[3] == '=':
			dst = append(dst, byte(v>>16))
		case c2 != 0xff && q[3] == '=':
			v |= uint(c2) << 6
			dst = append(dst, byte(v>>16), byte(v>>8))
		default:
			return dst, false
		}
		for _, c := range src[i+1:] {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return dst, true
			}
		}
		return dst, false
	}
	return dst, false
}

// transformLimited appends to dst what t makes of src, up to lim bytes,
// as reading lim bytes from transform.NewReader would: an error ends the
// output.
func transformLimited(t transform.Transformer, dst, src []byte, lim int) []byte {
	t.Reset()
	grow := func(dst []byte) []byte {
		return append(dst[:cap(dst)], make([]byte, max(4096, cap(dst)))...)[:len(dst)]
	}
	for {
		if cap(dst)-len(dst) < 256 {
			dst = grow(dst)
		}
		nDst, nSrc, err := t.Transform(dst[len(dst):cap(dst)], src, true)
		dst, src = dst[:len(dst)+nDst], src[nSrc:]
		if len(dst) >= lim {
			return dst[:lim]
		}
		switch {
		case err == transform.ErrShortDst:
			if nDst == 0 && nSrc == 0 {
				if cap(dst) > 2*lim+1<<20 {
					return dst // a transformer that never makes progress
				}
				dst = grow(dst)
			}
		case err != nil || len(src) == 0:
			return dst
		}
	}
}

// charsetQuirks is go-message's table of charsets ianaindex does not
// know (nil: disabled).
var charsetQuirks = map[string]encoding.Encoding{
	"ansi_x3.110-1983": charmap.ISO8859_1,
	"x-utf_8j":         unicode.UTF8,
}

var charsetCache sync.Map // lower-case name → encoding.Encoding

// charsetEncoding returns the decoder go-message's charset package uses
// for a charset label, or nil when the bytes are kept as they are
// (UTF-8, US-ASCII, an unknown or disabled charset).
func charsetEncoding(name string) encoding.Encoding {
	name = strings.ToLower(name)
	if name == "utf-8" || name == "us-ascii" {
		return nil
	}
	enc, _ := lookupCharset(name)
	return enc
}

// lookupCharset is go-message's charset.Reader's search for a lower-case
// charset label: its quirks table, then ianaindex (also with "cs"
// before the name), then htmlindex.
func lookupCharset(name string) (encoding.Encoding, error) {
	if e, ok := charsetCache.Load(name); ok {
		return e.(encoding.Encoding), nil
	}
	enc, ok := charsetQuirks[name]
	if ok && enc == nil {
		return nil, fmt.Errorf("charset %q: charset is disabled", name)
	}
	if !ok {
		var err error
		enc, err = ianaindex.MIME.Encoding(name)
		if enc == nil {
			enc, err = ianaindex.MIME.Encoding("cs" + name)
		}
		if enc == nil {
			enc, err = htmlindex.Get(name)
		}
		if err != nil {
			return nil, fmt.Errorf("charset %q: %v", name, err)
		}
	}
	if enc == nil {
		return nil, fmt.Errorf("charset %q: unsupported charset", name)
	}
	// Only names that resolved are kept: a finite set.
	charsetCache.Store(name, enc)
	return enc, nil
}
