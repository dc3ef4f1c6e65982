package bounce

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// Header blocks (RFC 5322 2.2.3 folding, RFC 2045/2046 examples) as
// readHeader reads them: fields last first, as go-message keeps them.
func TestReadHeader(t *testing.T) {
	tests := []struct {
		in     string
		fields [][2]string // in message order
		body   string
		err    string
	}{
		{"From: Nathaniel Borenstein <nsb@bellcore.com>\r\nTo: Ned Freed <ned@innosoft.com>\r\nSubject: Sample message\r\nMIME-Version: 1.0\r\nContent-type: multipart/mixed; boundary=\"simple boundary\"\r\n\r\nThis is the preamble.",
			[][2]string{{"From", "Nathaniel Borenstein <nsb@bellcore.com>"}, {"To", "Ned Freed <ned@innosoft.com>"}, {"Subject", "Sample message"}, {"MIME-Version", "1.0"}, {"Content-type", "multipart/mixed; boundary=\"simple boundary\""}},
			"This is the preamble.", ""},
		// RFC 5322 2.2.3: unfolding drops the CRLF; textproto also
		// trims each line and joins them with one space.
		{"Subject: This\r\n is a test\r\n\r\n", [][2]string{{"Subject", "This is a test"}}, "", ""},
		{"Subject: a\n\t\tb\n   \n c\n\nbody", [][2]string{{"Subject", "a b c"}}, "body", ""},
		{"X:   padded   \n\n", [][2]string{{"X", "padded"}}, "", ""},
		{"X:\n\n", [][2]string{{"X", ""}}, "", ""},
		{": no name\nY: 1\n\n", [][2]string{{"Y", "1"}}, "", ""},
		{"A: 1\nA: 2\n\nb", [][2]string{{"A", "1"}, {"A", "2"}}, "b", ""},
		{"A: no blank line", [][2]string{{"A", "no blank line"}}, "", ""},
		{"", nil, "", ""},
		{"\r\nbody only", nil, "body only", ""},
		{" X: y\n\n", nil, "", "message: malformed MIME header initial line:  X: y"},
		{"A: 1\nnot a field\n\n", nil, "", "message: malformed MIME header line: not a field\r\n"},
		{"Bad Key: 1\n\n", nil, "", "message: malformed MIME header key: Bad Key"},
		{"A\n b: 1\n\n", nil, "", "message: malformed MIME header key: A\r\n b"},
	}
	for _, tt := range tests {
		h, n, err := readHeader([]byte(tt.in), nil, nil)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		h.reverse()
		if got := h.pairs(); !reflect.DeepEqual(got, tt.fields) {
			t.Errorf("%q: fields %q, want %q", tt.in, got, tt.fields)
		}
		if got := tt.in[n:]; got != tt.body {
			t.Errorf("%q: body %q, want %q", tt.in, got, tt.body)
		}
	}
	// A header that runs into the end of what may be read.
	if _, _, err := readHeader([]byte("A: 1\nB: 2"), io.ErrUnexpectedEOF, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("unterminated header at the end of a part: %v", err)
	}
	big := "Subject: x\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", maxHeaderRead/99+1)
	if _, _, err := readTopHeader([]byte(big + "\r\nbody")); err != errHeaderTooBig {
		t.Errorf("header over %d bytes: %v", maxHeaderRead, err)
	}
}

