package bounce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"golang.org/x/text/transform"
)

// Limits that keep hostile MIME from costing more than a bounce should.
const (
	maxDepth      = 12      // nesting of multiparts
	maxParts      = 200     // parts walked per message
	maxPartRead   = 1 << 20 // bytes read from one text part (the notice: maxNotice in all)
	maxHeaderRead = 256 << 10
	maxNotice     = 1 << 20 // total notice text kept: bounce notices are short
)

// Parse reads one bounce - a message (RFC 3464 DSN or a non-standard
// bounce), an Amazon SES JSON notification, or a pasted SMTP reply - and
// classifies every recipient it reports on. Of input over DefaultMaxSize
// the first DefaultMaxSize bytes are read (see ParseInput).
func Parse(r io.Reader) (*Bounce, error) { return ParseLimit(r, DefaultMaxSize) }

// ParseLimit is Parse with a size limit in bytes.
func ParseLimit(r io.Reader, max int64) (*Bounce, error) {
	var in Input
	err := readOne("", r, max, func(i Input) error { in = i; return nil })
	if err != nil {
		return nil, err
	}
	return ParseInput(in)
}

// ParseInput parses a message ReadPaths read. A truncated message (over
// the size limit: a bounce with a huge attachment or returned message) is
// parsed from its first part, where the header, the notice and the
// delivery report are, with a note; when that part holds no bounce data
// the error wraps ErrTooLarge. A parser defect is an error wrapping
// ErrParser.
func ParseInput(in Input) (*Bounce, error) {
	if in.Err != nil {
		return nil, in.Err
	}
	b, err := ParseMessage(in.Data)
	if err != nil {
		return nil, err
	}
	if in.Truncated {
		if b.Kind == KindUnknown {
			return nil, fmt.Errorf("%w: %d bytes, and no bounce data in its first %d", ErrTooLarge, in.Size, len(in.Data))
		}
		b.Truncated = true
		b.Notes = append(b.Notes, fmt.Sprintf("the message is %d bytes, over the limit: only its first %d bytes were read (the header, the notice and the delivery report come before the returned message)", in.Size, len(in.Data)))
	}
	return b, nil
}

// ErrParser reports a defect of the parser met on one message (a panic
// recovered): the message is reported as unreadable, the run goes on.
var ErrParser = errors.New("internal parser error")

// ParseMessage is Parse for a message already in memory. A panic while
// parsing is recovered and returned as an error wrapping ErrParser, so
// that one hostile message never ends a run over a whole mailbox.
func ParseMessage(raw []byte) (b *Bounce, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%w: %v", ErrParser, r)
		}
	}()
	if parseHook != nil {
		parseHook()
	}
	return parseBytes(raw), nil
}

// parseHook lets a test make the parser fail.
var parseHook func()

// ParseBytes is Parse for a message already in memory. It never panics:
// a parser defect gives a Bounce of KindUnknown with the error in Notes
// (ParseMessage returns it as an error instead).
func ParseBytes(raw []byte) *Bounce {
	b, err := ParseMessage(raw)
	if err != nil {
		return &Bounce{Kind: KindUnknown, Failures: []Failure{}, Notes: []string{err.Error()}}
	}
	return b
}

func parseBytes(raw []byte) *Bounce {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return &Bounce{Kind: KindUnknown, Notes: []string{"empty input"}, Failures: []Failure{}}
	}
	if t[0] == '{' {
		if b := parseSESJSON(t); b != nil {
			return b
		}
	}
	if looksLikeReply(t) {
		if b := ParseReplyBounce(string(t)); b != nil {
			return b
		}
	}
	return parseMessage(raw)
}

// looksLikeReply reports input that starts with an SMTP reply rather than a
// header field.
func looksLikeReply(t []byte) bool {
	line := t
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.TrimSpace(string(line))
	if _, err := ParseReply(s); err != nil {
		return false
	}
	name, _, ok := strings.Cut(s, ":")
	return !ok || !isToken(name)
}

