package bounce

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// acMachine is an Aho-Corasick automaton over bytes with a transition
// table on byte classes (every byte no factor contains is one class). The
// table is filled lazily, a cell on its first use: a full table (thousands
// of states times dozens of classes) cost tens of milliseconds at start-up,
// paid by every `explain` of one message, while a text only ever visits a
// few hundred states. A state gets its row of the table only when a
// transition first leads to it, so the table holds the states texts visit,
// in the order they were first visited: a run touches a few hundred KB
// instead of allocating the 2.5 MB a row per state would take (which in a
// short process was heap to fault in and to count in the collector's goal).
//
// Scans run concurrently without a lock: cells are read atomically, and a
// cell is filled, a row assigned and the table grown under mu. A grown
// table is a new slice published atomically; a scan holding the old one
// takes the new one when a cell leads past its end or it fills a cell.
type acMachine struct {
	class  [256]uint8
	nclass int
	out    [][]int32 // per state: the patterns whose factor ends here (with the fail chain's)
	fail   []int32
	// The trie, read-only after buildAC, as flat lists (a slice per state
	// cost thousands of allocations at start-up): a state's first child,
	// its next sibling and the class of the edge into it.
	firstKid, nextSib []int32
	edgeClass         []uint8
	// rootKid is the root's children by class (-1: none): nearly every
	// transition a fill works out ends at the root after the fail chain,
	// and the root has a child for most classes.
	rootKid [256]int32

	table acTable // current table; the cells are read atomically
	mu    sync.Mutex
	rowOf []int32 // per state: 1 + its row's offset in the table, 0 while it has none (under mu)
}

// acTable is the transition table: row r (an offset, a multiple of nclass)
// holds a cell per class (see cell), and stateOf[r/nclass] is the row's
// state. Both only grow; a cell, once set, never changes.
type acTable struct {
	p atomic.Pointer[acRows]
}

type acRows struct {
	cells   []int32
	stateOf []int32
}

func buildAC(factors [][]string) *acMachine {
	m := &acMachine{nclass: 1}
	for i := range m.rootKid {
		m.rootKid[i] = -1
	}
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
	m.firstKid = make([]int32, 1, size)
	m.nextSib = make([]int32, 1, size)
	m.edgeClass = make([]uint8, 1, size)
	m.firstKid[0], m.nextSib[0] = -1, -1
	m.out = make([][]int32, 1, size)
	for pi, fs := range factors {
		for _, f := range fs {
			s := int32(0)
			for j := 0; j < len(f); j++ {
				c := m.class[f[j]]
				t := m.child(s, c)
				if t < 0 {
					t = int32(len(m.out))
					m.out = append(m.out, nil)
					m.firstKid = append(m.firstKid, -1)
					m.nextSib = append(m.nextSib, m.firstKid[s])
					m.edgeClass = append(m.edgeClass, c)
					m.firstKid[s] = t
					if s == 0 {
						m.rootKid[c] = t
					}
				}
				s = t
			}
			if !slices.Contains(m.out[s], int32(pi)) {
				m.out[s] = append(m.out[s], int32(pi))
			}
		}
	}
	// Breadth-first: fail links and the fail chain's outputs.
	m.fail = make([]int32, len(m.out))
	queue := make([]int32, 0, len(m.out))
	for k := m.firstKid[0]; k >= 0; k = m.nextSib[k] {
		queue = append(queue, k)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, p := range m.out[m.fail[s]] {
			if !slices.Contains(m.out[s], p) {
				m.out[s] = append(m.out[s], p)
			}
		}
		for k := m.firstKid[s]; k >= 0; k = m.nextSib[k] {
			if s != 0 {
				m.fail[k] = m.goTo(m.fail[s], m.edgeClass[k])
			}
			queue = append(queue, k)
		}
	}
	// The root's row is row 0; others come as texts reach their states.
	const firstRows = 256
	m.rowOf = make([]int32, len(m.out))
	m.rowOf[0] = 1
	rows := &acRows{cells: make([]int32, m.nclass, firstRows*m.nclass), stateOf: make([]int32, 1, firstRows)}
	m.table.p.Store(rows)
	return m
}

