package dkim

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Errors of Lookup besides *KeyError (the record is there but broken) and
// dnsx errors (dnsx.IsTemporary: the DNS did not answer).
var (
	// ErrNoKey: NXDOMAIN or NODATA at selector._domainkey.domain.
	ErrNoKey = errors.New("no DKIM key record")
	// ErrMultipleKeys: more than one TXT record; RFC 6376 3.6.2.2 leaves
	// that undefined and many verifiers fail.
	ErrMultipleKeys = errors.New("more than one TXT record at the selector")
	// ErrNotKey: a TXT record exists but is not a DKIM key (often a
	// wildcard TXT record, e.g. SPF, answering every name).
	ErrNotKey = errors.New("the TXT record is not a DKIM key")
	// ErrOffline: --offline and the name is outside the loaded zones.
	ErrOffline = errors.New("not looked up (offline)")
)

// KeyStatus summarises what a selector lookup found.
type KeyStatus string

// Key statuses.
const (
	KeyStatusOK       KeyStatus = "ok"        // a usable key
	KeyStatusRevoked  KeyStatus = "revoked"   // p= empty
	KeyStatusInvalid  KeyStatus = "invalid"   // a DKIM record that cannot be used
	KeyStatusMissing  KeyStatus = "missing"   // NXDOMAIN / NODATA
	KeyStatusNotKey   KeyStatus = "not-a-key" // TXT present, not DKIM
	KeyStatusMultiple KeyStatus = "multiple"  // several TXT records
	KeyStatusError    KeyStatus = "error"     // DNS failure: unknown
	KeyStatusOffline  KeyStatus = "offline"   // not asked
)

// KeyResult is what the DNS holds for one selector.
type KeyResult struct {
	Selector string    `json:"selector"`
	Domain   string    `json:"domain"`
	Name     string    `json:"name"`             // selector._domainkey.domain
	CNAMEs   []string  `json:"cnames,omitempty"` // alias chain followed from Name (ESP delegation)
	DNS      string    `json:"dns,omitempty"`    // ok, nxdomain or nodata
	Status   KeyStatus `json:"status"`
	Records  []string  `json:"records,omitempty"` // TXT records, strings joined
	Key      *Key      `json:"key,omitempty"`
	Error    string    `json:"error,omitempty"`
	UsedBy   string    `json:"used_by,omitempty"` // who uses this selector (built-in list)
	Err      error     `json:"-"`
}

// Chain renders the CNAME chain: "a._domainkey.x → b.esp.net".
func (kr *KeyResult) Chain() string {
	if len(kr.CNAMEs) == 0 {
		return kr.Name
	}
	parts := []string{kr.Name}
	for _, c := range kr.CNAMEs {
		parts = append(parts, strings.TrimSuffix(c, "."))
	}
	return strings.Join(parts, " → ")
}

// KeyName is the DNS name of a selector's key: selector._domainkey.domain
// (RFC 6376 3.6.2.1).
func KeyName(selector, domain string) string {
	return strings.TrimSuffix(selector, ".") + "._domainkey." + strings.TrimSuffix(domain, ".")
}

// Lookup fetches and parses the key of selector at domain through r. The
// KeyResult is always returned and says what was seen; err is nil only for
// a usable key. Errors: ErrNoKey, ErrMultipleKeys, ErrNotKey, ErrOffline, a
// *KeyError (errors.Is ErrRevoked, ErrBadKey, ...), or a dnsx error
// (dnsx.IsTemporary: could not be determined, never "missing").
func Lookup(ctx context.Context, r dnsx.Resolver, selector, domain string) (*KeyResult, error) {
	selector = strings.ToLower(strings.TrimSpace(selector))
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	kr := &KeyResult{Selector: selector, Domain: domain, Name: KeyName(selector, domain)}
	if ks, ok := knownSelector(selector); ok {
		kr.UsedBy = ks.UsedBy
	}
	fail := func(st KeyStatus, err error) (*KeyResult, error) {
		kr.Status, kr.Err = st, err
		if err != nil {
			kr.Error = err.Error()
		}
		return kr, err
	}
	name, err := dnsx.CanonicalName(kr.Name)
	if err != nil {
		return fail(KeyStatusError, err)
	}
	res, err := r.Lookup(ctx, name, dns.TypeTXT)
	if res != nil {
		kr.CNAMEs = res.CNAMEs
	}
	if err != nil {
		return fail(KeyStatusError, err)
	}
	if res.Offline {
		return fail(KeyStatusOffline, ErrOffline)
	}
	kr.DNS = string(res.Status)
	kr.Records = res.TXT()
	switch {
	case len(kr.Records) == 0:
		return fail(KeyStatusMissing, ErrNoKey)
	case len(kr.Records) > 1:
		// Parse the first DKIM-looking one anyway, to show it.
		for _, txt := range kr.Records {
			if looksLikeKey(txt) {
				kr.Key, _ = ParseKey(txt)
				break
			}
		}
		return fail(KeyStatusMultiple, fmt.Errorf("%w (%d records)", ErrMultipleKeys, len(kr.Records)))
	case !looksLikeKey(kr.Records[0]):
		return fail(KeyStatusNotKey, ErrNotKey)
	}
	k, err := ParseKey(kr.Records[0])
	kr.Key = k
	switch {
	case errors.Is(err, ErrRevoked):
		return fail(KeyStatusRevoked, err)
	case err != nil:
		return fail(KeyStatusInvalid, err)
	}
	kr.Status = KeyStatusOK
	return kr, nil
}

