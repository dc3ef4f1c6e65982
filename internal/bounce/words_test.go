package bounce

import (
	"fmt"
	"strings"
	"testing"
)

var wordsTexts = []string{
	"", " ", "a", " a ", "a b", "a  b", "a\tb", " \t\r\n a \n b\n", "550 5.1.1 <x@y>... User unknown",
	"a\u00a0b", "a\u2003\u2003b", "\u0085x\u0085", "\xffa \xff", "a\xc2", "x(y) z", "(", "  (a", "a\u200bb",
	"a\vb\fc", "\u3000全角\u3000スペース", "a\u1680b\u180ec",
}

func checkWords(t *testing.T, s string) {
	t.Helper()
	if got, want := collapse(s), strings.Join(strings.Fields(s), " "); got != want {
		t.Errorf("collapse(%q) = %q, want %q", s, got, want)
	}
	want := ""
	if f := strings.Fields(s); len(f) > 0 {
		want, _, _ = strings.Cut(f[0], "(")
	}
	if got := firstWord(s); got != want {
		t.Errorf("firstWord(%q) = %q, want %q", s, got, want)
	}
}

// TestWords: collapse and firstWord split as strings.Fields does.
func TestWords(t *testing.T) {
	for _, s := range wordsTexts {
		checkWords(t, s)
	}
}

func FuzzWords(f *testing.F) { fuzzAgainst(f, wordsTexts, checkWords) }

// TestCodeString: a code prints as class.subject.detail, the same the
// first time (printed) and later (remembered), in and out of the range
// remembered.
func TestCodeString(t *testing.T) {
	for round := 0; round < 2; round++ {
		for class := -1; class <= 6; class++ {
			for subject := -1; subject <= 11; subject++ {
				for _, detail := range []int{-1, 0, 1, 9, 10, 26, 99, 100, 1234} {
					c := Code{class, subject, detail}
					want := fmt.Sprintf("%d.%d.%d", class, subject, detail)
					if class == 0 {
						want = ""
					}
					if got := c.String(); got != want {
						t.Fatalf("round %d: %#v prints %q, want %q", round, c, got, want)
					}
				}
			}
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = Code{5, 7, 26}.String() }); n != 0 {
		t.Errorf("a remembered code allocates %v times", n)
	}
}