// ParseReplyBounce makes a bounce of a pasted SMTP reply (one line or the
// multi-line form). The failure is an SMTP reject by definition: the
// client that pasted it got the reply in its session.
func ParseReplyBounce(s string) *Bounce {
	r, err := ParseReply(s)
	if err != nil {
		return nil
	}
	b := &Bounce{Kind: KindReply}
	f := Failure{DSNAction: "failed", ReplyCode: r.Code, Diagnostic: r.Text}
	if !r.Enhanced.IsZero() {
		f.Status = r.Enhanced.String()
	}
	if r.Code/100 == 4 || r.Enhanced.Transient() {
		f.DSNAction = "delayed"
	}
	if m := findAddr(r.Text); m != "" {
		f.Recipient = m
	}
	f.context = strings.TrimSpace(s)
	b.SenderIP = findSenderIP(s)
	b.Failures = []Failure{f}
	classifyAll(b)
	for i := range b.Failures {
		b.Failures[i].Origin = OriginSMTPReject
	}
	return b
}

// walkState collects what the MIME walk finds.
type walkState struct {
	parts    int
	texts    []string
	htmls    []string
	dsns     []*DSN
	orig     mimeHeader
	hasOrig  bool
	feedback bool
	jsons    [][]byte
	notes    []string
	noticeN  int
	// truncated: a limit left part of the message unread.
	truncated bool
	// quirks: input on which go-message's walk (which this one replaced)
	// answered differently, by design (see decodeBase64); only the
	// equivalence test reads it.
	quirks []string
}

func parseMessage(raw []byte) *Bounce {
	raw = skipFromLine(raw)
	top, ct, st, err := walkMessage(raw)
	if strings.EqualFold(ct.reportType, "feedback-report") {
		st.feedback = true
	}
	return bounceFromWalk(raw, &top, ct.mt, st, err)
}

// skipFromLine drops an mbox "From " separator line before the header.
func skipFromLine(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
	}
	return raw
}

// bounceFromWalk builds the Bounce of raw from what the MIME walk found:
// its top header hdr, content type mt and state st, and walkErr, the
// header's error (then read leniently). When the MIME structure hid the
// text (a broken part header, a missing closing boundary), the whole body
// is read again as text. The equivalence test's reference walk ends the
// same way.
func bounceFromWalk(raw []byte, hdr *mimeHeader, mt string, st *walkState, walkErr error) *Bounce {
	b := &Bounce{Failures: []Failure{}}
	if walkErr != nil {
		b.note("the message header is malformed (%v); read it leniently", oneLine(walkErr))
	}
	b.Subject = headerText(hdr, "Subject")
	b.Date = hdr.Get("Date")
	b.Notes = append(b.Notes, st.notes...)
	b.Truncated = st.truncated
	buildBounce(b, hdr, mt, st)
	if b.Kind == KindUnknown && walkErr == nil {
		_, body := lenientSplit(raw)
		st2 := &walkState{orig: st.orig, hasOrig: st.hasOrig, dsns: st.dsns}
		st2.addText(string(body))
		b2 := &Bounce{Subject: b.Subject, Date: b.Date, Failures: []Failure{}}
		buildBounce(b2, hdr, mt, st2)
		if b2.Kind != KindUnknown {
			b2.note("the MIME structure is broken; the body was read as plain text")
			*b = *b2
		}
	}
	return b
}

// walkMessage reads a message's header and walks its MIME structure. A
// header go-message refused (err) is read leniently, and the rest of the
// message as text.
func walkMessage(raw []byte) (mimeHeader, contentType, *walkState, error) {
	st := &walkState{}
	top, body, err := readTopHeader(raw)
	if err != nil {
		h, body := lenientSplit(raw)
		st.addText(string(body))
		return h, parseContentType(h.Get("Content-Type")), st, err
	}
	ct := parseContentType(top.Get("Content-Type"))
	sc := mimeScratchPool.Get().(*mimeScratch)
	st.walk(sc, top, ct, body, io.EOF, 0)
	sc.release()
	return top, ct, st, nil
}

func indexNewline[T string | []byte](s T) int {
	switch s := any(s).(type) {
	case string:
		return strings.IndexByte(s, '\n')
	case []byte:
		return bytes.IndexByte(s, '\n')
	}
	return -1 // not reached: T is one of the two
}