// child is the trie's edge from s on class c, -1 when there is none.
func (m *acMachine) child(s int32, c uint8) int32 {
	if s == 0 {
		return m.rootKid[c]
	}
	for k := m.firstKid[s]; k >= 0; k = m.nextSib[k] {
		if m.edgeClass[k] == c {
			return k
		}
	}
	return -1
}

// goTo is the automaton's transition computed from the trie and the fail
// links (buildAC calls it before the table exists).
func (m *acMachine) goTo(s int32, c uint8) int32 {
	for {
		if t := m.child(s, c); t >= 0 {
			return t
		}
		if s == 0 {
			return 0
		}
		s = m.fail[s]
	}
}

// cell is the table's entry for a transition to the state with row offset
// row: the offset plus one, so that 0 means "not computed yet", shifted
// left once, with bit 0 set when the state ends a factor. A scan then
// needs no multiplication to find the next row and reads a state's
// outputs only at the few states that have any: the scan runs one
// dependent load per byte.
func (m *acMachine) cell(row, state int32) int32 {
	v := (row + 1) << 1
	if len(m.out[state]) > 0 {
		v |= 1
	}
	return v
}

// fill computes the table's entry for row (a row offset) and class c,
// giving the next state a row if it has none. It returns the entry and
// the current table.
func (m *acMachine) fill(row int32, c uint8) (int32, *acRows) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := m.table.p.Load()
	if v := atomic.LoadInt32(&rows.cells[row+int32(c)]); v != 0 {
		return v, rows // another scan filled it
	}
	t := m.goTo(rows.stateOf[row/int32(m.nclass)], c)
	if m.rowOf[t] == 0 {
		if len(rows.cells)+m.nclass > cap(rows.cells) {
			// Grow into a new table; scans on the old one keep reading
			// it (its cells stay right) until they take this one.
			grown := &acRows{
				cells:   make([]int32, len(rows.cells), 2*cap(rows.cells)),
				stateOf: make([]int32, len(rows.stateOf), 2*cap(rows.stateOf)),
			}
			for i := range rows.cells {
				grown.cells[i] = atomic.LoadInt32(&rows.cells[i])
			}
			copy(grown.stateOf, rows.stateOf)
			rows = grown
		} else {
			rows = &acRows{cells: rows.cells, stateOf: rows.stateOf}
		}
		m.rowOf[t] = int32(len(rows.cells)) + 1
		rows.cells = rows.cells[:len(rows.cells)+m.nclass]
		rows.stateOf = append(rows.stateOf, t)
		m.table.p.Store(rows)
	}
	v := m.cell(m.rowOf[t]-1, t)
	atomic.StoreInt32(&rows.cells[row+int32(c)], v)
	return v, rows
}

// bitset is a set of small integers (pattern or expression ids).
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, bitsetWords(n)) }
func bitsetWords(n int) int     { return (n + 63) / 64 }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) add(i int)      { b[i>>6] |= 1 << (i & 63) }

// scan adds to hit every pattern one of whose factors occurs in text.
func (m *acMachine) scan(text []byte, hit bitset) {
	rows := m.table.p.Load()
	row := int32(0) // the state's row offset
	for _, b := range text {
		c := m.class[b]
		v := atomic.LoadInt32(&rows.cells[row+int32(c)])
		if v == 0 {
			v, rows = m.fill(row, c)
		}
		row = v>>1 - 1
		if int(row) >= len(rows.cells) {
			rows = m.table.p.Load() // a row added after this scan took its table
		}
		if v&1 != 0 {
			for _, p := range m.out[rows.stateOf[row/int32(m.nclass)]] {
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
		subs := s.alts
		if subs == nil {
			subs = []reAnalysis{s.whole}
		}
		for _, a := range subs {
			m.branches = append(m.branches, branch{pattern: i, expr: a.expr, once: new(sync.Once), always: a.factors == nil,
				starts: a.starts, anch: newAnchor(a.expr, a.ctx), literal: a.literal})
			factors = append(factors, a.factors)
		}
	}
	m.ac = buildAC(factors)
	return m, nil
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
