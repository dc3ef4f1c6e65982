package dmarcreport

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Limits bound what one input may expand to: reports arrive compressed,
// and a zip bomb must be an error row, not the end of the machine.
type Limits struct {
	// MaxSize is the most bytes a decompressed report, a zip member or a
	// decoded MIME part may have.
	MaxSize int64
	// MaxParts is the most MIME parts or zip members one input may have.
	MaxParts int
	// MaxDepth is how deeply containers may nest (a zip in a gzip in a
	// message attached to a message...).
	MaxDepth int
}

// DefaultLimits are generous for real reports (the largest seen are a few
// MB) and small enough to stop bombs.
var DefaultLimits = Limits{MaxSize: 64 << 20, MaxParts: 200, MaxDepth: 6}

// FileError is an input (or a part of one) that could not be read.
type FileError struct {
	File string `json:"file"`
	Err  error  `json:"-"`
}

func (e FileError) Error() string { return e.File + ": " + e.Err.Error() }

// Extracted is what one input yielded.
type Extracted struct {
	Reports []*Report
	Errors  []FileError
}

// Extract finds every report in data, a single input named name: a bare
// report (XML, JSON), a compressed one (gzip, zip), or an e-mail message
// carrying any number of them (and RFC 6591 failure reports). Containers
// are recognised by their content, not their name. A part that cannot be
// parsed is an error of the result; the other parts are still read.
func Extract(name string, data []byte, lim Limits) Extracted {
	if lim.MaxSize <= 0 {
		lim = DefaultLimits
	}
	var x Extracted
	e := &extractor{lim: lim, out: &x}
	if err := e.any(name, data, 0, true); err != nil {
		x.Errors = append(x.Errors, FileError{File: name, Err: err})
	}
	return x
}

type extractor struct {
	lim   Limits
	out   *Extracted
	parts int
}

func (e *extractor) add(name string, r *Report) {
	r.File = name
	e.out.Reports = append(e.out.Reports, r)
}

// any sniffs data and parses it. top is true for the input itself: only
// there (and for attachments) is an unrecognisable body an error.
func (e *extractor) any(name string, data []byte, depth int, top bool) error {
	if depth > e.lim.MaxDepth {
		return fmt.Errorf("%w: containers nested more than %d deep", ErrTooLarge, e.lim.MaxDepth)
	}
	switch {
	case len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b:
		plain, err := gunzip(data, e.lim.MaxSize)
		if err != nil {
			return err
		}
		return e.any(name, plain, depth+1, top)
	case len(data) >= 4 && string(data[:4]) == "PK\x03\x04":
		return e.zip(name, data, depth)
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return fmt.Errorf("%w: the file is empty", ErrNoReport)
	case trimmed[0] == '<':
		a, err := ParseAggregate(trimmed)
		if err != nil {
			return err
		}
		e.add(name, &Report{Kind: KindAggregate, Aggregate: a})
		return nil
	case trimmed[0] == '{':
		t, err := ParseTLS(trimmed)
		if err != nil {
			return err
		}
		e.add(name, &Report{Kind: KindTLS, TLS: t})
		return nil
	}
	if looksLikeMessage(trimmed) {
		return e.message(name, trimmed, depth)
	}
	return fmt.Errorf("%w: neither XML, JSON, gzip, zip nor an e-mail message", ErrNoReport)
}

// looksLikeMessage: the first line is a header field (or an mbox From_).
func looksLikeMessage(b []byte) bool {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	if bytes.HasPrefix(line, []byte("From ")) {
		return true
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// gunzip reads the first gzip member. Bytes after it are ignored: some
// reporters append padding or a second copy (Go's reader would call that
// an invalid header).
func gunzip(data []byte, max int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrSyntax, err)
	}
	zr.Multistream(false)
	out, err := readMax(zr, max)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}

