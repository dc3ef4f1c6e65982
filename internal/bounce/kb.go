package bounce

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

//go:generate go test -run ^TestKBGenerated$ -update-kb .
//go:generate go test -run ^TestREGenerated$ -update-re .
//go:generate go test -run ^TestACGenerated$ -update-ac .

// CheckNames are the check names a knowledge-base entry may link to
// (docs/contracts.md's checks[].name values).
var CheckNames = []string{"mx", "spf", "dkim", "dmarc", "rbl", "relay", "ptr", "smtp", "mta-sts", "tls-rpt", "bimi", "dnssec", "dane", "profile"}

// Dispositions: what to do with a recipient address after a bounce.
const (
	DispositionSuppress = "suppress"  // the address is undeliverable: stop mailing it
	DispositionRetry    = "retry"     // temporary, or the receiver's problem: send again later
	DispositionFix      = "fix-setup" // the address is fine: change the sending setup, then resend
)

// Category is one of the 16 bounce categories of the seed article (Mailrelay;
// they are PowerMTA's bounce categories).
type Category struct {
	Slug        string `json:"slug" yaml:"slug"`
	Description string `json:"description" yaml:"description"`
	Action      string `json:"action" yaml:"action"`
	SeedAction  string `json:"seed_action,omitempty" yaml:"seed_action"`
	Disposition string `json:"disposition" yaml:"disposition"`
	// Hard: a permanent failure in this category means the address itself
	// is undeliverable.
	Hard bool   `json:"hard" yaml:"hard"`
	SES  string `json:"ses" yaml:"ses"`
}

// Entry is what the knowledge base knows about one code.
type Entry struct {
	// Code is the code that was looked up, normalised ("5.7.26").
	Code string `json:"code"`
	// KBCode is the entry that answered: the same code, its class-free form
	// ("X.7.26"), a range ("5.7.606-5.7.649") or a more general code when
	// the exact one is not known ("X.7.0").
	KBCode   string `json:"kb_code"`
	Exact    bool   `json:"exact"`              // false when a more general code answered
	Provider string `json:"provider,omitempty"` // google, microsoft, yahoo, ses; empty for the registry meaning
	Title    string `json:"title"`
	Meaning  string `json:"meaning"`
	// Hard: the address is undeliverable (suppress it). A permanent policy
	// or spam rejection is not hard: the address is fine, the setup is not.
	Hard bool `json:"hard"`
	// Permanent: class 5 (RFC 3463 3.1); the message will not be retried.
	Permanent   bool     `json:"permanent"`
	SESType     string   `json:"ses_type"`
	SESSubtype  string   `json:"ses_subtype"`
	Category    string   `json:"category"`
	Action      string   `json:"action"`
	Disposition string   `json:"disposition"`
	Causes      []string `json:"causes,omitempty"`
	Checks      []string `json:"checks"`
	// CheckDomain says whose domain the checks look at: "sender" or
	// "recipient".
	CheckDomain string `json:"check_domain"`
	Source      string `json:"source"`
	// Also lists what other providers mean by the same code.
	Also []ProviderMeaning `json:"also,omitempty"`

	firm bool // the reply's text never overrides this code's category
}

// ProviderMeaning is another provider's meaning of a code.
type ProviderMeaning struct {
	Provider string `json:"provider"`
	Title    string `json:"title"`
}

// rawEntry is an entry of data/codes.yaml.
type rawEntry struct {
	Code        string   `yaml:"code"`
	Provider    string   `yaml:"provider"`
	Title       string   `yaml:"title"`
	Meaning     string   `yaml:"meaning"`
	Category    string   `yaml:"category"`
	Disposition string   `yaml:"disposition"`
	SES         string   `yaml:"ses"`
	Action      string   `yaml:"action"`
	Causes      []string `yaml:"causes"`
	Checks      []string `yaml:"checks"`
	CheckDomain string   `yaml:"check_domain"`
	Classes     []int    `yaml:"classes"`
	Source      string   `yaml:"source"`
	Firm        bool     `yaml:"firm"`

	generic bool // an X.s.d entry
	subject int  // for X.s.d
	detail  int
}

