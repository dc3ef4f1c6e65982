package bounce

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// The knowledge base's text patterns are regular expressions, matched
// case-insensitively. Running each one over each text cost most of the
// parser's time, so matching goes in two steps:
//
//  1. At load time every pattern is analysed (regexp/syntax) for the
//     literal factors any match must contain: '\bspam\b' needs "spam",
//     'mail ?box (is )?full' needs "box" and "full" (one of a set is
//     enough). All factors of all patterns go into one Aho-Corasick
//     automaton over case-folded bytes.
//  2. A text is case-folded once and scanned once; only the patterns one of
//     whose factors occurred are candidates, and only those run their
//     regular expression (in knowledge-base order, so the answer is the
//     one the plain loop gives). A pattern without a usable factor is
//     always a candidate.
//
// The filter never changes a result: a pattern whose factors are all
// absent cannot match. TestMatcherAgrees compares it with the plain loop.

// factorSet is a set of case-folded strings one of which every match
// contains; nil means "no requirement known".
type factorSet []string

const (
	maxExact   = 32 // strings kept when enumerating a sub-expression exactly
	maxFactors = 64 // factors kept for one pattern
)

// exactSet enumerates every string re can match when they are few and
// short (for "(is |was )?full"); ok is false otherwise.
func exactSet(re *syntax.Regexp) (out []string, ok bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return []string{""}, true
	case syntax.OpLiteral:
		return []string{foldString(string(re.Rune))}, true
	case syntax.OpCharClass:
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > 8 {
				return nil, false
			}
			for r := lo; r <= hi; r++ {
				s := foldString(string(r))
				if !slices.Contains(set, s) {
					set = append(set, s)
				}
				if len(set) > 8 {
					return nil, false
				}
			}
		}
		return set, len(set) > 0
	case syntax.OpCapture:
		return exactSet(re.Sub[0])
	case syntax.OpQuest:
		s, ok := exactSet(re.Sub[0])
		if !ok {
			return nil, false
		}
		return append([]string{""}, s...), true
	case syntax.OpConcat:
		acc := []string{""}
		for _, sub := range re.Sub {
			s, ok := exactSet(sub)
			if !ok {
				return nil, false
			}
			acc = cross(acc, s)
			if acc == nil {
				return nil, false
			}
		}
		return acc, true
	case syntax.OpAlternate:
		var acc []string
		for _, sub := range re.Sub {
			s, ok := exactSet(sub)
			if !ok {
				return nil, false
			}
			acc = append(acc, s...)
			if len(acc) > maxExact {
				return nil, false
			}
		}
		return acc, true
	}
	return nil, false
}

func cross(a, b []string) []string {
	if len(a)*len(b) > maxExact {
		return nil
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

// required returns factors one of which every match of re contains.
func required(re *syntax.Regexp) factorSet {
	if s, ok := exactSet(re); ok {
		return usable(s)
	}
	switch re.Op {
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
		return nil
	case syntax.OpAlternate:
		var acc factorSet
		for _, sub := range re.Sub {
			f := required(sub)
			if f == nil {
				return nil
			}
			acc = append(acc, f...)
		}
		if len(acc) > maxFactors {
			return nil
		}
		return acc
	case syntax.OpConcat:
		// Runs of exactly known children make longer factors; any child's
		// own requirement is a candidate too. Keep the best.
		var best factorSet
		consider := func(f factorSet) {
			if f != nil && (best == nil || better(f, best)) {
				best = f
			}
		}
		run := []string{""}
		flush := func() {
			if len(run) > 0 {
				consider(usable(run))
			}
			run = []string{""}
		}
		for _, sub := range re.Sub {
			if s, ok := exactSet(sub); ok {
				if next := cross(run, s); next != nil {
					run = next
					continue
				}
				flush()
				run = s
				continue
			}
			flush()
			consider(required(sub))
		}
		flush()
		return best
	}
	return nil
}

// usable turns an exact set into factors: nil when one of them is too
// short to filter anything (empty or one byte).
func usable(s []string) factorSet {
	if len(s) == 0 || len(s) > maxFactors {
		return nil
	}
	for _, x := range s {
		if len(x) < 2 {
			return nil
		}
	}
	return slices.Clone(s)
}

// better prefers factors whose shortest member is longer, then fewer.
func better(a, b factorSet) bool {
	ma, mb := minLen(a), minLen(b)
	if ma != mb {
		return ma > mb
	}
	return len(a) < len(b)
}

func minLen(f factorSet) int {
	m := -1
	for _, s := range f {
		if m < 0 || len(s) < m {
			m = len(s)
		}
	}
	return m
}

// foldRune maps a rune to the representative of its case-folding orbit
// (the one (?i) treats as equal): ASCII letters to lower case, others to
// the smallest rune of the orbit, lowered when that is an ASCII letter
// (so the Kelvin sign folds to "k", as (?i)k matches it).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}

func foldString(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldInto appends the case-folded text to dst. ASCII is folded byte by
// byte; invalid UTF-8 is kept as it is (no pattern factor contains it).
// same reports whether the folded text is s offset for offset: s is valid
// UTF-8 and every rune folds to one of the same length (not so for the
// Kelvin sign or the long s, which fold to ASCII). Then a folded string
// found at an offset of the copy starts a candidate match at that offset
// of s (anchoredSearch), whatever the script of the text.
func foldInto(dst []byte, s string) (_ []byte, same bool) {
	same = true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, c)
			same = false
			i++
			continue
		}
		f := foldRune(r)
		if utf8.RuneLen(f) != n {
			same = false
		}
		dst = utf8.AppendRune(dst, f)
		i += n
	}
	return dst, same
}

