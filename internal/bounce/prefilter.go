package bounce

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// fre is a regular expression with a literal prefilter: the factors any
// match must contain (matcher.go's analysis) are found for every such
// expression at once, in one Aho-Corasick pass over a case-folded copy of
// the text, remembered for the last few texts. An expression none of whose
// factors occurs is not run. The answers are exactly the regexp's.
type fre struct {
	expr   string // a root's as registered, a branch's exprOf
	once   sync.Once
	re     *regexp.Regexp // compiled on first use: start-up stays quick
	id     int
	always bool
	// branches: the top-level alternatives, each prefiltered on its own,
	// for MatchString and FindStringIndex (leftmost-first: the smallest
	// start, the first alternative at that start).
	branches []*fre
	// starts: case-folded strings every match starts with (nil: not
	// known). On text whose folded copy keeps its offsets (foldInto) a
	// match can then only start where one of
	// them occurs in the folded copy, and the expression is run anchored
	// there instead of being tried at every byte of the text.
	starts []string
	anch   *anchor
	// literal: every match is one of the factors, with no assertion:
	// the scan alone answers MatchString (see literalSet).
	literal bool
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

// freSetup works out every registered expression's factors, once, before
// the first match: from the analysis go generate made (genFreSources)
// when it is of these expressions, else by parsing them.
func freSetup() {
	freReady.Do(func() {
		srcs := make([]string, len(freRoots))
		for i, f := range freRoots {
			srcs[i] = f.expr
		}
		an := generated(genFreSources, srcs)
		if an == nil {
			an = freSources()
		}
		for i, f := range freRoots {
			addFre(f, an[i].whole)
			for _, a := range an[i].alts {
				f.branches = append(f.branches, addFre(&fre{expr: a.expr}, a))
			}
		}
	})
}

// freSources analyses the registered expressions.
func freSources() []reSource {
	out := make([]reSource, len(freRoots))
	for i, f := range freRoots {
		var err error
		if out[i], err = analyseSource(f.expr, f.expr); err != nil {
			panic(err)
		}
	}
	return out
}

func addFre(f *fre, a reAnalysis) *fre {
	f.id = len(freAll)
	f.starts = a.starts
	f.anch = newAnchor(f.expr, a.ctx)
	f.always = a.factors == nil
	f.literal = a.literal
	freAll = append(freAll, f)
	freFactors = append(freFactors, a.factors)
	return f
}

// prefixSet finds strings (case-folded, none empty) one of which every
// match of re starts with; nil when unknown. Assertions count as empty:
// the anchored run checks them with their real context (anchor).
func prefixSet(re *syntax.Regexp) []string {
	set, ok := prefixes(re)
	if !ok || len(set) == 0 || len(set) > maxExact {
		return nil
	}
	for _, x := range set {
		if x == "" {
			return nil
		}
	}
	return set
}

func prefixes(re *syntax.Regexp) ([]string, bool) {
	if s, ok := exactSet(re); ok {
		return s, true
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return prefixes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return prefixes(re.Sub[0])
		}
	case syntax.OpAlternate:
		var acc []string
		for _, sub := range re.Sub {
			s, ok := prefixes(sub)
			if !ok || slices.Contains(s, "") {
				return nil, false
			}
			acc = append(acc, s...)
			if len(acc) > maxExact {
				return nil, false
			}
		}
		return acc, true
	case syntax.OpConcat:
		acc := []string{""}
		for _, sub := range re.Sub {
			if s, ok := exactSet(sub); ok {
				next := cross(acc, s)
				if next == nil {
					return acc, true
				}
				acc = next
				continue
			}
			if s, ok := prefixes(sub); ok && !slices.Contains(s, "") {
				if next := cross(acc, s); next != nil {
					acc = next
				}
			}
			return acc, true
		}
		return acc, true
	}
	return nil, false
}