func (st *walkState) addText(s string) {
	s = decodeISO2022JP(s) // a part whose charset label is missing or wrong
	if st.noticeN+len(s) > maxNotice {
		if st.noticeN < maxNotice {
			st.notes = append(st.notes, fmt.Sprintf("the bounce text is longer than %d KB; only its first %d KB were read, recipients named after that are not reported", maxNotice>>10, maxNotice>>10))
			st.truncated = true
		}
		s = s[:max(0, maxNotice-st.noticeN)]
	}
	st.noticeN += len(s)
	st.texts = append(st.texts, s)
}

// walk reads one MIME entity - its header h and Content-Type ct, its
// undecoded body, and what reading past the body gives (io.EOF, or
// io.ErrUnexpectedEOF for a part whose closing delimiter is missing) - as
// go-message's Entity and MultipartReader read it (mime*.go; the
// equivalence with them is tested in walk_ref_test.go). What it keeps is
// copied: nothing refers to the input or to sc.
func (st *walkState) walk(sc *mimeScratch, h mimeHeader, ct contentType, body []byte, end error, depth int) {
	st.parts++
	if st.parts > maxParts {
		if st.parts == maxParts+1 {
			st.notes = append(st.notes, fmt.Sprintf("more than %d MIME parts; the rest was not read", maxParts))
			st.truncated = true
		}
		return
	}
	if depth > maxDepth {
		st.notes = append(st.notes, fmt.Sprintf("MIME nesting deeper than %d; not read further", maxDepth))
		return
	}
	mt := ct.mt
	if strings.HasPrefix(mt, "multipart/") && ct.boundary != "" {
		if strings.EqualFold(ct.reportType, "feedback-report") {
			st.feedback = true
		}
		if len(ct.boundary) > peekBufferSize-8 {
			// go-message's reader could not hold a delimiter in its
			// buffer and failed on the part; this walk reads it.
			st.quirks = append(st.quirks, "boundary longer than go-message's read buffer")
		}
		mr := newMultipartBody(body, end, ct.boundary)
		var fields []headerField // the previous part's header, reused
		for {
			ph, pbody, pend, err := mr.next(fields)
			if err == io.EOF {
				break
			}
			if err != nil {
				if !strings.Contains(err.Error(), "EOF") {
					st.notes = append(st.notes, "a MIME part could not be read: "+oneLine(err))
				}
				break
			}
			pct := parseContentType(ph.Get("Content-Type"))
			st.walk(sc, ph, pct, pbody, pend, depth+1)
			fields = ph.l // nothing kept refers to the slice (names and values are strings)
			if st.parts > maxParts {
				break
			}
		}
		return
	}
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		st.dsns = append(st.dsns, ParseDSN(bytes.Clone(sc.body(&h, &ct, body, end, maxDSNSize, st))))
	case "message/feedback-report":
		st.feedback = true
	case "message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
		if !st.hasOrig {
			oh, _ := lenientSplit(sc.body(&h, &ct, body, end, maxHeaderRead, st)) // the header's values are copies
			st.orig, st.hasOrig = oh, true
		}
	case "text/html":
		st.htmls = append(st.htmls, htmlToText(string(sc.body(&h, &ct, body, end, maxPartRead, st))))
	case "application/json":
		st.jsons = append(st.jsons, bytes.Clone(sc.body(&h, &ct, body, end, maxPartRead, st)))
	default:
		if mt == "" || strings.HasPrefix(mt, "text/") || strings.HasPrefix(mt, "multipart/") {
			st.addText(string(sc.body(&h, &ct, body, end, maxPartRead, st)))
		}
	}
}

// lenientSplit reads a header block the way bounces need: folded lines,
// lines that are not fields skipped, stopping at the first blank line.
// Read from a string (the original message quoted in a notice), the names
// and values are parts of it; read from bytes, they are parts of one copy
// of the header block (nothing refers to raw).
func lenientSplit[T string | []byte](raw T) (mimeHeader, T) {
	b, ok := any(raw).([]byte)
	if !ok {
		h, n, _ := lenientScan(string(raw))
		return h, raw[n:]
	}
	// Copy only the header block: up to a blank line where the scan
	// stops. Where it did not stop there (a blank line before the first
	// field), try the next blank line, and after a few the whole input.
	for e, tries := 0, 0; tries < 8; tries++ {
		e = nextBlankLine(b, e)
		if e >= len(b) {
			break
		}
		if h, n, stopped := lenientScan(string(b[:e])); stopped {
			return h, raw[n:]
		}
	}
	h, n, _ := lenientScan(string(b))
	return h, raw[n:]
}

