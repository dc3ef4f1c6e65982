package sanitize

import (
	"strings"
	"testing"
)

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v=spf1 -all", "v=spf1 -all"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"a\r\nb\tc", "a  b c"},
		{"bell\x07", `bell\x07`},
		{"caf\xc3\xa9", "café"},
		{"bad\xff", `bad\xff`},
		{"c1\u009b31m", `c1\x9b31m`},
		{"evil\u202etxt.exe", `evil\u202etxt.exe`},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Text("220 a\r\n220 b"); got != "220 a\n220 b" {
		t.Errorf("Text = %q", got)
	}
}

func TestMaxLen(t *testing.T) {
	got := Line(strings.Repeat("x", 10<<20))
	if len(got) > MaxLen+64 || !strings.Contains(got, "more bytes") {
		t.Errorf("len %d", len(got))
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "\x1b]0;title\x07", "\xff\xfe", "a\u202eb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidi(r) {
				t.Fatalf("Line(%q) kept control %U", s, r)
			}
		}
	})
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc…"},
		{"aé", 2, "a…"}, // é is two bytes: the cut moves back to its start
		{"éé", 3, "é…"}, // a cut inside the second é
		{"é", 0, "…"},
	} {
		if got := Truncate(c.s, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
