package bounce

import (
	"fmt"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// pattern is one entry of data/patterns.yaml.
type pattern struct {
	Category    string   `yaml:"category"`
	Code        string   `yaml:"code"`
	Meaning     string   `yaml:"meaning"`
	Strength    string   `yaml:"strength"`
	Disposition string   `yaml:"disposition"`
	Checks      []string `yaml:"checks"`
	CheckDomain string   `yaml:"check_domain"`
	Re          string   `yaml:"re"`
	Why         string   `yaml:"why"`
	// Examples are real replies the pattern must match (tested).
	Examples []string `yaml:"examples"`

	re     *regexp.Regexp
	once   sync.Once
	strong bool
}

// regexp is the whole pattern, compiled on first use: `explain 5.7.26`
// loads the knowledge base but matches no text. The embedded patterns are
// proven to compile by TestPatternExamples; a broken one is a build defect
// and panics, as kb() does.
func (p *pattern) regexp() *regexp.Regexp {
	p.once.Do(func() { p.re = compileRE("(?i)" + p.Re) })
	return p.re
}

// replyRule maps a basic reply code to a category (data/patterns.yaml
// "replies").
type replyRule struct {
	Reply    int    `yaml:"reply"`
	Category string `yaml:"category"`
	Code     string `yaml:"code"`
	Why      string `yaml:"why"`
}

func (k *knowledge) loadPatterns(patterns []*pattern, replies []*replyRule) error {
	for i, p := range patterns {
		if k.catBySlug[p.Category] == nil {
			return fmt.Errorf("patterns.yaml: pattern %d: unknown category %q", i, p.Category)
		}
		if p.Strength != "strong" && p.Strength != "weak" {
			return fmt.Errorf("patterns.yaml: pattern %d: strength %q", i, p.Strength)
		}
		p.strong = p.Strength == "strong"
		if p.Code != "" && !k.known(p.Code) {
			return fmt.Errorf("patterns.yaml: pattern %d: code %s is not in codes.yaml", i, p.Code)
		}
		if p.Code == "" && p.Meaning == "" {
			return fmt.Errorf("patterns.yaml: pattern %d: needs a code or a meaning", i)
		}
		if p.Disposition != "" && !validDisposition(p.Disposition) {
			return fmt.Errorf("patterns.yaml: pattern %d: disposition %q", i, p.Disposition)
		}
		for _, c := range p.Checks {
			if !slices.Contains(CheckNames, c) {
				return fmt.Errorf("patterns.yaml: pattern %d: unknown check %q", i, c)
			}
		}
		if p.CheckDomain == "" {
			p.CheckDomain = "sender"
		}
		// Compiled whole on first use (regexp); matcher.go compiles the
		// branches it needs on first use.
	}
	k.patterns = patterns
	k.replies = map[int]*replyRule{}
	for _, r := range replies {
		if k.catBySlug[r.Category] == nil || !k.known(r.Code) {
			return fmt.Errorf("patterns.yaml: reply %d: bad category or code", r.Reply)
		}
		k.replies[r.Reply] = r
	}
	return nil
}

// known is Known for the loader (before kb() is ready).
func (k *knowledge) known(code string) bool {
	if len(code) > 2 && code[:2] == "X." {
		c, err := ParseCode("5" + code[1:])
		return err == nil && k.generic[[2]int{c.Subject, c.Detail}] != nil
	}
	return k.exact[code] != nil
}

// matchWork counts the bytes the patterns were run over, for the tests that
// prove the parser's cost is linear in its input.
var matchWork atomic.Int64

// maxMatchText bounds the text the patterns look at.
const maxMatchText = 8192

// matchText returns the first pattern that matches text, preferring strong
// ones: the first strong match, else the first weak one.
func matchText(text string) *pattern {
	if len(text) > maxMatchText {
		text = text[:maxMatchText]
	}
	if p, ok := memo.get(text); ok {
		return p // the same string again (a notice shared by its recipients)
	}
	matchWork.Add(int64(len(text)))
	p := patternMatcher().match(text)
	memo.put(text, p)
	return p
}

var (
	matcherOnce sync.Once
	theMatcher  *matcher
)

// patternMatcher is the knowledge base's patterns compiled for matchText
// (matcher.go); loadPatterns has checked that they compile.
func patternMatcher() *matcher {
	matcherOnce.Do(func() {
		m, err := newMatcher(kb().patterns)
		if err != nil {
			panic("bounce: " + err.Error())
		}
		theMatcher = m
	})
	return theMatcher
}

// matchMemo remembers the last texts matched, by identity (the same
// string, not equal contents): an entry keeps its string alive, so the
// memory cannot be reused for another text while it is remembered.
type matchMemo struct {
	mu   sync.Mutex
	ents [4]struct {
		text string
		p    *pattern
	}
	next int
}

var memo, relayedMemo matchMemo

// relayedFre is classify.go's relayedReply with the literal prefilter.
var relayedFre = mustFre(relayedReply.String())

// relayedIn is relayedReply.MatchString(context), remembered for a
// context shared by many recipients.
func relayedIn(context string) bool {
	if p, ok := relayedMemo.get(context); ok {
		return p != nil
	}
	var p *pattern
	if relayedFre.MatchString(context) {
		p = &pattern{}
	}
	relayedMemo.put(context, p)
	return p != nil
}

func (m *matchMemo) get(text string) (*pattern, bool) {
	if len(text) < 256 {
		return nil, false // cheaper to match again
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.ents {
		if len(e.text) == len(text) && unsafe.StringData(e.text) == unsafe.StringData(text) {
			return e.p, true
		}
	}
	return nil, false
}

func (m *matchMemo) put(text string, p *pattern) {
	if len(text) < 256 {
		return
	}
	m.mu.Lock()
	m.ents[m.next].text, m.ents[m.next].p = text, p
	m.next = (m.next + 1) % len(m.ents)
	m.mu.Unlock()
}

// matchTextPlain is the plain loop matchText replaces, kept for the tests
// that prove the two agree.
func matchTextPlain(text string) *pattern {
	if len(text) > maxMatchText {
		text = text[:maxMatchText]
	}
	var weak *pattern
	for _, p := range kb().patterns {
		if !p.strong && weak != nil {
			continue
		}
		if p.regexp().MatchString(text) {
			if p.strong {
				return p
			}
			weak = p
		}
	}
	return weak
}

// ClassifyText classifies a diagnostic text without a code: the category
// its words point to, or "" when no pattern matches.
func ClassifyText(text string) string {
	if p := matchText(text); p != nil {
		return p.Category
	}
	return ""
}