// readMax reads r to the end, failing with ErrTooLarge past max bytes.
func readMax(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, max+1))
	if n > max {
		return nil, fmt.Errorf("%w: more than %d bytes when decompressed", ErrTooLarge, max)
	}
	if err != nil && buf.Len() == 0 {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	// A truncated stream (unexpected EOF) still gives its data: a report
	// cut short is better read as far as it goes, and the XML parser
	// closes what was left open.
	return buf.Bytes(), nil
}

func (e *extractor) zip(name string, data []byte, depth int) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%w: zip: %v", ErrSyntax, err)
	}
	found := false
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if e.parts++; e.parts > e.lim.MaxParts {
			return fmt.Errorf("%w: more than %d parts", ErrTooLarge, e.lim.MaxParts)
		}
		member := name + "#" + path.Base(f.Name)
		if f.UncompressedSize64 > uint64(e.lim.MaxSize) {
			e.out.Errors = append(e.out.Errors, FileError{File: member, Err: fmt.Errorf("%w: %d bytes when decompressed (limit %d)", ErrTooLarge, f.UncompressedSize64, e.lim.MaxSize)})
			continue
		}
		rc, err := f.Open()
		if err != nil {
			e.out.Errors = append(e.out.Errors, FileError{File: member, Err: fmt.Errorf("%w: zip: %v", ErrSyntax, err)})
			continue
		}
		// The declared size can lie: the limit holds on what is read.
		plain, err := readMax(rc, e.lim.MaxSize)
		rc.Close()
		if err == nil {
			err = e.any(member, plain, depth+1, true)
		}
		if err != nil {
			e.out.Errors = append(e.out.Errors, FileError{File: member, Err: err})
			continue
		}
		found = true
	}
	if !found && len(e.out.Errors) == 0 {
		return fmt.Errorf("%w: the zip archive holds no file", ErrNoReport)
	}
	return nil
}

// reportTypes are the MIME types reports are attached as (RFC 7489 7.2.1.1
// says application/gzip or application/zip; RFC 8460 5.3 adds
// application/tlsrpt+gzip and application/tlsrpt+json; the wild adds the
// rest).
var reportTypes = map[string]bool{
	"application/gzip": true, "application/x-gzip": true, "application/zip": true,
	"application/x-zip": true, "application/x-zip-compressed": true, "application/xml": true,
	"text/xml": true, "application/json": true, "application/tlsrpt+json": true,
	"application/tlsrpt+gzip": true, "application/octet-stream": true,
}

// message reads an e-mail message: every attachment that holds a report,
// an RFC 6591 feedback report, or, failing both, a plain-text failure
// report.
func (e *extractor) message(name string, data []byte, depth int) error {
	if bytes.HasPrefix(data, []byte("From ")) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	before := len(e.out.Reports) + len(e.out.Errors)
	m := &msgState{name: name}
	if err := e.walk(m, bytes.NewReader(data), depth, name); err != nil {
		return err
	}
	if m.feedback != nil {
		f := failureFrom(m)
		e.add(name, &Report{Kind: KindFailure, Failure: f})
	} else if len(e.out.Reports)+len(e.out.Errors) == before {
		if f := plainFailure(m); f != nil {
			e.add(name, &Report{Kind: KindFailure, Failure: f})
		} else {
			return fmt.Errorf("%w: the message carries no report (no XML, JSON, gzip or zip attachment, no feedback report)", ErrNoReport)
		}
	}
	return nil
}

// msgState collects what a message's parts say about a failure report.
type msgState struct {
	name      string
	top       *textproto.Header // the report message's header
	feedback  *textproto.Header // the message/feedback-report part
	reported  *textproto.Header // the headers of the message reported on
	plainText []string          // text/plain parts, for non-ARF reports
}

func (e *extractor) walk(m *msgState, r io.Reader, depth int, name string) error {
	if depth > e.lim.MaxDepth {
		return fmt.Errorf("%w: MIME parts nested more than %d deep", ErrTooLarge, e.lim.MaxDepth)
	}
	ent, err := message.Read(io.LimitReader(r, e.lim.MaxSize))
	if err != nil && ent == nil {
		return fmt.Errorf("%w: message: %v", ErrSyntax, err)
	}
	if m.top == nil {
		h := ent.Header.Header
		m.top = &h
	}
	return e.entity(m, ent, depth, name)
}

