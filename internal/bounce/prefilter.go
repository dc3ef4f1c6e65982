package bounce

import (
	"regexp"
	"regexp/syntax"
	"sync"
	"unsafe"
)

// fre is a regular expression with a literal prefilter: the factors any
// match must contain (matcher.go's analysis) are found for every such
// expression at once, in one Aho-Corasick pass over a case-folded copy of
// the text, remembered for the last few texts. An expression none of whose
// factors occurs is not run. The answers are exactly the regexp's.
type fre struct {
	expr   string
	once   sync.Once
	sre    *syntax.Regexp
	re     *regexp.Regexp // compiled on first use: start-up stays quick
	id     int
	always bool
	// branches: the top-level alternatives, each prefiltered on its own,
	// for MatchString and FindStringIndex (leftmost-first: the smallest
	// start, the first alternative at that start).
	branches []*fre
}

var (
	freRoots   []*fre // what mustFre registered, parsed by freSetup
	freAll     []*fre // roots and their branches, in id order (after freSetup)
	freFactors [][]string
	freReady   sync.Once
	freOnce    sync.Once
	freAC      *acMachine
)

// mustFre registers expr for a prefiltered match. Only at package
// initialisation. Nothing is parsed then: every command of the binary
// starts this package, and most never match a bounce text, so the parse,
// the factor analysis (freSetup) and the compilation (Regexp) wait for the
// first use. TestFreCompile proves every expression parses.
func mustFre(expr string) *fre {
	f := &fre{expr: expr}
	freRoots = append(freRoots, f)
	return f
}

// freSetup parses every registered expression and works out its factors,
// once, before the first match.
func freSetup() {
	freReady.Do(func() {
		for _, f := range freRoots {
			sre, err := syntax.Parse(f.expr, syntax.Perl)
			if err != nil {
				panic(err)
			}
			addFre(f, sre)
			if sre.Op == syntax.OpAlternate {
				for _, sub := range sre.Sub {
					f.branches = append(f.branches, addFre(&fre{}, sub))
				}
			}
		}
	})
}

func addFre(f *fre, sre *syntax.Regexp) *fre {
	f.sre, f.id = sre, len(freAll)
	fs := required(sre.Simplify())
	f.always = fs == nil
	freAll = append(freAll, f)
	freFactors = append(freFactors, fs)
	return f
}

// minPrefilter: shorter texts are cheaper to match directly.
const minPrefilter = 96

// scanCache remembers, by string identity, which expressions' factors
// occur in the last few texts.
type scanCache struct {
	mu   sync.Mutex
	ents [8]struct {
		text string
		hit  []bool
	}
	next int
}

var scans scanCache

func (f *fre) candidate(s string) bool {
	freSetup()
	if f.always || len(s) < minPrefilter {
		return true
	}
	return hits(s)[f.id]
}

func hits(s string) []bool {
	scans.mu.Lock()
	for _, e := range scans.ents {
		if len(e.text) == len(s) && unsafe.StringData(e.text) == unsafe.StringData(s) {
			scans.mu.Unlock()
			return e.hit
		}
	}
	scans.mu.Unlock()
	freOnce.Do(func() { freAC = buildAC(freFactors) })
	sc := scratchPool.Get().(*scratch)
	sc.folded = foldInto(sc.folded[:0], s)
	hit := make([]bool, len(freAll))
	freAC.scan(sc.folded, hit)
	scratchPool.Put(sc)
	scans.mu.Lock()
	scans.ents[scans.next].text, scans.ents[scans.next].hit = s, hit
	scans.next = (scans.next + 1) % len(scans.ents)
	scans.mu.Unlock()
	return hit
}

// Regexp is the compiled expression.
func (f *fre) Regexp() *regexp.Regexp {
	f.once.Do(func() { freSetup(); f.re = regexp.MustCompile(f.String()) })
	return f.re
}

func (f *fre) String() string {
	if f.expr == "" {
		return f.sre.String() // a branch: printed when first needed
	}
	return f.expr
}

func (f *fre) MatchString(s string) bool {
	if !f.candidate(s) {
		return false
	}
	if f.branches == nil || len(s) < minPrefilter {
		return f.Regexp().MatchString(s)
	}
	for _, b := range f.branches {
		if b.candidate(s) && b.Regexp().MatchString(s) {
			return true
		}
	}
	return false
}

func (f *fre) FindString(s string) string {
	if !f.candidate(s) {
		return ""
	}
	return f.Regexp().FindString(s)
}

func (f *fre) FindStringIndex(s string) []int {
	if !f.candidate(s) {
		return nil
	}
	if f.branches == nil || len(s) < minPrefilter {
		return f.Regexp().FindStringIndex(s)
	}
	var best []int
	for _, b := range f.branches {
		if !b.candidate(s) {
			continue
		}
		if loc := b.Regexp().FindStringIndex(s); loc != nil && (best == nil || loc[0] < best[0]) {
			best = loc
		}
	}
	return best
}

func (f *fre) FindStringSubmatch(s string) []string {
	if !f.candidate(s) {
		return nil
	}
	return f.Regexp().FindStringSubmatch(s)
}

func (f *fre) FindAllStringSubmatch(s string, n int) [][]string {
	if !f.candidate(s) {
		return nil
	}
	return f.Regexp().FindAllStringSubmatch(s, n)
}