// literalSet reports whether the matches of re are exactly the factor
// strings fs (case-folded) and re checks no assertion: then re matches a
// text if and only if one of them occurs in the text's folded copy, which
// the automaton already knows, and no regexp need run. (A factor with
// U+FFFD is left out: an invalid byte is kept as it is in the folded copy,
// while the regexp reads it as U+FFFD.)
func literalSet(re *syntax.Regexp, fs []string) bool {
	set, ok := exactSet(re)
	if !ok || fs == nil || !slices.Equal(set, fs) || hasAssertion(re) {
		return false
	}
	for _, x := range set {
		if strings.ContainsRune(x, utf8.RuneError) {
			return false
		}
	}
	return true
}

func hasAssertion(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpBeginLine, syntax.OpBeginText,
		syntax.OpEndLine, syntax.OpEndText:
		return true
	}
	for _, sub := range re.Sub {
		if hasAssertion(sub) {
			return true
		}
	}
	return false
}

// anchor runs an expression at a given place of a text: a0 is it anchored
// at the start of the rest of the text. When an assertion (\b, \B, ^, \A)
// can come first in a match (ctx), it must see the byte before the match,
// so a match at p > 0 uses a1, which first takes that byte. When the byte
// ends a multi-byte rune, a1 reads it as U+FFFD: neither is a word
// character (\b is ASCII) nor a newline, so every assertion answers as on
// the real rune. Each is compiled on first use: compiling was a fifth of a
// 1,380-message run.
type anchor struct {
	expr         string
	ctx          bool
	once0, once1 sync.Once
	a0, a1       *regexp.Regexp
}

func newAnchor(expr string, ctx bool) *anchor {
	return &anchor{expr: expr, ctx: ctx}
}

// leadingAssertion reports whether an assertion can be the first thing a
// match of re checks.
func leadingAssertion(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpBeginLine, syntax.OpBeginText:
		return true
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if leadingAssertion(sub) {
				return true
			}
			if !canBeEmpty(sub) {
				return false
			}
		}
		return false
	case syntax.OpAlternate, syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		for _, sub := range re.Sub {
			if leadingAssertion(sub) {
				return true
			}
		}
	}
	return false
}

func canBeEmpty(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune) == 0
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpNoMatch:
		return false
	case syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpRepeat:
		return re.Min == 0 || canBeEmpty(re.Sub[0])
	case syntax.OpPlus, syntax.OpCapture:
		return canBeEmpty(re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !canBeEmpty(sub) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if canBeEmpty(sub) {
				return true
			}
		}
		return false
	}
	return true // assertions, empty match
}

// at is FindStringIndex (or FindStringSubmatchIndex with sub) of the
// expression starting exactly at p, in s's offsets; nil if none.
func (a *anchor) at(s string, p int, sub bool) []int {
	var re *regexp.Regexp
	from := p
	if p > 0 && a.ctx {
		a.once1.Do(func() { a.a1 = compileRE(`\A(?s:.)(?:` + a.expr + `)`) })
		re, from = a.a1, p-1
	} else {
		a.once0.Do(func() { a.a0 = compileRE(`\A(?:` + a.expr + `)`) })
		re = a.a0
	}
	var m []int
	if sub {
		m = re.FindStringSubmatchIndex(s[from:])
	} else {
		m = re.FindStringIndex(s[from:])
	}
	if m == nil {
		return nil
	}
	for i := range m {
		if m[i] >= 0 {
			m[i] += from
		}
	}
	m[0] = p // the byte a1 took is not part of the match
	return m
}

// minPrefilter: shorter texts are cheaper to match directly. A diagnostic
// of a hundred bytes already gains from the scan (it is shared by every
// expression run on it, and the anchored runs are short).
const minPrefilter = 16

// scanCache remembers, by string identity, which expressions' factors
// occur in the last few texts. An entry is not changed once made, so a
// hit hands out the entry itself (copying it cost an allocation per
// question asked of a text). An entry holds its text, so the text's
// memory cannot be reused for another while the entry lives.
type scanCache struct {
	mu   sync.Mutex
	ents [8]*scanned

	next int
}

