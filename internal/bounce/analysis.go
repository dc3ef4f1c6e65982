package bounce

import "regexp/syntax"

// reSource is what the prefilter knows of one expression: of the whole
// and, for an alternation, of each top-level alternative. Working it out
// (parsing, factors, start strings) for the knowledge base's patterns and
// the prefiltered expressions was a tenth of a short run's CPU, paid by
// every process; go generate works it out once into re_gen.go
// (regen_test.go), and the engine works it out itself only for an
// expression that table does not hold as it is (TestREGenerated keeps the
// table current, so that is only ever a stale build).
type reSource struct {
	src   string // the expression as written
	whole reAnalysis
	alts  []reAnalysis // nil unless the expression is an alternation
}

// reAnalysis is one expression's (or alternative's) prefilter facts.
type reAnalysis struct {
	expr    string   // exprOf of the parsed form: what is compiled ("" for a whole alternation)
	factors []string // required: one of them is in every match, case-folded; nil when none is known (always run)
	starts  []string // prefixSet
	ctx     bool     // leadingAssertion
	literal bool     // literalSet
}

// analyseSource parses expr and works out its reSource, with src as its
// name (what generated tables are looked up by).
func analyseSource(src, expr string) (reSource, error) {
	sre, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return reSource{}, err
	}
	r := reSource{src: src, whole: analyse(sre)}
	if sre.Op == syntax.OpAlternate {
		r.whole.expr = "" // the alternatives' are what is compiled
		for _, sub := range sre.Sub {
			r.alts = append(r.alts, analyse(sub))
		}
	}
	return r, nil
}

func analyse(re *syntax.Regexp) reAnalysis {
	simple := re.Simplify()
	f := required(simple)
	return reAnalysis{expr: exprOf(re), factors: f, starts: prefixSet(simple), ctx: leadingAssertion(re), literal: literalSet(simple, f)}
}

// generated is gen when it holds an analysis of each of srcs, in order,
// else nil.
func generated(gen []reSource, srcs []string) []reSource {
	if len(gen) != len(srcs) {
		return nil
	}
	for i, s := range srcs {
		if gen[i].src != s {
			return nil
		}
	}
	return gen
}
