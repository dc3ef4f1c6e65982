package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestDisplayWidth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"mx.example.com", 14},
		{"日本語", 6},            // East Asian wide
		{"ｆｕｌｌ", 8},           // fullwidth Latin
		{"e\u0301t\u00e9", 3}, // combining acute accent takes no column
		{"a\u200bb", 2},       // zero-width space
		{"😀 ok", 5},           // emoji presentation: wide
		{"…", 1},              // ambiguous: narrow by default
		{"Grüße", 5},
	} {
		if got := displayWidth(tc.in); got != tc.want {
			t.Errorf("displayWidth(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// Columns line up by display width, not bytes or runes: a wide name pads
// its neighbours' cells to the same column.
func TestTableAlignsWideCells(t *testing.T) {
	var buf bytes.Buffer
	err := Table(&buf, []string{"HOST", "STATUS"}, [][]string{
		{"日本.example", "pass"},
		{"e\u0301.example", "fail"},
		{"a.example", "warn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	col := -1
	for _, l := range lines {
		i := strings.LastIndex(l, "  ")
		if i < 0 {
			t.Fatalf("no column gap in %q", l)
		}
		c := displayWidth(l[:i+2])
		if col >= 0 && c != col {
			t.Errorf("second column starts at %d in %q, want %d:\n%s", c, l, col, buf.String())
		}
		col = c
	}
}