func (e *extractor) entity(m *msgState, ent *message.Entity, depth int, name string) error {
	if e.parts++; e.parts > e.lim.MaxParts {
		return fmt.Errorf("%w: more than %d MIME parts", ErrTooLarge, e.lim.MaxParts)
	}
	if mr := ent.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if message.IsUnknownCharset(err) || message.IsUnknownEncoding(err) {
					continue
				}
				// A broken multipart ends the walk, keeping what was read.
				return nil
			}
			if err := e.entity(m, p, depth+1, name); err != nil {
				return err
			}
		}
	}
	ctype, params, _ := ent.Header.ContentType()
	ctype = strings.ToLower(ctype)
	filename := attachmentName(ent.Header, params)
	body, err := readMax(ent.Body, e.lim.MaxSize)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			e.out.Errors = append(e.out.Errors, FileError{File: partName(name, filename), Err: err})
		}
		return nil
	}
	lowerName := strings.ToLower(filename)
	switch {
	case ctype == "message/feedback-report":
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(bytes.TrimLeft(body, "\r\n"), '\r', '\n', '\r', '\n'))))
		if err == nil {
			m.feedback = &h
		}
	case ctype == "message/rfc822" || ctype == "text/rfc822-headers" || ctype == "message/rfc822-headers":
		if m.feedback != nil || m.reported == nil {
			h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(body, '\r', '\n', '\r', '\n'))))
			if err == nil {
				m.reported = &h
			}
		}
		if ctype == "message/rfc822" && m.feedback == nil {
			// A forwarded report: the attached message may carry one.
			sub := &extractor{lim: e.lim, out: e.out, parts: e.parts}
			_ = sub.anyQuiet(partName(name, filename), body, depth+1)
			e.parts = sub.parts
		}
	case reportTypes[ctype] || strings.HasSuffix(lowerName, ".xml") || strings.HasSuffix(lowerName, ".gz") ||
		strings.HasSuffix(lowerName, ".zip") || strings.HasSuffix(lowerName, ".json"):
		pn := partName(name, filename)
		if err := e.any(pn, body, depth+1, false); err != nil {
			if ctype == "application/octet-stream" && errors.Is(err, ErrNoReport) && !strings.HasSuffix(lowerName, ".xml") &&
				!strings.HasSuffix(lowerName, ".gz") && !strings.HasSuffix(lowerName, ".zip") && !strings.HasSuffix(lowerName, ".json") {
				return nil // some other binary attachment
			}
			e.out.Errors = append(e.out.Errors, FileError{File: pn, Err: err})
		}
	case strings.HasPrefix(ctype, "text/plain") || ctype == "":
		if len(m.plainText) < 4 {
			m.plainText = append(m.plainText, string(body))
		}
	}
	return nil
}

// anyQuiet parses an attached message, ignoring one that holds no report.
func (e *extractor) anyQuiet(name string, data []byte, depth int) error {
	before := len(e.out.Reports)
	err := e.any(name, data, depth, false)
	if err != nil && !errors.Is(err, ErrNoReport) {
		e.out.Errors = append(e.out.Errors, FileError{File: name, Err: err})
	}
	_ = before
	return nil
}

func attachmentName(h message.Header, ctParams map[string]string) string {
	if _, p, err := h.ContentDisposition(); err == nil && p["filename"] != "" {
		return p["filename"]
	}
	if ctParams["name"] != "" {
		return ctParams["name"]
	}
	return ""
}

func partName(msg, filename string) string {
	if filename == "" {
		return msg
	}
	return msg + "#" + path.Base(strings.ReplaceAll(filename, "\\", "/"))
}

var wordDecoder = &mime.WordDecoder{CharsetReader: message.CharsetReader}

func decodeHeader(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		s = d
	}
	return cleanText(s)
}