func TestMimeHeaderGet(t *testing.T) {
	h, _, err := readHeader([]byte("Received: a\r\nreceived: b\r\nX_Odd: c\r\nContent-TYPE: text/plain\r\n\r\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := h.Get("Received"); g != "a" {
		t.Errorf("Get gives the first field of a read header, got %q", g)
	}
	if v := h.Values("RECEIVED"); !reflect.DeepEqual(v, []string{"a", "b"}) {
		t.Errorf("Values: %q", v)
	}
	if g := h.Get("content-type"); g != "text/plain" {
		t.Errorf("case-insensitive Get: %q", g)
	}
	if g := h.Get("X_Odd"); g != "c" {
		t.Errorf("token name with _: %q", g)
	}
	var a mimeHeader
	a.Add("To", "1")
	a.Add("to", "2")
	if a.Get("To") != "2" || !reflect.DeepEqual(a.Values("To"), []string{"2", "1"}) {
		t.Errorf("added header: Get %q Values %q (go-message's order)", a.Get("To"), a.Values("To"))
	}
	a.Add("Bad Name", "x")
	if a.Get("Bad Name") != "" {
		t.Error("a name with a space matches nothing (textproto's canonical keys)")
	}
}

// Multipart bodies (RFC 2046 5.1.1 and its edge cases) split as
// go-message's reader splits them.
func TestMultipartSplit(t *testing.T) {
	type part struct {
		body string
		end  error
	}
	tests := []struct {
		name, boundary, in string
		parts              []part
		err                string // after the parts; "" is io.EOF
	}{
		{"RFC 2046 5.1.1 example", "simple boundary",
			"This is the preamble.  It is to be ignored, though it\r\nis a handy place for composition agents to include an\r\nexplanatory note to non-MIME conformant readers.\r\n\r\n--simple boundary\r\n\r\nThis is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.\r\n--simple boundary\r\nContent-type: text/plain; charset=us-ascii\r\n\r\nThis is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n\r\n--simple boundary--\r\n\r\nThis is the epilogue.  It is also to be ignored.\r\n",
			[]part{{"This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.", io.EOF}, {"This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n", io.EOF}}, ""},
		{"LF line ends", "b", "--b\n\none\n--b\n\ntwo\n--b--\n", []part{{"one", io.EOF}, {"two", io.EOF}}, ""},
		{"transport padding after the delimiter", "b", "--b  \t\r\n\r\none\r\n--b \r\n\r\ntwo\r\n--b-- \r\n", []part{{"one", io.EOF}, {"two", io.EOF}}, ""},
		{"missing close delimiter", "b", "--b\r\n\r\none\r\n--b\r\n\r\nrunning off the end", []part{{"one", io.EOF}, {"running off the end", io.ErrUnexpectedEOF}}, "multipart: NextPart: EOF"},
		{"a partial delimiter at the end is not data", "b", "--b\r\n\r\none\r\n--", []part{{"one", io.ErrUnexpectedEOF}}, "multipart: NextPart: EOF"},
		{"delimiter-like line inside a part", "b", "--b\r\n\r\n--bx\r\n--bx--\r\n--b--", []part{{"--bx\r\n--bx--", io.EOF}}, ""},
		// "-" after the delimiter ends the part (as a close delimiter
		// would), and the line is then no delimiter.
		{"delimiter followed by a dash", "b", "--b\r\n\r\none\r\n--b-x\r\n", []part{{"one", io.EOF}}, "multipart: expecting a new Part; got line \"--b-x\\r\\n\""},
		{"empty part", "b", "--b\r\n\r\n--b--", []part{{"", io.EOF}}, ""},
		{"junk after the close delimiter", "b", "--b\r\n\r\none\r\n--b--junk\r\n", []part{{"one", io.EOF}}, "multipart: expecting a new Part; got line \"--b--junk\\r\\n\""},
		{"junk between parts", "b", "--b\r\n\r\none\r\n--bz\r\nzz\r\n--b\r\n\r\ntwo\r\n--b--", []part{{"one\r\n--bz\r\nzz", io.EOF}, {"two", io.EOF}}, ""},
		{"long preamble line", "b", strings.Repeat("p", 5000) + "\r\n--b\r\n\r\nx\r\n--b--", nil, "multipart: NextPart: bufio: buffer full"},
	}
	for _, tt := range tests {
		m := newMultipartBody([]byte(tt.in), io.EOF, tt.boundary)
		var got []part
		var err error
		for {
			var body []byte
			var end error
			_, body, end, err = m.next(nil)
			if err != nil {
				break
			}
			got = append(got, part{string(body), end})
		}
		if !reflect.DeepEqual(got, tt.parts) {
			t.Errorf("%s: parts %v, want %v", tt.name, got, tt.parts)
		}
		want := tt.err
		if want == "" {
			want = io.EOF.Error()
		}
		if err.Error() != want {
			t.Errorf("%s: error %v, want %s", tt.name, err, want)
		}
	}
}

func TestDecodeQP(t *testing.T) {
	tests := []struct{ in, want string }{
		// RFC 2045 6.7 rules.
		{"Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.", "Now's the time for all folk to come to the aid of their country."},
		{"caf=C3=A9 =3D equals", "café = equals"},
		{"lower =c3=a9 hex", "lower é hex"},
		{"trailing spaces   \r\nnext\t\r\n", "trailing spaces\r\nnext\r\n"},
		{"LF only\nline\n", "LF only\nline\n"},
		{"soft at the end=", "soft at the end"},
		{"literal =ZZ and =4", "literal =ZZ and =4"},
		{"stops at =\r\x00", "stops at "},
		{"control \x01 byte", "control "},
		{"8bit \xe9 kept", "8bit \xe9 kept"},
		{"bad soft =  x\r\nmore", "bad soft =  x\r\nmore"},
		{"bad soft break=\r\r\nmore", "bad soft break"},
		{strings.Repeat("a", 4100) + "\nz", strings.Repeat("a", 4096)},
	}
	for _, tt := range tests {
		got, _ := decodeQP(nil, []byte(tt.in), io.EOF, -1, nil)
		if string(got) != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, _ := decodeQP(nil, []byte("0123456789"), io.EOF, 4, nil); len(got) < 4 {
		t.Errorf("limit: %q", got)
	}
}

func TestDecodeBase64(t *testing.T) {
	tests := []struct {
		in, want string
		quirk    bool
	}{
		{"SGVsbG8gd29ybGQ=", "Hello world", false},
		{"SGVs\r\nbG8g\r\nd29y bGQ=\r\n", "Hello world", false},
		{"SGVsbG8\tgd29ybGQh", "Hello world!", false},
		{"QQ==", "A", false},
		{"QUI=", "AB", false},
		{"SGVsbG8!d29ybGQ=", "Hel", false},      // a bad byte ends at its quantum
		{"SGVsbG8gd29ybGQ", "Hello wor", false}, // an incomplete last quantum is dropped
		{"QQ==QUJD", "A", true},                 // data after padding
		{"QQ==\r\n  \r\n", "A", false},          // only white space after it
		{"Q===", "", false},                     // padding too early
		{"", "", false},
	}
	for _, tt := range tests {
		got, quirk := decodeBase64(nil, []byte(tt.in), -1)
		if string(got) != tt.want || quirk != tt.quirk {
			t.Errorf("%q: %q %v, want %q %v", tt.in, got, quirk, tt.want, tt.quirk)
		}
	}
}

func TestParseContentType(t *testing.T) {
	tests := []struct {
		in   string
		want contentType
	}{
		{"", contentType{mt: "text/plain"}},
		{"TEXT/Plain; CHARSET=US-ASCII", contentType{mt: "text/plain", charset: "US-ASCII", hasCharset: true}},
		{"multipart/mixed; boundary=\"simple boundary\"", contentType{mt: "multipart/mixed", boundary: "simple boundary"}},
		{"multipart/report; report-type=delivery-status;\tboundary=\"=_x:y\";", contentType{mt: "multipart/report", boundary: "=_x:y", reportType: "delivery-status"}},
		{"text/plain; charset=\"\"", contentType{mt: "text/plain", hasCharset: true}},
		{"text/plain; charset", contentType{mt: "text/plain; charset"}},
		{"text/plain; a=1; a=2", contentType{mt: "text/plain; a=1; a=2"}},
		{"text/plain; a=1; a=1", contentType{mt: "text/plain"}},
		{"text/", contentType{mt: "text/"}},
		{"text/plain; name*0=a; name*1=b; charset=utf-8", contentType{mt: "text/plain", charset: "utf-8", hasCharset: true}},
		{"text/plain; charset=\"a\\\"b\"", contentType{mt: "text/plain", charset: "a\"b", hasCharset: true}},
		{"text/plain; charset=\"=?utf-8?q?x?=\"", contentType{mt: "text/plain", charset: "x", hasCharset: true}},
	}
	for _, tt := range tests {
		if got := parseContentType(tt.in); got != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.in, got, tt.want)
		}
		if tt.in != "" {
			if got := parseContentTypeStd(tt.in); got != tt.want {
				t.Errorf("%q (mime.ParseMediaType): %+v, want %+v", tt.in, got, tt.want)
			}
		}
	}
}

