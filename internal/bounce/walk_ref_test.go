package bounce

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // the reference decodes charsets as the walk did
	mtextproto "github.com/emersion/go-message/textproto"
)

// The reference: the MIME walk as it was with go-message's readers, kept
// to test the hand-written walk (mime*.go) against. refWalkMessage is
// what walkMessage did, refParseMessage what parseMessage did.

func refRead(raw []byte) (*message.Entity, error) {
	lr := &refHeaderLimitReader{r: bytes.NewReader(raw), n: maxHeaderRead}
	br := bufio.NewReader(lr)
	h, err := mtextproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	lr.n = math.MaxInt64
	return message.New(message.Header{Header: h}, br)
}

type refHeaderLimitReader struct {
	r io.Reader
	n int64
}

func (lr *refHeaderLimitReader) Read(p []byte) (int, error) {
	if lr.n <= 0 {
		return 0, errHeaderTooBig
	}
	if int64(len(p)) > lr.n {
		p = p[:lr.n]
	}
	n, err := lr.r.Read(p)
	lr.n -= int64(n)
	return n, err
}

func fromTextproto(h mtextproto.Header) mimeHeader {
	var m mimeHeader
	// Fields lists them in message order; go-message's list (which Get
	// and Values read) is the other way round.
	for f := h.Fields(); f.Next(); {
		m.Add(f.Key(), f.Value())
	}
	m.reverse()
	return m
}

func refWalkMessage(raw []byte) (mimeHeader, contentType, *walkState, error) {
	st := &walkState{}
	ent, err := refRead(raw)
	if ent == nil {
		h, body := lenientSplit(raw)
		st.addText(string(body))
		return h, parseContentType(h.Get("Content-Type")), st, err
	}
	st.refWalk(ent, 0)
	return fromTextproto(ent.Header.Header), parseContentType(ent.Header.Get("Content-Type")), st, nil
}

func refParseMessage(raw []byte) *Bounce {
	raw = skipFromLine(raw)
	top, _, st, err := refWalkMessage(raw)
	mh := message.Header{Header: toTextproto(top)}
	mt, params, _ := mh.ContentType()
	if strings.EqualFold(params["report-type"], "feedback-report") {
		st.feedback = true
	}
	return bounceFromWalk(raw, &top, mt, st, err)
}

// toTextproto builds a go-message header with the fields of h in the same
// list order (Add appends; the list is go-message's).
func toTextproto(h mimeHeader) mtextproto.Header {
	var t mtextproto.Header
	for _, f := range h.l {
		t.Add(f.key, f.value)
	}
	return t
}

func (st *walkState) refWalk(e *message.Entity, depth int) {
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
	mt, params, _ := e.Header.ContentType()
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		if strings.EqualFold(params["report-type"], "feedback-report") {
			st.feedback = true
		}
		mr := e.MultipartReader()
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if p == nil {
				if err != nil && !strings.Contains(err.Error(), "EOF") {
					st.notes = append(st.notes, "a MIME part could not be read: "+oneLine(err))
				}
				break
			}
			st.refWalk(p, depth+1)
			if st.parts > maxParts {
				break
			}
		}
		return
	}
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		st.dsns = append(st.dsns, ParseDSN(refReadLimited(e.Body, maxDSNSize)))
	case "message/feedback-report":
		st.feedback = true
	case "message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
		if !st.hasOrig {
			h, _ := lenientSplit(refReadLimited(e.Body, maxHeaderRead))
			st.orig, st.hasOrig = h, true
		}
	case "text/html":
		st.htmls = append(st.htmls, htmlToText(string(refReadLimited(e.Body, maxPartRead))))
	case "application/json":
		st.jsons = append(st.jsons, refReadLimited(e.Body, maxPartRead))
	default:
		if mt == "" || strings.HasPrefix(mt, "text/") || strings.HasPrefix(mt, "multipart/") {
			st.addText(string(refReadLimited(e.Body, maxPartRead)))
		}
	}
}

func refReadLimited(r io.Reader, n int64) []byte {
	var b bytes.Buffer
	b.ReadFrom(io.LimitReader(r, n)) //nolint:errcheck // a part cut short is read as far as it goes
	return b.Bytes()
}

