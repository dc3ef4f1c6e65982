package bounce

import (
	"regexp/syntax"
	"testing"
)

// TestExprOfRoundTrip: exprOf prints every expression the engine compiles
// (the knowledge base's pattern branches, the prefiltered expressions and
// their branches) so that it parses to what syntax.Regexp.String's text
// parses to, and to what was printed; plus the ops the knowledge base does
// not use today. Two texts agree when they compile to the same program
// (the parser may group literals differently, and a case-folding flag on a
// rune with no other case is dropped when compiling).
func TestExprOfRoundTrip(t *testing.T) {
	var all []*syntax.Regexp
	parse := func(expr string) *syntax.Regexp {
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		return re
	}
	for _, f := range freRoots {
		re := parse(f.expr)
		all = append(all, re)
		if re.Op == syntax.OpAlternate {
			all = append(all, re.Sub...)
		}
	}
	for _, p := range kb().patterns {
		re := parse("(?i)" + p.Re)
		if re.Op == syntax.OpAlternate {
			all = append(all, re.Sub...)
		} else {
			all = append(all, re)
		}
	}
	for _, expr := range []string{
		`(?i)straße|ſ[k-m]`, `a*?b+?c??d{2,5}?e{3}f{4,}`, `(?U)a*b+?`, `(?s).(?-s).`, `(?m)^a$|^b$`,
		`\Aa\z|a$|\bx\B`, `(?P<name>x)(y)`, `[^\x00-\x{10FFFF}]`, `()`, `[\[\]\-\\^]|\.\+\*\?\(\)\|\{\}\^\$`,
		`[^\n]{0,12}`, "\x00\t\n\u00e9\U0001F600", `(?i)[^a-z]`, `x{0}`, `(?:)|a`,
	} {
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, re)
	}
	if len(all) < 300 {
		t.Fatalf("only %d expressions", len(all))
	}
	for _, re := range all {
		mine, err := syntax.Parse(exprOf(re), syntax.Perl)
		if err != nil {
			t.Errorf("%s: exprOf gives %q: %v", re, exprOf(re), err)
			continue
		}
		theirs, err := syntax.Parse(re.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if p, q := progOf(t, mine), progOf(t, theirs); p != q {
			t.Errorf("%s: exprOf gives %q, which compiles to\n%s\nnot\n%s", re, exprOf(re), p, q)
		}
	}
}

func progOf(t *testing.T, re *syntax.Regexp) string {
	t.Helper()
	p, err := syntax.Compile(re.Simplify())
	if err != nil {
		t.Fatal(err)
	}
	return p.String()
}