// FuzzContentType: the fast path reads what mime.ParseMediaType reads.
func FuzzContentType(f *testing.F) {
	for _, s := range []string{"text/plain; charset=us-ascii", "multipart/mixed; boundary=\"a b\"; report-type=x", "text/plain;;", "a/b; c=\"d\r\"", "x/y; z*=utf-8''a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		if fast, ok := parseContentTypeFast(s); ok {
			if std := parseContentTypeStd(s); fast != std {
				t.Errorf("%q: fast %+v, mime %+v", s, fast, std)
			}
		}
	})
}

// TestWalkHostileBounded: a million parts, deep nesting, a huge part
// header and broken encodings end with a note or a partial read, never a
// hang or a panic.
func TestWalkHostileBounded(t *testing.T) {
	head := "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	deep := ""
	for i := 0; i < 1000; i++ {
		deep += "--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	}
	cases := map[string]string{
		"a million parts":      head + strings.Repeat("--b\r\n\r\nx\r\n", 1_000_000) + "--b--",
		"deep nesting":         head + deep,
		"huge part header":     head + "--b\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 40_000) + "\r\nbody\r\n--b--",
		"bad base64":           head + "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n" + strings.Repeat("!!!!", 100_000) + "\r\n--b--",
		"bad quoted-printable": head + "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("=\r", 100_000) + "\r\n--b--",
		"unterminated":         head + "--b\r\n\r\n" + strings.Repeat("--b-", 200_000),
	}
	for name, m := range cases {
		_, _, st, _ := walkMessage([]byte(m))
		if st.parts > maxParts+1 {
			t.Errorf("%s: %d parts walked", name, st.parts)
		}
		if name == "a million parts" && !st.truncated {
			t.Errorf("%s: not marked truncated: %q", name, st.notes)
		}
	}
}