// walkDiff compares what the two walks collected; "" when they agree.
func walkDiff(raw []byte) string {
	h1, ct1, st1, err1 := walkMessage(raw)
	h2, ct2, st2, err2 := refWalkMessage(raw)
	if len(st1.quirks) > 0 {
		return "" // an allowed difference (see allowedDifferences)
	}
	var d []string
	if (err1 == nil) != (err2 == nil) || err1 != nil && oneLine(err1) != oneLine(err2) {
		d = append(d, fmt.Sprintf("header error: %v / ref %v", err1, err2))
	}
	if !sameHeader(h1, h2) {
		d = append(d, fmt.Sprintf("header: %q / ref %q", h1.pairs(), h2.pairs()))
	}
	if ct1 != ct2 {
		d = append(d, fmt.Sprintf("content type: %+v / ref %+v", ct1, ct2))
	}
	cmp := func(what string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			d = append(d, fmt.Sprintf("%s: %q / ref %q", what, a, b))
		}
	}
	cmp("parts", st1.parts, st2.parts)
	cmp("texts", st1.texts, st2.texts)
	cmp("htmls", st1.htmls, st2.htmls)
	j1, _ := json.Marshal(st1.dsns)
	j2, _ := json.Marshal(st2.dsns)
	cmp("dsns", string(j1), string(j2))
	if !sameHeader(st1.orig, st2.orig) || st1.hasOrig != st2.hasOrig {
		d = append(d, fmt.Sprintf("orig: %v %q / ref %v %q", st1.hasOrig, st1.orig.pairs(), st2.hasOrig, st2.orig.pairs()))
	}
	cmp("feedback", st1.feedback, st2.feedback)
	if len(st1.jsons) != len(st2.jsons) {
		cmp("jsons", st1.jsons, st2.jsons)
	} else {
		for i := range st1.jsons {
			if !bytes.Equal(st1.jsons[i], st2.jsons[i]) {
				cmp("jsons", st1.jsons, st2.jsons)
				break
			}
		}
	}
	cmp("notes", st1.notes, st2.notes)
	cmp("noticeN", st1.noticeN, st2.noticeN)
	cmp("truncated", st1.truncated, st2.truncated)
	return strings.Join(d, "\n")
}

func sameHeader(a, b mimeHeader) bool {
	if len(a.l) != len(b.l) {
		return false
	}
	for i := range a.l {
		if textproto.CanonicalMIMEHeaderKey(a.l[i].key) != textproto.CanonicalMIMEHeaderKey(b.l[i].key) || a.l[i].val() != b.l[i].val() {
			return false
		}
	}
	return true
}

// bounceDiff compares the bounce parseMessage makes with the reference's.
func bounceDiff(raw []byte) string {
	j1, _ := json.Marshal(parseMessage(raw))
	j2, _ := json.Marshal(refParseMessage(raw))
	if string(j1) != string(j2) {
		return fmt.Sprintf("bounce:\n%s\nref:\n%s", j1, j2)
	}
	return ""
}

// TestWalkEquivalence: on every corpus message the hand-written walk
// collects what go-message's did, and the bounces are the same.
func TestWalkEquivalence(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(raw, []byte("From ")) {
			if i := bytes.IndexByte(raw, '\n'); i >= 0 {
				raw = raw[i+1:]
			}
		}
		if d := walkDiff(raw); d != "" {
			t.Errorf("%s: %s", filepath.Base(f), d)
		}
		if d := bounceDiff(raw); d != "" {
			t.Errorf("%s: %s", filepath.Base(f), d)
		}
	}
}