type knowledge struct {
	categories []Category
	catBySlug  map[string]*Category
	entries    []*rawEntry
	exact      map[string]map[string]*rawEntry // code -> provider -> entry (full codes and other keys)
	generic    map[[2]int]*rawEntry            // (subject, detail) -> X.s.d entry
	patterns   []*pattern
	replies    map[int]*replyRule
}

var (
	kbOnce sync.Once
	kbData *knowledge
	kbErr  error
)

func kb() *knowledge {
	kbOnce.Do(func() { kbData, kbErr = loadKnowledge() })
	if kbErr != nil {
		// The data files are embedded and validated by the tests; a broken
		// file is a build defect, not an input error.
		panic("bounce: invalid embedded knowledge base: " + kbErr.Error())
	}
	return kbData
}

// loadKnowledge builds the knowledge base from kb_gen.go: the data of
// data/*.yaml (the source of truth, reviewed like code) written out as Go
// literals by `go generate` (TestKBGenerated proves the two agree), so
// that no process parses YAML at start-up - every `explain` and `bounces`
// run used to spend 10-15 ms on it.
func loadKnowledge() (*knowledge, error) {
	return buildKnowledge(genCategories(), genEntries(), genPatterns(), genReplies())
}

// buildKnowledge validates the data and indexes it.
func buildKnowledge(cats []Category, raw []*rawEntry, patterns []*pattern, replies []*replyRule) (*knowledge, error) {
	k := &knowledge{catBySlug: map[string]*Category{}, exact: map[string]map[string]*rawEntry{}, generic: map[[2]int]*rawEntry{}}
	k.categories = cats
	for i := range k.categories {
		c := &k.categories[i]
		if c.Slug == "" || c.Action == "" || c.Description == "" || !validDisposition(c.Disposition) || !validSES(c.SES) {
			return nil, fmt.Errorf("categories.yaml: incomplete category %q", c.Slug)
		}
		k.catBySlug[c.Slug] = c
	}
	if len(k.categories) != 16 {
		return nil, fmt.Errorf("categories.yaml: %d categories, want the 16 of the seed", len(k.categories))
	}
	for _, e := range raw {
		if err := k.addEntry(e); err != nil {
			return nil, fmt.Errorf("codes.yaml: %s: %w", e.Code, err)
		}
	}
	if err := k.loadPatterns(patterns, replies); err != nil {
		return nil, err
	}
	return k, nil
}

var providers = []string{"", "google", "microsoft", "yahoo", "apple", "ses"}