// acMachine is an Aho-Corasick automaton over bytes with a full
// transition table on byte classes (every byte no factor contains is one
// class). It is read-only: scans share it without a lock.
//
// The knowledge base's automaton (8,344 states × 77 classes) and the
// prefilter's are made by go generate into data/ac_*.bin (acdata.go), and a
// process's automaton is a view over that data, which lands in the
// binary's read-only data: nothing is built, allocated or filled at run
// time, and a text touches only the pages of the rows it visits. buildAC
// makes the same automaton from factor lists; the engine calls it only
// when the generated data is not of its factors (a stale build).
//
// Rows are stride cells apart (nclass rounded up to a multiple of 2^k). A
// cell is the next state's row offset shifted right k-1 times, with bit 0
// set when that state ends a factor: the scan is one table load per byte,
// then a mask and a shift to the next row (no multiplication on the
// byte-to-byte chain), and reads the output lists only where a factor
// ends. Cells are uint16 with the smallest k that makes every offset fit
// (k = 2 and 5 for the prefilter's and the knowledge base's), else uint32
// with k = 1.
type acMachine struct {
	class   *[256]uint8
	nclass  int
	nstates int
	stride  int
	shift   uint     // k-1
	cells16 []uint16 // row s*stride+c: the transition from state s on class c
	cells32 []uint32 // the same when no k fits uint16
	// State s's outputs, the patterns one of whose factors ends there (with
	// its fail chain's), are outIDs[outOff[s]:outOff[s+1]].
	outOff []uint32
	outIDs []uint32
	static bool // a view over generated data (loadAC)
}

