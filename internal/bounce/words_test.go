package bounce

import (
	"fmt"
	"strconv"
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

// orgDomainSplit is orgDomain as it was written with strings.Split, the
// reference.
func orgDomainSplit(name string) string {
	labels := strings.Split(strings.ToLower(strings.Trim(name, ". ")), ".")
	if len(labels) < 2 {
		return ""
	}
	n := 2
	if len(labels) >= 3 && len(labels[len(labels)-1]) == 2 {
		switch labels[len(labels)-2] {
		case "co", "ne", "or", "ac", "ed", "go", "com", "net", "org", "gov", "edu", "ad", "lg", "gr":
			n = 3
		}
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

// parseCodeSplit is ParseCode's split as it was written with strings.Split.
func parseCodeSplit(s string) (Code, bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return Code{}, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 3 || strings.TrimLeft(p, "0123456789") != "" {
			return Code{}, false
		}
		n[i], _ = strconv.Atoi(p)
	}
	if len(parts[0]) != 1 || (n[0] != 2 && n[0] != 4 && n[0] != 5) {
		return Code{}, false
	}
	return Code{n[0], n[1], n[2]}, true
}

var labelTexts = []string{
	"", ".", "..", "a", "a.b", "a.b.c", "mx.example.co.jp", "x.example.com.au", "example.co.jp", "co.jp",
	"a..b", "MX.Example.CO.UK", " .mail.example.org. ", "x.y.gr.zz", "5.1.1", " 4.7.26 ", "5.1", "5.1.1.1",
	"6.1.1", "5.01.001", "5.1.1000", "55.1.1", "5..1", "2.0.0", "é.co.jp", "x.ſo.jp",
}

func checkLabels(t *testing.T, s string) {
	t.Helper()
	if got, want := orgDomain(s), orgDomainSplit(s); got != want {
		t.Errorf("orgDomain(%q) = %q, want %q", s, got, want)
	}
	c, err := ParseCode(s)
	want, ok := parseCodeSplit(s)
	if (err == nil) != ok || c != want {
		t.Errorf("ParseCode(%q) = %v, %v; want %v, %v", s, c, err, want, ok)
	}
}

// TestLabels: orgDomain and ParseCode cut a name as strings.Split did.
func TestLabels(t *testing.T) {
	for _, s := range labelTexts {
		checkLabels(t, s)
	}
}

func FuzzLabels(f *testing.F) { fuzzAgainst(f, labelTexts, checkLabels) }