func (k *knowledge) addEntry(e *rawEntry) error {
	if e.Title == "" || e.Meaning == "" || e.Source == "" {
		return fmt.Errorf("title, meaning and source are required")
	}
	if k.catBySlug[e.Category] == nil {
		return fmt.Errorf("unknown category %q", e.Category)
	}
	if e.Disposition != "" && !validDisposition(e.Disposition) {
		return fmt.Errorf("bad disposition %q", e.Disposition)
	}
	if e.SES != "" && !validSES(e.SES) {
		return fmt.Errorf("bad ses %q", e.SES)
	}
	if !slices.Contains(providers, e.Provider) {
		return fmt.Errorf("unknown provider %q", e.Provider)
	}
	switch e.CheckDomain {
	case "":
		e.CheckDomain = "sender"
	case "sender", "recipient":
	default:
		return fmt.Errorf("check_domain %q: want sender or recipient", e.CheckDomain)
	}
	for _, c := range e.Checks {
		if !slices.Contains(CheckNames, c) {
			return fmt.Errorf("unknown check %q", c)
		}
	}
	if e.Checks == nil {
		e.Checks = []string{}
	}
	k.entries = append(k.entries, e)
	switch {
	case strings.HasPrefix(e.Code, "X."):
		if e.Provider != "" {
			return fmt.Errorf("a provider entry needs a full code")
		}
		c, err := ParseCode("5" + e.Code[1:])
		if err != nil {
			return err
		}
		e.generic, e.subject, e.detail = true, c.Subject, c.Detail
		if len(e.Classes) == 0 {
			e.Classes = []int{4, 5}
		}
		key := [2]int{c.Subject, c.Detail}
		if k.generic[key] != nil {
			return fmt.Errorf("duplicate")
		}
		k.generic[key] = e
	case strings.Contains(e.Code, "-") && e.Code[0] >= '2' && e.Code[0] <= '5':
		lo, hi, ok := strings.Cut(e.Code, "-")
		a, err1 := ParseCode(lo)
		b, err2 := ParseCode(hi)
		if !ok || err1 != nil || err2 != nil || a.Class != b.Class || a.Subject != b.Subject || b.Detail <= a.Detail || b.Detail-a.Detail > 200 {
			return fmt.Errorf("bad range")
		}
		for d := a.Detail; d <= b.Detail; d++ {
			if err := k.putExact(Code{a.Class, a.Subject, d}.String(), e); err != nil {
				return err
			}
		}
	default:
		key := e.Code
		if c, err := ParseCode(e.Code); err == nil {
			key = c.String()
		} else if e.Provider == "" {
			return fmt.Errorf("only provider entries may use non-RFC 3463 keys")
		}
		return k.putExact(strings.ToLower(key), e)
	}
	return nil
}

func (k *knowledge) putExact(key string, e *rawEntry) error {
	m := k.exact[key]
	if m == nil {
		m = map[string]*rawEntry{}
		k.exact[key] = m
	}
	if m[e.Provider] != nil {
		return fmt.Errorf("duplicate entry for %s (%q)", key, e.Provider)
	}
	m[e.Provider] = e
	return nil
}

func validDisposition(d string) bool {
	return d == DispositionSuppress || d == DispositionRetry || d == DispositionFix
}

var sesTypes = map[string][]string{
	"Undetermined": {"Undetermined"},
	"Permanent":    {"General", "NoEmail", "Suppressed", "OnAccountSuppressionList"},
	"Transient":    {"General", "MailboxFull", "MessageTooLarge", "ContentRejected", "AttachmentRejected"},
}

func validSES(s string) bool {
	t, st, ok := strings.Cut(s, "/")
	return ok && slices.Contains(sesTypes[t], st)
}

// Lookup returns what the knowledge base knows about code: an enhanced
// status code ("5.7.26", also "550 5.7.26" or "#5.7.26"), a provider code
// ("TSS04") or an Amazon SES bounce type ("Permanent/Suppressed"). The
// optional provider hint ("google", "microsoft", "yahoo", "ses") selects the
// provider's meaning where it has its own. An unknown RFC 3463 code falls
// back to X.Y.0, then X.0.0 (Entry.Exact is false); ok is false only when
// code is not a code at all.
func Lookup(code string, provider ...string) (*Entry, bool) {
	hint := ""
	if len(provider) > 0 {
		hint = normalizeProvider(provider[0])
	}
	k := kb()
	key := normalizeKey(code)
	c, err := ParseCode(key)
	if err != nil {
		m := k.exact[strings.ToLower(key)]
		if m == nil {
			return nil, false
		}
		e := m[hint]
		if e == nil {
			e = firstProvider(m)
		}
		return k.entry(key, e, Code{}, true), true
	}
	if c.madeUp() {
		c.Detail = 0
	}
	full := c.String()
	m := k.exact[full]
	if e := m[hint]; e != nil && hint != "" {
		return k.entry(full, e, c, true), true
	}
	if e := m[""]; e != nil {
		return k.entry(full, e, c, true), true
	}
	if e := k.generic[[2]int{c.Subject, c.Detail}]; e != nil {
		return k.entry(full, e, c, true), true
	}
	if e := firstProvider(m); e != nil {
		return k.entry(full, e, c, true), true
	}
	if e := k.generic[[2]int{c.Subject, 0}]; e != nil {
		return k.entry(full, e, c, false), true
	}
	return k.entry(full, k.generic[[2]int{0, 0}], c, false), true
}

