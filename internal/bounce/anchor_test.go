package bounce

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
)

var anchorExprs = []string{`(\bfoo|bar)baz`, `(?m)(^ab|cd)e`, `(?i)(\Bx|y)z`, `\Afoo`, `(?i)(the )?data\b`,
	`(?i)(no such|non.?existent) (user|mailbox)`, `x\b|\Byz`, `(?m:^)?(ab|b)c$`, `(?i)\bk`,
	`foo\b`, `(?:ab)?\bc`, `a(?m:^)b|ab`, `(?i)(x|(?:\bk))y`}

var anchorTexts = []string{"foobaz barbaz xfoobaz", "ab\nabe cde\nabe", "xxz yz XZ Yz", "foo", "afoo", "The  data base data",
	"NON-EXISTENT user; no such mailbox", "xyz x yz", "abc\nbc", "kK k", "",
	// Other scripts: folding keeps their offsets, so the search runs on
	// them too (a multi-byte rune before a \b, ^ or \B start).
	"éfoobaz ébarbaz\nÉabe", "日本語barbaz 日本語 foobaz", "ÀXZ ÿyz données DATA", "Ωk ωK", "\u00a0foo"}

// TestAnchoredSearch: finding a match at the places where its start
// strings occur, anchored, gives what the unanchored expression gives,
// with assertions at the match's start (\b, \B, ^, \A) seeing their real
// context.
func TestAnchoredSearch(t *testing.T) {
	for _, expr := range anchorExprs {
		sre, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		starts := prefixSet(sre.Simplify())
		if starts == nil {
			t.Errorf("%s: no start strings", expr)
			continue
		}
		re := regexp.MustCompile(expr)
		a := newAnchor(sre.String(), leadingAssertion(sre))
		for _, s := range anchorTexts {
			for _, text := range []string{s, strings.Repeat(".", 3) + s, s + "\n" + s} {
				folded, same := foldInto(nil, text)
				if !same {
					t.Fatalf("%q: folding changes offsets", text)
				}
				lower := string(folded)
				if got, want := anchoredSearch(text, lower, starts, a, false), re.FindStringIndex(text); !slices.Equal(got, want) {
					t.Errorf("%s on %q: %v, regexp %v", expr, text, got, want)
				}
				if got, want := anchoredSearch(text, lower, starts, a, true), re.FindStringSubmatchIndex(text); !slices.Equal(got, want) {
					t.Errorf("%s on %q: submatches %v, regexp %v", expr, text, got, want)
				}
			}
		}
	}
}