// hostileMIME are messages built to find where the walks part.
func hostileMIME() []string {
	mp := func(boundary, body string) string {
		return "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n" + body
	}
	return []string{
		"",
		"Subject: x",
		"Subject: x\r\n",
		"Subject: x\r\n\r\nbody",
		" leading space\r\n\r\nbody",
		"No colon here\r\n\r\nbody",
		"Bad key: x\r\n\r\n",
		"Bad key\r\n cont: x\r\n\r\nbody",
		": empty key\r\nSubject: s\r\n\r\nb",
		"Subject: a\r\n  folded\r\n\t again\r\n\r\nb",
		"Subject: a\n \n b\n\nbody\n",
		"Subject: a\r\r\n\r\nb",
		"Subject: \r\n\r\n",
		"Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\nsoft=3D line=\r\n",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nbad =ZZ hex and =\r\nend=",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nctrl \x01 byte",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("x", 5000) + "\r\nnext",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8g\r\nd29y bGQ=\r\n",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8!d29ybGQ=",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: BASE64\r\n\r\nSGVsbG8gd29ybGQ",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nraw",
		"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B",
		"Content-Type: text/plain; charset=x-unknown\r\n\r\nraw",
		"Content-Type: text/plain; charset=\"=?utf-8?q?utf-8?=\"\r\n\r\nraw",
		"Content-Type: TEXT/plain; charset\r\n\r\nbad params",
		"Content-Type: text/html; charset=windows-1252\r\n\r\n<p>caf\xe9</p>",
		"Content-Type: application/json\r\n\r\n{\"a\":1}",
		mp("b", "preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue"),
		mp("b", "--b\nContent-Type: text/plain\n\none\n--b \t\n\ntwo\n--b--"),
		mp("b", "--b\r\n\r\nno close"),
		mp("b", "--b\r\n\r\nno close\r\n--b"),
		mp("b", "--b\r\n\r\nno close\r\n--"),
		mp("b", "--b\r\n\r\n--bx not a delimiter\r\n--b--"),
		mp("b", "--b\r\n\r\n\r\n--b\r\ngarbage line\r\n\r\n--b--"),
		mp("b", "--b\r\nbad header line\r\n\r\nx\r\n--b--"),
		mp("b", "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\ninner\r\n--c--\r\n--b--"),
		mp("b", "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\ninner unterminated\r\n--b--"),
		mp("b", "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain"),
		mp("b", "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\nTo: e@f.example\r\n\r\nbody\r\n--b--"),
		mp("b", "--b\r\nContent-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: base64\r\n\r\nRnJvbTogYUBiLmV4YW1wbGUNClRvOiBjQGQuZXhhbXBsZQ0K\r\n--b--"),
		mp("b", strings.Repeat("x", 5000)+"\r\n--b\r\n\r\nafter a long preamble line\r\n--b--"),
		mp("b", "--b\r\n\r\none\r\n--b--"+strings.Repeat("y", 5000)),
		mp("b", strings.Repeat("--b\r\n\r\np\r\n", 300)+"--b--"),
		mp("b", "--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nsame boundary\r\n--b--\r\n--b--"),
		"Content-Type: multipart/report; report-type=feedback-report; boundary=z\r\n\r\n--z\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n--z--",
		"Content-Type: multipart/mixed\r\n\r\nno boundary",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\nempty boundary",
		"Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n\r\n--b\r\n\r\nx\r\n--b--",
		"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n<b>first wins</b>",
		mp("b", "--b\r\n\r\none\r\n--b-x\r\n"),
		mp("b", "--b\r\n\r\none\r\n--b--junk\r\n"),
		mp("b", "--b\r\n\r\n--bx\r\n--bx--\r\n--b--"),
		mp("b", "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nbad soft break=\r\r\nmore\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+strings.Repeat("a", 4100)+"\nz\r\n--b--"),
		mp("b", "--b\r\nContent-Transfer-Encoding: base64\r\n\r\nQQ==\r\n  \r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nQ===\r\n--b--"),
		"Content-Type: text/plain; a=1; a=1\r\n\r\nsame duplicate",
		"Content-Type: text/plain; name*0=a; name*1=b; charset=iso-8859-1\r\n\r\ncaf\xe9",
		"Subject: =?iso-2022-jp?B?GyRCJEgkJCQmGyhC?=\r\nContent-Type: text/plain; charset=\"a\\\"b\"\r\n\r\nquoted pair",
	}
}

func TestWalkEquivalenceHostile(t *testing.T) {
	for i, m := range hostileMIME() {
		if d := walkDiff([]byte(m)); d != "" {
			t.Errorf("case %d %q:\n%s", i, m, d)
		}
		if d := bounceDiff([]byte(m)); d != "" {
			t.Errorf("case %d %q:\n%s", i, m, d)
		}
	}
	deep := ""
	for i := 0; i < 40; i++ {
		deep += fmt.Sprintf("Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	if d := walkDiff([]byte(deep + "\r\ntext")); d != "" {
		t.Errorf("deep nesting:\n%s", d)
	}
}

// FuzzWalkEquivalence: on any input the two walks collect the same, but
// for the differences allowed (walkState.quirks).
func FuzzWalkEquivalence(f *testing.F) {
	for _, m := range hostileMIME() {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 64<<10 {
			return
		}
		if d := walkDiff(raw); d != "" {
			t.Errorf("%q:\n%s", raw, d)
		}
		if d := helperDiff(raw); d != "" {
			t.Errorf("%q:\n%s", raw, d)
		}
	})
}

// refLenientSplit is lenientSplit as it was on bytes: each line copied.
func refLenientSplit(raw []byte) (mimeHeader, []byte) {
	var h mimeHeader
	consumed := 0
	var name, value string
	flush := func() {
		if name != "" {
			h.Add(name, strings.TrimSpace(value))
		}
		name, value = "", ""
	}
	started := false
	for rest := raw; len(rest) > 0; {
		var lb []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			lb, rest = rest[:i], rest[i+1:]
		} else {
			lb, rest = rest, rest[len(rest):]
		}
		if len(lb) >= 1<<20 {
			break
		}
		consumed += len(lb) + 1
		l := strings.TrimRight(string(lb), "\r")
		if strings.TrimSpace(l) == "" {
			if started {
				break
			}
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && name != "" {
			value += " " + strings.TrimSpace(l)
			continue
		}
		n, v, ok := strings.Cut(l, ":")
		if ok && isToken(strings.TrimSpace(n)) {
			flush()
			name, value, started = strings.TrimSpace(n), v, true
			continue
		}
		if strings.HasPrefix(l, "From ") && !started {
			continue
		}
		if started {
			break
		}
	}
	flush()
	if consumed > len(raw) {
		consumed = len(raw)
	}
	return h, raw[consumed:]
}

// refWordDecoder is the RFC 2047 decoder as it was: go-message's charset
// readers.
var refWordDecoder = &mime.WordDecoder{CharsetReader: message.CharsetReader}

// helperDiff compares lenientSplit and the RFC 2047 decoder with what they
// were.
func helperDiff(raw []byte) string {
	var d []string
	h1, r1 := lenientSplit(raw)
	h2, r2 := refLenientSplit(raw)
	if !reflect.DeepEqual(h1.pairs(), h2.pairs()) || len(r1) != len(r2) {
		d = append(d, fmt.Sprintf("lenientSplit: %q %d / ref %q %d", h1.pairs(), len(r1), h2.pairs(), len(r2)))
	}
	h3, r3 := lenientSplit(string(raw))
	if !reflect.DeepEqual(h3.pairs(), h2.pairs()) || len(r3) != len(r2) {
		d = append(d, fmt.Sprintf("lenientSplit(string): %q %d / ref %q %d", h3.pairs(), len(r3), h2.pairs(), len(r2)))
	}
	for _, f := range h1.pairs() {
		a, err1 := wordDecoder.DecodeHeader(f[1])
		b, err2 := refWordDecoder.DecodeHeader(f[1])
		if (err1 == nil) != (err2 == nil) || err1 == nil && a != b {
			d = append(d, fmt.Sprintf("DecodeHeader(%q): %q %v / ref %q %v", f[1], a, err1, b, err2))
		}
	}
	return strings.Join(d, "\n")
}

func TestHelpersEquivalence(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if d := helperDiff(raw); d != "" {
			t.Errorf("%s: %s", filepath.Base(f), d)
		}
	}
	for i, m := range append(hostileMIME(),
		"garbage\n\n \nFrom: a@b.example\nSubject: =?iso-2022-jp?B?GyRCJEgkJCQmGyhC?=\n\nbody",
		"x: y\n"+strings.Repeat("\n", 20)+"Subject: =?x-unknown?q?a?=\n",
		"Subject: =?windows-1252?q?caf=E9?= =?utf-8?b?8J+QiA==?=\r\n\r\n") {
		if d := helperDiff([]byte(m)); d != "" {
			t.Errorf("case %d: %s", i, d)
		}
	}
}

// pairs lists a header's names and values, in its list order.
func (h *mimeHeader) pairs() [][2]string {
	var out [][2]string
	for i := range h.l {
		out = append(out, [2]string{h.l[i].key, h.l[i].val()})
	}
	return out
}