// looksLikeKey tells a DKIM key record (even a broken one) from unrelated
// TXT data such as a wildcard SPF record: it starts with v=DKIM or has a p=
// or k= tag.
func looksLikeKey(txt string) bool {
	if strings.HasPrefix(stripFWS(txt), "v=DKIM") {
		return true
	}
	for _, spec := range strings.Split(txt, ";") {
		name, _, ok := strings.Cut(spec, "=")
		if n := strings.TrimSpace(name); ok && (n == "p" || n == "k") {
			return true
		}
	}
	return false
}

// NormalizeSelector accepts a selector as people paste it: "s1", or the
// whole key name "s1._domainkey.example.com" (as DNS consoles show it),
// which is cut back to "s1" when it names domain. A key name of another
// domain is an error that says what to give.
func NormalizeSelector(sel, domain string) (string, error) {
	s := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(sel), "."))
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	i := strings.Index(s, "._domainkey")
	if i < 0 {
		if s == "" || strings.ContainsAny(s, " \t@/") {
			return "", fmt.Errorf("%q is not a selector (a DNS label such as s1 or google)", sel)
		}
		return s, nil
	}
	short, rest := s[:i], strings.TrimPrefix(s[i:], "._domainkey")
	if short == "" {
		return "", fmt.Errorf("%q has no selector before ._domainkey", sel)
	}
	if rest != "" && rest != "."+domain {
		return "", fmt.Errorf("%q is the key name of %s, not of %s: give the selector alone (%s)", sel, strings.TrimPrefix(rest, "."), domain, short)
	}
	return short, nil
}

// Discovery is the DKIM picture of a domain: what each selector holds.
type Discovery struct {
	Domain string `json:"domain"`
	// SelectorsFrom is "flag" when the selectors were given (--selector),
	// "builtin" when the common-selector list was tried.
	SelectorsFrom string `json:"selectors_from"`
	Checked       int    `json:"selectors_checked"`
	// Keys lists the selectors with something at them (a key, a broken or
	// revoked record, a CNAME, a DNS error); with --selector, all of them.
	Keys     []*KeyResult       `json:"keys"`
	NotFound []string           `json:"not_found,omitempty"` // selectors with nothing there
	Findings []findings.Finding `json:"-"`
	// Offline is true when no selector could be asked (--offline).
	Offline bool `json:"offline,omitempty"`
}

// Discover looks up every selector (or, when selectors is empty, the
// built-in list of common ones) concurrently through r and lints what it
// finds.
func Discover(ctx context.Context, r dnsx.Resolver, domain string, selectors []string) *Discovery {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	d := &Discovery{Domain: domain, SelectorsFrom: "flag", Keys: []*KeyResult{}}
	asked := len(selectors) > 0
	var uniq []string
	if asked {
		seen := map[string]bool{}
		for _, s := range selectors {
			s = strings.ToLower(strings.TrimSpace(s))
			if n, err := NormalizeSelector(s, domain); err == nil {
				s = n // "s1._domainkey.example.com" pasted for s1
			}
			if s != "" && !seen[s] {
				seen[s] = true
				uniq = append(uniq, s)
			}
		}
	} else {
		d.SelectorsFrom = "builtin"
		uniq = builtinSelectors() // lower case and unique (mustParseSelectors)
	}
	d.Checked = len(uniq)
	results := make([]*KeyResult, len(uniq))
	var wg sync.WaitGroup
	for i, s := range uniq {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = Lookup(ctx, r, s, domain)
		}()
	}
	wg.Wait()
	offline := 0
	for _, kr := range results {
		switch {
		case kr.Status == KeyStatusOffline:
			offline++
			if asked {
				d.Keys = append(d.Keys, kr)
			}
		case kr.Status == KeyStatusMissing && len(kr.CNAMEs) == 0 && !asked:
			d.NotFound = append(d.NotFound, kr.Selector)
		case kr.Status == KeyStatusNotKey && !asked:
			// Unrelated TXT data answering a built-in name (a wildcard):
			// nothing to do with DKIM.
			d.NotFound = append(d.NotFound, kr.Selector)
		default:
			d.Keys = append(d.Keys, kr)
		}
	}
	d.Offline = len(uniq) > 0 && offline == len(uniq)
	sort.SliceStable(d.Keys, func(i, j int) bool { return statusOrder(d.Keys[i].Status) < statusOrder(d.Keys[j].Status) })
	d.Findings = lintDiscovery(d, results, asked)
	return d
}

func statusOrder(s KeyStatus) int {
	for i, x := range []KeyStatus{KeyStatusOK, KeyStatusInvalid, KeyStatusMultiple, KeyStatusRevoked, KeyStatusMissing, KeyStatusNotKey, KeyStatusError, KeyStatusOffline} {
		if s == x {
			return i
		}
	}
	return 99
}

// Usable returns the selectors with a usable key.
func (d *Discovery) Usable() []*KeyResult {
	var out []*KeyResult
	for _, kr := range d.Keys {
		if kr.Status == KeyStatusOK {
			out = append(out, kr)
		}
	}
	return out
}

// CheckResult adapts the discovery to the report model (check "dkim").
func (d *Discovery) CheckResult() findings.CheckResult {
	res := findings.CheckResult{Name: check, Data: d, Findings: d.Findings}
	res.Status = findings.StatusFromFindings(d.Findings)
	if d.Offline {
		res.Status = findings.StatusSkip
		res.Summary = "not checked: the selectors are outside the --zone files (offline)"
		return res
	}
	var parts []string
	for _, kr := range d.Usable() {
		parts = append(parts, fmt.Sprintf("%s (%s)", kr.Selector, kr.Key.Describe()))
	}
	switch {
	case len(parts) > 0:
		res.Summary = "keys: " + strings.Join(parts, ", ")
	case d.SelectorsFrom == "builtin":
		res.Summary = fmt.Sprintf("no usable key at %d common selectors", d.Checked)
	default:
		res.Summary = "no usable key at the given selectors"
	}
	return res
}
