package bounce

import (
	"fmt"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

// quotedSample finds the samples a pattern's "why" quotes.
var quotedSample = regexp.MustCompile(`"([^"]{4,})"`)

// TestMatcherAgrees: the factor filter never changes an answer. Every
// pattern's own samples (quoted in its "why") and every text of the corpus
// give the same pattern as the plain loop over all regular expressions.
func TestMatcherAgrees(t *testing.T) {
	t.Parallel() // pure comparisons, the longest tests of the package
	var texts []string
	for i, p := range kb().patterns {
		for _, ex := range p.Examples {
			texts = append(texts, ex, strings.ToUpper(ex))
			if patternMatcher().match(ex) == nil {
				t.Errorf("pattern %d (%s): its example %q matches no pattern", i, p.Category, ex)
			}
		}
		samples := quotedSample.FindAllStringSubmatch(p.Why, -1)
		for _, m := range samples {
			texts = append(texts, m[1], strings.ToUpper(m[1]))
		}
		if len(samples) > 0 {
			hit := false
			for _, m := range samples {
				if p.regexp().MatchString(m[1]) {
					hit = true
				}
			}
			if !hit {
				t.Logf("pattern %d (%s): none of its quoted samples matches it", i, p.Category)
			}
		}
	}
	for _, f := range equivalenceFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(raw))
		b := ParseBytes(raw)
		for _, fl := range b.Failures {
			texts = append(texts, fl.Diagnostic, fl.context)
		}
	}
	texts = append(texts, "\xffspam\xff", "ſpam", "MAIL BOX IS FULL", "user \u212Anown", "Mailbox\tfull", "")
	for _, s := range texts {
		if got, want := patternMatcher().match(s), matchTextPlain(s); got != want {
			t.Errorf("%.80q: matcher gives %v, the plain loop %v", s, name(got), name(want))
		}
	}
	always := 0
	for _, b := range patternMatcher().branches {
		if b.always {
			always++
		}
	}
	t.Logf("%d texts; %d of %d branches of %d patterns have no literal factor and always run", len(texts), always, len(patternMatcher().branches), len(kb().patterns))
}

func name(p *pattern) string {
	if p == nil {
		return "none"
	}
	return p.Category + " " + p.Re[:min(len(p.Re), 30)]
}

// FuzzMatcher: the filter and the plain loop agree on any text.
// maxFuzzMatch bounds FuzzMatcher's inputs: each one also runs through
// every pattern's plain regexp, so long inputs would cost the fuzzer most
// of its executions; the text windows the parser hands the matcher are
// short too.
const maxFuzzMatch = 512

func FuzzMatcher(f *testing.F) {
	f.Add("550 5.2.2 Mailbox full")
	f.Add("blocked using zen.spamhaus.org")
	f.Add("\xffuser unknown")
	patternMatcher()
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzMatch {
			return // every pattern runs on s in the plain loop
		}
		if got, want := patternMatcher().match(s), matchTextPlain(s); got != want {
			t.Errorf("matcher %v, plain %v", name(got), name(want))
		}
	})
}

func TestRequiredFactors(t *testing.T) {
	for _, c := range []struct {
		re   string
		want string
	}{
		{`\bspam\b`, "[spam]"}, {`mail ?box (is )?full`, "[mailbox full mailbox is full mail box full mail box is full]"}, {`.{0,3}x`, "[]"},
		{`(no such|bad) user`, "[no such user bad user]"}, {`a+bc`, "[bc]"},
	} {
		re, err := syntax.Parse("(?i)"+c.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(required(re.Simplify())); got != c.want {
			t.Errorf("%s: factors %s, want %s", c.re, got, c.want)
		}
	}
}