// firstProvider picks a provider entry in a fixed order.
func firstProvider(m map[string]*rawEntry) *rawEntry {
	for _, p := range providers {
		if e := m[p]; e != nil {
			return e
		}
	}
	return nil
}

// normalizeKey strips a basic reply code and decoration: "550 5.7.26",
// "550-5.7.26", "#5.7.26", "[TSS04]" -> "5.7.26", "TSS04".
func normalizeKey(s string) string {
	s = strings.TrimSpace(s)
	if r, err := ParseReply(s); err == nil && !r.Enhanced.IsZero() {
		return r.Enhanced.String()
	}
	s = strings.Trim(s, "#[]() ")
	return s
}

func normalizeProvider(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "google", "gmail", "googlemail", "google workspace":
		return "google"
	case "microsoft", "outlook", "office365", "microsoft365", "exchange", "hotmail":
		return "microsoft"
	case "yahoo", "aol":
		return "yahoo"
	case "ses", "amazonses", "amazon":
		return "ses"
	case "apple", "icloud":
		return "apple"
	}
	return ""
}

// entry builds the public Entry for code c from raw entry e.
func (k *knowledge) entry(code string, e *rawEntry, c Code, exact bool) *Entry {
	cat := k.catBySlug[e.Category]
	out := &Entry{
		Code: code, KBCode: e.Code, Exact: exact, Provider: e.Provider,
		Title: e.Title, Meaning: e.Meaning, Category: e.Category,
		Causes: slices.Clone(e.Causes), Checks: slices.Clone(e.Checks),
		CheckDomain: e.CheckDomain, Source: e.Source,
		Action: cat.Action, Disposition: cat.Disposition, firm: e.Firm,
	}
	if e.Action != "" {
		out.Action = e.Action
	}
	if e.Disposition != "" {
		out.Disposition = e.Disposition
	}
	ses := cat.SES
	if e.SES != "" {
		ses = e.SES
	}
	switch {
	case c.IsZero() && len(e.Classes) == 1:
		// A provider code ("[TSS09]") always sent with one class: the
		// entry says which.
		out.Permanent = e.Classes[0] == 5
		out.Hard = out.Permanent && cat.Hard
		if !out.Permanent && out.Disposition == DispositionSuppress {
			out.Disposition = DispositionRetry
		}
		if !out.Hard && strings.HasPrefix(ses, "Permanent/") {
			ses = "Transient/General"
		}
	case c.IsZero():
		// A provider key without a class: SES types say it themselves.
		out.Hard = strings.HasPrefix(ses, "Permanent/")
		out.Permanent = out.Hard
	case c.Class == 2:
		out.Disposition, ses = "", ""
	case c.Class == 4:
		// RFC 3463 3.1: a persistent transient failure; a later attempt
		// may succeed, so nothing is hard.
		if out.Disposition == DispositionSuppress {
			out.Disposition = DispositionRetry
		}
		if strings.HasPrefix(ses, "Permanent/") || strings.HasPrefix(ses, "Undetermined/") {
			ses = "Transient/General"
		}
	default:
		out.Permanent = true
		out.Hard = cat.Hard
		if cat.Hard && !strings.HasPrefix(ses, "Permanent/") {
			ses = "Permanent/General"
		}
	}
	out.SESType, out.SESSubtype, _ = strings.Cut(ses, "/")
	if !c.IsZero() {
		for _, p := range providers[1:] {
			if o := k.exact[c.String()][p]; o != nil && o != e {
				out.Also = append(out.Also, ProviderMeaning{Provider: p, Title: o.Title})
			}
		}
		if g := k.generic[[2]int{c.Subject, c.Detail}]; g != nil && g != e && e.Provider != "" {
			out.Also = append(out.Also, ProviderMeaning{Provider: "registry", Title: g.Title})
		}
	}
	return out
}

