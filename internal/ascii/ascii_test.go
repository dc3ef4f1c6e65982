package ascii

import (
	"strings"
	"testing"
)

func TestLower(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"ABC", "abc"},
		{"V=DMARC1; P=Reject", "v=dmarc1; p=reject"},
		{"Ünïcode É", "Ünïcode É"},   // only ASCII letters change
		{"R\x8c\xffA", "r\x8c\xffa"}, // invalid UTF-8 keeps its bytes
		{"[@`{", "[@`{"},             // the bytes next to the letter ranges
	} {
		if got := Lower(tc.in); got != tc.want {
			t.Errorf("Lower(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzLower(f *testing.F) {
	f.Add("Hello, WORLD")
	f.Add("R\x8c\xff")
	f.Fuzz(func(t *testing.T, s string) {
		got := Lower(s)
		if len(got) != len(s) {
			t.Fatalf("Lower(%q) changed the length: %q", s, got)
		}
		for i := 0; i < len(s); i++ {
			c, g := s[i], got[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != g {
				t.Fatalf("Lower(%q)[%d] = %q, want %q", s, i, g, c)
			}
		}
		if Only(s) && got != strings.ToLower(s) {
			t.Fatalf("Lower(%q) = %q, strings.ToLower gives %q", s, got, strings.ToLower(s))
		}
	})
}

func TestIsAlnum(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := strings.IndexByte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", byte(c)) >= 0
		if got := IsAlnum(byte(c)); got != want {
			t.Errorf("IsAlnum(%#x) = %v, want %v", c, got, want)
		}
	}
}

func TestOnly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"example.com", true},
		{"\x00\x7f", true},
		{"bücher.example", false},
		{"a\x80", false},
		{"\xff", false},
	} {
		if got := Only(tc.in); got != tc.want {
			t.Errorf("Only(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