// buildAC makes the automaton over factors (pattern p's are factors[p]):
// a trie, its fail links and outputs breadth first, then the full table.
func buildAC(factors [][]string) *acMachine {
	m := &acMachine{class: new([256]uint8), nclass: 1}
	size := 1
	for _, fs := range factors {
		for _, f := range fs {
			size += len(f)
			for j := 0; j < len(f); j++ {
				if m.class[f[j]] == 0 {
					m.class[f[j]] = uint8(m.nclass)
					m.nclass++
				}
			}
		}
	}
	// The trie as flat lists: a state's first child, its next sibling and
	// the class of the edge into it; the root's children by class.
	firstKid := make([]int32, 1, size)
	nextSib := make([]int32, 1, size)
	edgeClass := make([]uint8, 1, size)
	firstKid[0], nextSib[0] = -1, -1
	var rootKid [256]int32
	for i := range rootKid {
		rootKid[i] = -1
	}
	child := func(s int32, c uint8) int32 {
		if s == 0 {
			return rootKid[c]
		}
		for k := firstKid[s]; k >= 0; k = nextSib[k] {
			if edgeClass[k] == c {
				return k
			}
		}
		return -1
	}
	out := make([][]int32, 1, size)
	for pi, fs := range factors {
		for _, f := range fs {
			s := int32(0)
			for j := 0; j < len(f); j++ {
				c := m.class[f[j]]
				t := child(s, c)
				if t < 0 {
					t = int32(len(out))
					out = append(out, nil)
					firstKid = append(firstKid, -1)
					nextSib = append(nextSib, firstKid[s])
					edgeClass = append(edgeClass, c)
					firstKid[s] = t
					if s == 0 {
						rootKid[c] = t
					}
				}
				s = t
			}
			if !slices.Contains(out[s], int32(pi)) {
				out[s] = append(out[s], int32(pi))
			}
		}
	}
	// Breadth first: a state's row is its fail state's (already done: it is
	// shallower) with the trie's edges over it; its outputs take the fail
	// state's.
	n, nc := len(out), m.nclass
	m.nstates = n
	next := make([]int32, n*nc)
	fail := make([]int32, n)
	queue := make([]int32, 1, n) // becomes the states in breadth-first order
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		row := next[int(s)*nc : int(s+1)*nc]
		if s != 0 {
			copy(row, next[int(fail[s])*nc:int(fail[s]+1)*nc])
			for _, p := range out[fail[s]] {
				if !slices.Contains(out[s], p) {
					out[s] = append(out[s], p)
				}
			}
		}
		for k := firstKid[s]; k >= 0; k = nextSib[k] {
			c := edgeClass[k]
			if s != 0 {
				fail[k] = row[c] // the fail state's transition, not yet overwritten
			}
			queue = append(queue, k)
		}
		for k := firstKid[s]; k >= 0; k = nextSib[k] {
			row[edgeClass[k]] = k
		}
	}
	// The table numbers the states breadth first: the shallow states, where
	// a scan spends nearly all its time, have neighbouring rows, so a text
	// touches fewer pages and cache lines. id maps a trie state to its number.
	id := make([]int32, n)
	for i, s := range queue {
		id[s] = int32(i)
	}
	m.outOff = make([]uint32, n+1)
	m.outIDs = make([]uint32, 0, n)
	for i, s := range queue {
		for _, p := range out[s] {
			m.outIDs = append(m.outIDs, uint32(p))
		}
		m.outOff[i+1] = uint32(len(m.outIDs))
	}
	// The smallest k whose last row offset, shifted, fits a uint16 cell
	// with its bit.
	k := 1
	for ; k <= 8; k++ {
		stride := (nc + 1<<k - 1) &^ (1<<k - 1)
		if ((n-1)*stride)>>(k-1)|1 <= 0xffff {
			break
		}
	}
	wide := k > 8
	if wide {
		k = 1
	}
	m.shift = uint(k - 1)
	m.stride = (nc + 1<<k - 1) &^ (1<<k - 1)
	if wide {
		m.cells32 = make([]uint32, n*m.stride)
		fillCells(m, m.cells32, next, out, queue, id)
	} else {
		m.cells16 = make([]uint16, n*m.stride)
		fillCells(m, m.cells16, next, out, queue, id)
	}
	return m
}

// fillCells writes the table's cells from next, the transitions by trie
// state (nclass a row), in the states' breadth-first order (id numbers
// them).
func fillCells[T uint16 | uint32](m *acMachine, cells []T, next []int32, out [][]int32, order, id []int32) {
	for i, s := range order {
		for c, t := range next[int(s)*m.nclass : int(s+1)*m.nclass] {
			v := uint32(int(id[t])*m.stride) >> m.shift
			if len(out[t]) > 0 {
				v |= 1
			}
			cells[i*m.stride+c] = T(v)
		}
	}
}

// bitset is a set of small integers (pattern or expression ids).
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, bitsetWords(n)) }
func bitsetWords(n int) int     { return (n + 63) / 64 }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) add(i int)      { b[i>>6] |= 1 << (i & 63) }

// scan adds to hit every pattern one of whose factors occurs in text.
func (m *acMachine) scan(text []byte, hit bitset) {
	if m.cells16 != nil {
		scanCells(m, m.cells16, text, hit)
	} else {
		scanCells(m, m.cells32, text, hit)
	}
}

func scanCells[T uint16 | uint32](m *acMachine, cells []T, text []byte, hit bitset) {
	class, shift := m.class, m.shift&63
	row := 0 // the state's row offset
	for _, b := range text {
		v := cells[row+int(class[b])]
		row = int(v&^1) << shift
		if v&1 != 0 {
			s := row / m.stride
			for _, p := range m.outIDs[m.outOff[s]:m.outOff[s+1]] {
				hit.add(int(p))
			}
		}
	}
}