var scans scanCache

// scanned is what one scan of a text found: which expressions' factors
// occur (a bitset by id; inline holds it when it is small enough, so an
// entry is one allocation), and whether folding the text keeps every
// offset (foldInto). The folded copy itself is made only when an
// anchored search first needs it (lowered): most texts scanned never do.
type scanned struct {
	text      string
	same      bool
	hit       bitset
	inline    [3]uint64
	lowerOnce sync.Once
	lower     string
}

// lowered is the text case-folded when that keeps every offset, else "".
func (r *scanned) lowered() string {
	if !r.same {
		return ""
	}
	r.lowerOnce.Do(func() {
		b, _ := foldInto(make([]byte, 0, len(r.text)), r.text)
		r.lower = unsafe.String(unsafe.SliceData(b), len(b))
	})
	return r.lower
}

func (f *fre) candidate(s string) bool {
	freSetup()
	if f.always || len(s) < minPrefilter {
		return true
	}
	return scan(s).hit.has(f.id)
}

func scan(s string) *scanned {
	scans.mu.Lock()
	for i := range scans.ents {
		e := scans.ents[i]
		if e != nil && len(e.text) == len(s) && unsafe.StringData(e.text) == unsafe.StringData(s) {
			scans.mu.Unlock()
			return e
		}
	}
	scans.mu.Unlock()
	freMachine()
	sc := scratchPool.Get().(*scratch)
	r := &scanned{text: s}
	sc.folded, r.same = foldInto(sc.folded[:0], s)
	if n := bitsetWords(len(freAll)); n <= len(r.inline) {
		r.hit = r.inline[:n]
	} else {
		r.hit = newBitset(len(freAll))
	}
	freAC.scan(sc.folded, r.hit)
	scratchPool.Put(sc)
	scans.mu.Lock()
	scans.ents[scans.next] = r
	scans.next = (scans.next + 1) % len(scans.ents)
	scans.mu.Unlock()
	return r
}

// freMachine sets up the automaton over every expression's factors, once:
// the generated one when it is of these factors (loadAC).
func freMachine() {
	freSetup()
	freOnce.Do(func() { freAC = loadAC(acFreData, freFactors) })
}

// warmUp starts the engine's first-use set-up in the background, in two
// goroutines: the knowledge base with its pattern matcher, and the
// prefiltered expressions with their automaton. ParseAll calls it first,
// so that the set-up runs while the paths are listed and the first files
// read, on both cores, instead of in the first worker while the other
// waits for it.
func warmUp() {
	go patternMatcher()
	go freMachine()
}

// findAt is the leftmost match of f in s, as FindStringSubmatchIndex
// gives it (with submatches when sub), found at the candidate starts; ok
// is false when that way does not apply (then the caller runs the plain
// regexp).
func (f *fre) findAt(s string, sub bool) (loc []int, ok bool) {
	if f.starts == nil || len(s) < minPrefilter {
		return nil, false
	}
	sc := scan(s)
	if !sc.same {
		return nil, false
	}
	if !sc.hit.has(f.id) && !f.always {
		return nil, true
	}
	return anchoredSearch(s, sc.lowered(), f.starts, f.anch, sub), true
}

// anchoredSearch finds the leftmost match of an expression every match of
// which starts with one of starts: at each place where one occurs in lower
// (s case-folded, offset for offset), in order, it runs the expression
// anchored there (a). The result is FindStringIndex's or, with sub,
// FindStringSubmatchIndex's.
func anchoredSearch(s, lower string, starts []string, a *anchor, sub bool) []int {
	return anchoredSearchFrom(s, lower, starts, a, sub, 0)
}

