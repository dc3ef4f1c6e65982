package smtpreply

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		code     int
		enhanced string
		lines    []string
		err      error
	}{
		// RFC 5321 4.2.1: the multi-line example, text starting with digits.
		{"rfc5321 multi-line", "250-First line\r\n250-Second line\r\n250-234 Text beginning with numbers\r\n250 The last line\r\n",
			250, "", []string{"First line", "Second line", "234 Text beginning with numbers", "The last line"}, nil},
		// RFC 5321 D.1 greeting and EHLO reply.
		{"rfc5321 greeting", "220 foo.com Simple Mail Transfer Service Ready\r\n", 220, "", []string{"foo.com Simple Mail Transfer Service Ready"}, nil},
		{"rfc5321 ehlo", "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
			250, "", []string{"foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"}, nil},
		// RFC 5321 3.6.2 / 4.2 example with a 551 and RFC 2034 enhanced codes.
		{"rfc2034 enhanced multi-line", "551-5.7.1 Forwarding to remote hosts disabled\r\n551 5.7.1 Select another host to act as your forwarder\r\n",
			551, "5.7.1", []string{"5.7.1 Forwarding to remote hosts disabled", "5.7.1 Select another host to act as your forwarder"}, nil},
		{"rfc3463 three-digit detail", "550 5.7.606 Access denied\r\n", 550, "5.7.606", []string{"5.7.606 Access denied"}, nil},
		{"code only", "220\r\n", 220, "", []string{""}, nil},
		{"code and space", "354 \r\n", 354, "", []string{""}, nil},
		{"bare LF", "250-a\n250 b\n", 250, "", []string{"a", "b"}, nil},
		{"enhanced class mismatch", "550 4.1.1 x\r\n", 550, "", []string{"4.1.1 x"}, nil},
		{"enhanced class 3 is not a class", "354 3.0.0 go\r\n", 354, "", []string{"3.0.0 go"}, nil},
		{"enhanced detail too long", "250 2.1.5000 x\r\n", 250, "", []string{"2.1.5000 x"}, nil},
		{"enhanced without text", "550 5.1.1\r\n", 550, "5.1.1", []string{"5.1.1"}, nil},
		{"empty", "", 0, "", nil, io.EOF},
		{"short", "25 x\r\n", 0, "", nil, ErrMalformed},
		{"first digit 6", "600 x\r\n", 0, "", nil, ErrMalformed},
		{"first digit 1", "150 x\r\n", 0, "", nil, ErrMalformed},
		{"second digit 6", "260 x\r\n", 0, "", nil, ErrMalformed},
		{"bad separator", "250_x\r\n", 0, "", nil, ErrMalformed},
		{"garbage", "HTTP/1.1 400 Bad Request\r\n", 0, "", nil, ErrMalformed},
		{"continuation code differs", "250-a\r\n251 b\r\n", 0, "", nil, ErrMalformed},
		{"closed mid reply", "250-a\r\n", 0, "", nil, io.ErrUnexpectedEOF},
		{"closed mid line", "250 a", 0, "", nil, io.ErrUnexpectedEOF},
		{"line too long", "220 " + strings.Repeat("x", 5000) + "\r\n", 0, "", nil, ErrLineTooLong},
		{"too many lines", strings.Repeat("250-x\r\n", 200) + "250 x\r\n", 0, "", nil, ErrTooManyLines},
		{"too many bytes", strings.Repeat("250-"+strings.Repeat("y", 3000)+"\r\n", 30) + "250 x\r\n", 0, "", nil, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Read(bufio.NewReader(strings.NewReader(tt.in)), Limits{}, nil)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				if tt.err != io.EOF && tt.err != io.ErrUnexpectedEOF && !errors.Is(err, ErrMalformed) {
					t.Errorf("err %v does not wrap ErrMalformed", err)
				}
				return
			}
			if err != nil || r.Code != tt.code || r.Enhanced != tt.enhanced || !slices.Equal(r.Lines, tt.lines) {
				t.Fatalf("got %+v %v, want %d %q %q", r, err, tt.code, tt.enhanced, tt.lines)
			}
			// Parse agrees with Read on the same lines.
			p, err := Parse(strings.Split(strings.TrimRight(strings.ReplaceAll(tt.in, "\r\n", "\n"), "\n"), "\n"))
			if err != nil || p.Code != r.Code || p.Enhanced != r.Enhanced || !slices.Equal(p.Lines, r.Lines) {
				t.Errorf("Parse: %+v %v", p, err)
			}
		})
	}
}

// A reader whose buffer is smaller than MaxLine still reads lines up to
// MaxLine, and no further.
func TestReadSmallBuffer(t *testing.T) {
	long := "250 " + strings.Repeat("z", 300) + "\r\n"
	br := bufio.NewReaderSize(strings.NewReader(long+long), 16)
	r, err := Read(br, Limits{MaxLine: 400}, nil)
	if err != nil || len(r.Lines[0]) != 300 {
		t.Fatalf("%v %d", err, len(r.Lines))
	}
	if _, err := Read(br, Limits{MaxLine: 200}, nil); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err %v", err)
	}
}

// Several replies follow each other on one stream; onLine sees each line.
func TestReadSequence(t *testing.T) {
	var seen []string
	br := bufio.NewReader(strings.NewReader("220 hi\r\n250-a\r\n250 b\r\n"))
	for _, want := range []int{220, 250} {
		r, err := Read(br, Limits{}, func(l string) { seen = append(seen, l) })
		if err != nil || r.Code != want {
			t.Fatalf("%+v %v", r, err)
		}
	}
	if _, err := Read(br, Limits{}, nil); err != io.EOF {
		t.Fatalf("err %v, want io.EOF", err)
	}
	if !slices.Equal(seen, []string{"220 hi", "250-a", "250 b"}) {
		t.Fatalf("seen %q", seen)
	}
}

func TestParseErrors(t *testing.T) {
	for _, lines := range [][]string{nil, {"250-a"}, {"250 a", "250 b"}, {"250-a", "251 b"}, {"x"}} {
		if _, err := Parse(lines); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err %v", lines, err)
		}
	}
}

// FuzzRead feeds arbitrary server output to Read, reply after reply, and
// checks the invariants every caller relies on.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"220 ok\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 x\r\n", "250-a\n250 b\n",
		"220-x\r\n", "250-a\r\n251 b\r\n", "999 x\r\n", "\x00\xff", "250 ok",
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxLine: 64, MaxLines: 8, MaxBytes: 256}
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(b), 16)
		for i := 0; i < 20; i++ {
			r, err := Read(br, lim, nil)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error kind %v", err)
				}
				return
			}
			if r.Code < 200 || r.Code > 559 || len(r.Lines) == 0 || len(r.Lines) > lim.MaxLines {
				t.Fatalf("accepted %+v", r)
			}
			if r.Enhanced != "" && (r.Enhanced[0]-'0' != byte(r.Code/100) || !strings.HasPrefix(r.Lines[0], r.Enhanced)) {
				t.Fatalf("enhanced %q with %+v", r.Enhanced, r)
			}
			n := 0
			for _, l := range r.Lines {
				if strings.ContainsAny(l, "\n") || len(l)+4 > lim.MaxLine {
					t.Fatalf("line %q", l)
				}
				n += len(l)
			}
			if n > lim.MaxBytes+lim.MaxLine {
				t.Fatalf("%d bytes accepted", n)
			}
		}
	})
}