// scratch is the per-call memory of match, pooled.
type scratch struct {
	folded []byte
	hit    bitset
}

var scratchPool = sync.Pool{New: func() any { return &scratch{folded: make([]byte, 0, maxMatchText)} }}

// matcher is the compiled form of the knowledge base's patterns. A
// pattern's top-level alternatives are branches of their own, each with
// its factors and its regular expression: a hit runs only the branches
// it can start, which are small.
type matcher struct {
	patterns []*pattern
	branches []branch
	ac       *acMachine
}

type branch struct {
	pattern int    // index in patterns
	expr    string // the alternative as compiled
	once    *sync.Once
	re      *regexp.Regexp // compiled on first use
	always  bool           // no factor: always run
	// starts: as fre's; anch runs the branch where one occurs.
	starts []string
	anch   *anchor
	// literal: a hit is a match (literalSet); no regexp runs.
	literal bool
}

func (b *branch) regexp() *regexp.Regexp {
	b.once.Do(func() { b.re = compileRE(b.expr) })
	return b.re
}

// matches runs the branch on text; lower is text case-folded when that
// keeps every offset (foldInto), else "".
func (b *branch) matches(text, lower string) bool {
	if b.starts != nil && lower != "" {
		return anchoredSearch(text, lower, b.starts, b.anch, false) != nil
	}
	return b.regexp().MatchString(text)
}

// newMatcher compiles ps with the analysis go generate made of them
// (genMatcherSources) when it is theirs, else works it out.
func newMatcher(ps []*pattern) (*matcher, error) {
	m := &matcher{patterns: ps}
	srcs := make([]string, len(ps))
	for i, p := range ps {
		srcs[i] = p.Re
	}
	an := generated(genMatcherSources, srcs)
	if an == nil {
		var err error
		if an, err = matcherSources(ps); err != nil {
			return nil, err
		}
	}
	var factors [][]string
	for i, s := range an {
		for _, a := range branchesOf(s) {
			m.branches = append(m.branches, branch{pattern: i, expr: a.expr, once: new(sync.Once), always: a.factors == nil,
				starts: a.starts, anch: newAnchor(a.expr, a.ctx), literal: a.literal})
			factors = append(factors, a.factors)
		}
	}
	m.ac = loadAC(acKBData, factors)
	return m, nil
}

// branchesOf is a pattern's branches: its top-level alternatives, or the
// whole.
func branchesOf(s reSource) []reAnalysis {
	if s.alts == nil {
		return []reAnalysis{s.whole}
	}
	return s.alts
}

// matcherFactors is the factor lists of the matcher's branches, in order:
// what its automaton is built over.
func matcherFactors(an []reSource) [][]string {
	var factors [][]string
	for _, s := range an {
		for _, a := range branchesOf(s) {
			factors = append(factors, a.factors)
		}
	}
	return factors
}

// matcherSources analyses the patterns as the matcher runs them: case
// folded.
func matcherSources(ps []*pattern) ([]reSource, error) {
	out := make([]reSource, len(ps))
	for i, p := range ps {
		var err error
		if out[i], err = analyseSource(p.Re, "(?i)"+p.Re); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// match is matchText's work: the first strong match, else the first weak
// one, trying only candidate branches.
func (m *matcher) match(text string) *pattern {
	if len(text) > maxMatchText {
		text = text[:maxMatchText]
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	var same bool
	sc.folded, same = foldInto(sc.folded[:0], text)
	n := bitsetWords(len(m.branches))
	sc.hit = slices.Grow(sc.hit[:0], n)[:n]
	clear(sc.hit)
	m.ac.scan(sc.folded, sc.hit)
	hit := sc.hit
	lower := ""
	if same {
		// Not copied: sc.folded is not written again before match returns.
		lower = unsafe.String(unsafe.SliceData(sc.folded), len(sc.folded))
	}
	var weak *pattern
	last := -1 // the pattern last found to match
	for i := range m.branches {
		b := &m.branches[i]
		p := m.patterns[b.pattern]
		if (!hit.has(i) && !b.always) || b.pattern == last {
			continue
		}
		if !p.strong && weak != nil {
			continue
		}
		if b.literal || b.matches(text, lower) { // a literal branch is here only on a hit
			last = b.pattern
			if p.strong {
				return p
			}
			weak = p
		}
	}
	return weak
}