// Known reports whether the knowledge base has an entry of its own for code
// (no fallback to a more general code): a full code, a class-free X.s.d
// entry in a class it is used with, or a provider code.
func Known(code string) bool {
	k := kb()
	key := normalizeKey(code)
	c, err := ParseCode(key)
	if err != nil {
		return k.exact[strings.ToLower(key)] != nil
	}
	if k.exact[c.String()] != nil {
		return true
	}
	g := k.generic[[2]int{c.Subject, c.Detail}]
	return g != nil && slices.Contains(g.Classes, c.Class)
}

// ChecksForCode is every check any entry for code links to (the registry
// meaning and each provider's), sorted in docs/contracts.md order.
func ChecksForCode(code string) []string {
	k := kb()
	key := normalizeKey(code)
	var es []*rawEntry
	if c, err := ParseCode(key); err == nil {
		for _, e := range k.exact[c.String()] {
			es = append(es, e)
		}
		if g := k.generic[[2]int{c.Subject, c.Detail}]; g != nil && slices.Contains(g.Classes, c.Class) {
			es = append(es, g)
		}
	} else {
		for _, e := range k.exact[strings.ToLower(key)] {
			es = append(es, e)
		}
	}
	var out []string
	for _, e := range es {
		for _, ch := range e.Checks {
			if !slices.Contains(out, ch) {
				out = append(out, ch)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return slices.Index(CheckNames, out[i]) < slices.Index(CheckNames, out[j]) })
	return out
}

// CodesForCheck is the reverse direction: every code whose entry (registry
// or provider) names check as a diagnosis, class-free entries expanded to
// the classes they are used with. Sorted numerically; provider keys that are
// not RFC 3463 codes ("TSS04") come last.
func CodesForCheck(check string) []string {
	k := kb()
	seen := map[string]bool{}
	var codes []Code
	var other []string
	for _, e := range k.entries {
		if !slices.Contains(e.Checks, check) {
			continue
		}
		if e.generic {
			for _, cl := range e.Classes {
				if cl == 2 {
					continue
				}
				c := Code{cl, e.subject, e.detail}
				if !seen[c.String()] {
					seen[c.String()] = true
					codes = append(codes, c)
				}
			}
			continue
		}
	}
	for key, m := range k.exact {
		for _, e := range m {
			if !slices.Contains(e.Checks, check) || seen[key] {
				continue
			}
			seen[key] = true
			if c, err := ParseCode(key); err == nil {
				codes = append(codes, c)
			} else {
				other = append(other, e.Code)
			}
		}
	}
	sort.Slice(codes, func(i, j int) bool {
		a, b := codes[i], codes[j]
		if a.Class != b.Class {
			return a.Class > b.Class // permanent first
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Detail < b.Detail
	})
	sort.Strings(other)
	out := make([]string, 0, len(codes)+len(other))
	for _, c := range codes {
		out = append(out, c.String())
	}
	return append(out, other...)
}

// Categories returns the 16 bounce categories in the seed's order.
func Categories() []Category {
	return slices.Clone(kb().categories)
}

// CategoryBySlug returns a category by its slug ("bad-mailbox").
func CategoryBySlug(slug string) (Category, bool) {
	c := kb().catBySlug[slug]
	if c == nil {
		return Category{}, false
	}
	return *c, true
}

// Entries returns every knowledge-base key with its provider, for listing
// ("deliverdoctor explain --list") and for tests.
func Entries() []*Entry {
	k := kb()
	var out []*Entry
	for _, e := range k.entries {
		var c Code
		code := e.Code
		switch {
		case e.generic:
			c = Code{5, e.subject, e.detail}
			if !slices.Contains(e.Classes, 5) {
				c.Class = e.Classes[0]
			}
			code = c.String()
		default:
			lo, _, _ := strings.Cut(e.Code, "-")
			if pc, err := ParseCode(lo); err == nil {
				c = pc
				code = pc.String()
			}
		}
		en := k.entry(code, e, c, true)
		en.KBCode = e.Code
		out = append(out, en)
	}
	return out
}