// nextBlankLine returns the offset after the first line of b starting
// after offset from that holds only ASCII white space, or len(b).
func nextBlankLine(b []byte, from int) int {
	for pos := from; pos < len(b); {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return len(b)
		}
		blank := true
		for _, c := range b[pos : pos+i] {
			if c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f' {
				blank = false
				break
			}
		}
		pos += i + 1
		if blank && pos > from {
			return pos
		}
	}
	return len(b)
}

// lenientScan is lenientSplit on a string: the header, the bytes it
// read, and whether it stopped before the end of s (a blank line, a line
// that is not a field, a line over 1 MB).
func lenientScan(raw string) (mimeHeader, int, bool) {
	var h mimeHeader
	consumed := 0
	// The field being read: its name, where its text after the colon
	// starts and where its last line ends, whether it has continuation
	// lines.
	var name string
	var vstart, vend int
	folded := false
	flush := func() {
		if name != "" {
			if h.l == nil {
				h.l = make([]headerField, 0, 16)
			}
			if folded {
				h.l = append(h.l, headerField{key: name, value: raw[vstart:vend], fold: foldLenient})
			} else {
				h.Add(name, strings.TrimSpace(raw[vstart:vend]))
			}
		}
		name, folded = "", false
	}
	started, stopped := false, false
	// Line by line as a bufio.Scanner with a 1 MB limit would (it cost
	// an allocation of its buffer per call): a longer line ends the header.
	for off, rest := 0, raw; len(rest) > 0; {
		var l string
		start := off
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			l, rest = rest, rest[len(rest):]
		}
		off += len(l) + 1
		if len(l) >= 1<<20 {
			stopped = true
			break
		}
		consumed += len(l) + 1
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			if started {
				stopped = true
				break
			}
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && name != "" {
			folded, vend = true, start+len(l)
			continue
		}
		n, _, ok := strings.Cut(l, ":")
		if ok && isToken(strings.TrimSpace(n)) {
			flush()
			name, started = strings.TrimSpace(n), true
			vstart, vend = start+len(n)+1, start+len(l)
			continue
		}
		if strings.HasPrefix(l, "From ") && !started {
			continue // mbox separator
		}
		if started {
			stopped = true
			break
		}
	}
	flush()
	if consumed > len(raw) {
		consumed = len(raw)
	}
	return h, consumed, stopped
}

// wordDecoder decodes RFC 2047 encoded words. Its charsets are go-message's
// (charsetEncoding); the decoded text is handed back as a bytes.Reader, which
// mime's io.Copy writes without a 32 KB copy buffer.
var wordDecoder = &mime.WordDecoder{CharsetReader: wordCharsetReader}

func wordCharsetReader(cs string, in io.Reader) (io.Reader, error) {
	enc, err := lookupCharset(strings.ToLower(cs))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	out, _, err := transform.Bytes(enc.NewDecoder(), b)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(out), nil
}

func headerText(h *mimeHeader, key string) string {
	v := h.Get(key)
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// headerAddrs returns the addresses in an address header, decoded; it
// falls back to a pattern match for headers net/mail refuses.
func headerAddrs(h *mimeHeader, key string) []string {
	var out []string
	for i := len(h.l) - 1; i >= 0; i-- { // h.Values(key), without its slice
		if !keyIs(h.l[i].key, key) {
			continue
		}
		v := h.l[i].val()
		if a, ok := plainAddress(v); ok {
			out = append(out, a)
			continue
		}
		if l, err := mail.ParseAddressList(v); err == nil {
			for _, a := range l {
				out = append(out, a.Address)
			}
			continue
		}
		out = append(out, findAllAddrs(v, 8)...)
	}
	return out
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