// anchoredSearchFrom is anchoredSearch for a match starting at from or
// after (the context before from still counts for assertions).
func anchoredSearchFrom(s, lower string, starts []string, a *anchor, sub bool, from int) []int {
	var next [maxExact]int // the next occurrence of each start string
	n := len(starts)
	for i, x := range starts {
		next[i] = indexFrom(lower, x, from)
	}
	for {
		p := -1
		for i := 0; i < n; i++ {
			if next[i] >= 0 && (p < 0 || next[i] < p) {
				p = next[i]
			}
		}
		if p < 0 {
			return nil
		}
		if m := a.at(s, p, sub); m != nil {
			return m
		}
		for i := 0; i < n; i++ {
			if next[i] == p {
				next[i] = indexFrom(lower, starts[i], p+1)
			}
		}
	}
}

func indexFrom(s, sub string, from int) int {
	if from > len(s) {
		return -1
	}
	if i := strings.Index(s[from:], sub); i >= 0 {
		return from + i
	}
	return -1
}

// find is the leftmost match of f (one branch, or a root without
// branches).
func (f *fre) find(s string) []int {
	if loc, ok := f.findAt(s, false); ok {
		return loc
	}
	if !f.candidate(s) {
		return nil
	}
	return f.Regexp().FindStringIndex(s)
}

// Regexp is the compiled expression.
func (f *fre) Regexp() *regexp.Regexp {
	f.once.Do(func() { freSetup(); f.re = compileRE(f.expr) })
	return f.re
}

func (f *fre) String() string { return f.expr }

func (f *fre) MatchString(s string) bool {
	if !f.candidate(s) {
		return false
	}
	if f.literal && len(s) >= minPrefilter {
		return true // a factor occurred (candidate scanned), and it is a whole match
	}
	if f.branches == nil || len(s) < minPrefilter {
		if loc, ok := f.findAt(s, false); ok {
			return loc != nil
		}
		return f.Regexp().MatchString(s)
	}
	for _, b := range f.branches {
		if !b.candidate(s) {
			continue
		}
		if b.literal {
			return true // a factor occurred, and it is a whole match
		}
		if loc, ok := b.findAt(s, false); ok {
			if loc != nil {
				return true
			}
			continue
		}
		if b.Regexp().MatchString(s) {
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
		return f.find(s)
	}
	var best []int
	for _, b := range f.branches {
		if !b.candidate(s) {
			continue
		}
		if loc := b.find(s); loc != nil && (best == nil || loc[0] < best[0]) {
			best = loc
		}
	}
	return best
}

func (f *fre) FindStringSubmatch(s string) []string {
	if !f.candidate(s) {
		return nil
	}
	if f.branches == nil {
		if loc, ok := f.findAt(s, true); ok {
			if loc == nil {
				return nil
			}
			out := make([]string, len(loc)/2)
			for i := range out {
				if loc[2*i] >= 0 {
					out[i] = s[loc[2*i]:loc[2*i+1]]
				}
			}
			return out
		}
	}
	return f.Regexp().FindStringSubmatch(s)
}

// FindAllStringSubmatch is the regexp's, found at the start strings when
// f has them and the text's folded copy keeps its offsets: each match is
// the leftmost one starting where the previous ended. An empty match (the
// regexp then steps one rune further) hands over to the regexp.
func (f *fre) FindAllStringSubmatch(s string, n int) [][]string {
	if !f.candidate(s) {
		return nil
	}
	if f.branches != nil || f.starts == nil || len(s) < minPrefilter {
		return f.Regexp().FindAllStringSubmatch(s, n)
	}
	sc := scan(s)
	if !sc.same {
		return f.Regexp().FindAllStringSubmatch(s, n)
	}
	lower := sc.lowered()
	var out [][]string
	for from := 0; n < 0 || len(out) < n; {
		loc := anchoredSearchFrom(s, lower, f.starts, f.anch, true, from)
		if loc == nil {
			break
		}
		if loc[1] == loc[0] {
			return f.Regexp().FindAllStringSubmatch(s, n)
		}
		m := make([]string, len(loc)/2)
		for i := range m {
			if loc[2*i] >= 0 {
				m[i] = s[loc[2*i]:loc[2*i+1]]
			}
		}
		out = append(out, m)
		from = loc[1]
	}
	return out
}
