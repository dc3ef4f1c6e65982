package spf

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

// LintResult is what Lint found out about a domain's SPF policy without a
// client address: the whole include/redirect tree, what evaluating it
// costs, and the findings.
type LintResult struct {
	Domain string `json:"domain"`
	// Record is the domain's SPF record ("" when none was found).
	Record string `json:"record,omitempty"`
	// Normalized is Record printed back from its parse.
	Normalized string `json:"normalized,omitempty"`
	// Lookups is how many DNS-querying terms a receiver evaluates when no
	// mechanism matches (the worst case, and the case of any sender the
	// record does not list): includes and redirects followed. Limit 10.
	Lookups int `json:"lookups"`
	// VoidLookups counts the lookups of that evaluation that find nothing
	// (NXDOMAIN or no records). Limit 2.
	VoidLookups int `json:"void_lookups"`
	// Complete is false when part of the tree could not be resolved (DNS
	// errors, --offline, macros that depend on the sender): then Lookups
	// and VoidLookups are lower bounds.
	Complete bool `json:"complete"`
	// Tree is the record and everything it includes or redirects to.
	Tree *Node `json:"tree"`
	// Offline is set when the domain itself was not asked (--offline and
	// outside every --zone file): nothing was checked.
	Offline bool `json:"offline,omitempty"`
	// Findings go to the report, not into Data.
	Findings []findings.Finding `json:"-"`
	// Err is the reason the record could not be looked up at all.
	Err error `json:"-"`
}

// Node is one record in the include/redirect tree.
type Node struct {
	Domain string `json:"domain"`
	// Via is how the parent reaches this record: "include" or "redirect"
	// ("" for the root); Term is the parent's term.
	Via  string `json:"via,omitempty"`
	Term string `json:"term,omitempty"`
	// Record is the SPF record found here.
	Record string     `json:"record,omitempty"`
	Status NodeStatus `json:"status"`
	Error  string     `json:"error,omitempty"`
	// Lookups counts this record's own DNS-querying terms that get
	// evaluated; TotalLookups adds everything below.
	Lookups      int `json:"lookups"`
	TotalLookups int `json:"total_lookups"`
	// VoidLookups counts this record's terms whose lookup finds nothing;
	// TotalVoid adds everything below.
	VoidLookups int        `json:"void_lookups"`
	TotalVoid   int        `json:"total_void_lookups"`
	Terms       []TermInfo `json:"terms,omitempty"`
	Children    []*Node    `json:"children,omitempty"`

	rec     *Record
	err     error // the lookup error behind dns-error
	sel     *selection
	syntax  *SyntaxError
	parent  *Node
	termIdx int // index in the parent's Terms
	depth   int
}

// NodeStatus is what was found at one name of the include/redirect tree.
type NodeStatus string

// Node statuses.
const (
	NodeOK              NodeStatus = "ok"
	NodeNoRecord        NodeStatus = "no-record"
	NodeMultipleRecords NodeStatus = "multiple-records"
	NodeSyntaxError     NodeStatus = "syntax-error"
	NodeDNSError        NodeStatus = "dns-error"
	NodeLoop            NodeStatus = "loop"
	NodeNotChecked      NodeStatus = "not-checked" // --offline
	NodeTruncated       NodeStatus = "truncated"   // the tree is too big
)

// TermInfo describes one term of a record in the tree.
type TermInfo struct {
	Text string `json:"text"`
	// Lookup is set for terms that count against the 10-lookup limit and
	// are evaluated (terms after "all" never are).
	Lookup bool `json:"lookup"`
	// Void is set when the term's lookup finds nothing.
	Void bool `json:"void,omitempty"`
	// Note says what the lookup found ("2 MX hosts", "NXDOMAIN", ...).
	Note string `json:"note,omitempty"`
	// Unreached is set for terms after "all" (never evaluated).
	Unreached bool `json:"unreached,omitempty"`

	cost int      // lookups the term itself costs: 1, or 2 with a %{p} macro
	mx   []string // MX hosts (mx terms)
}

// maxNodes bounds the tree: a hostile or broken set of records must not
// make the linter fetch without end. Real trees have a few dozen nodes.
const maxNodes = 200

// maxResolvedTerms bounds the DNS-querying terms of one record whose
// targets are looked up.
const maxResolvedTerms = 3 * MaxLookups

// Lint resolves the SPF policy of domain and everything it includes or
// redirects to, level by level; the lookups of one level go out
// concurrently through the shared (caching, coalescing) resolver, so no
// question is sent twice. It counts what evaluating the policy costs and
// reports the problems receivers act on.
func Lint(ctx context.Context, r dnsx.Resolver, domain string) *LintResult {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	lr := &LintResult{Domain: domain, Complete: true}
	root := &Node{Domain: domain}
	lr.Tree = root
	l := &linter{r: r, res: lr}

	// The deprecated SPF RR type is asked alongside the root's TXT.
	var type99 *dnsx.Result
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if res, err := r.Lookup(ctx, dnsx.EscapeName(domain), dns.TypeSPF); err == nil && !res.Offline {
			type99 = res
		}
	}()
	level := []*Node{root}
	nodes := 1
	for len(level) > 0 {
		var lw sync.WaitGroup
		for _, n := range level {
			lw.Add(1)
			go func() {
				defer lw.Done()
				l.resolve(ctx, n)
			}()
		}
		lw.Wait()
		var next []*Node
		for _, n := range level {
			for _, c := range n.Children {
				if c.Status != "" { // a loop: not resolved
					continue
				}
				nodes++
				if nodes > maxNodes {
					c.Status, c.Error = NodeTruncated, fmt.Sprintf("the tree has more than %d records; not followed", maxNodes)
					lr.Complete = false
					continue
				}
				next = append(next, c)
			}
		}
		level = next
	}
	wg.Wait()
	total(root)
	lr.Lookups, lr.VoidLookups = root.TotalLookups, root.TotalVoid
	lr.Record = root.Record
	if root.rec != nil && root.syntax == nil {
		lr.Normalized = root.rec.String()
	}
	l.found(type99)
	return lr
}

type linter struct {
	r   dnsx.Resolver
	res *LintResult
	mu  sync.Mutex
}

func (l *linter) incomplete() {
	l.mu.Lock()
	l.res.Complete = false
	l.mu.Unlock()
}

// resolve fetches a node's record, parses it, and resolves what its terms
// need: the targets of a and mx (for void lookups and the MX limit), and
// child nodes for include and redirect. Independent lookups run
// concurrently.
func (l *linter) resolve(ctx context.Context, n *Node) {
	sel, err := selectRecord(ctx, l.r, n.Domain)
	n.sel = sel
	switch {
	case err == nil:
	case errors.Is(err, ErrOffline):
		n.Status, n.Error = NodeNotChecked, err.Error()
		if n.parent == nil {
			l.res.Offline = true
		}
		l.incomplete()
		return
	case errors.Is(err, ErrNoRecord), errors.Is(err, ErrInvalidDomain):
		n.Status, n.Error = NodeNoRecord, err.Error()
		if n.parent == nil {
			l.res.Err = err
		}
		return
	case errors.Is(err, ErrMultipleRecords):
		n.Status, n.Error = NodeMultipleRecords, err.Error()
		return
	default:
		n.Status, n.Error, n.err = NodeDNSError, err.Error(), err
		if n.parent == nil {
			l.res.Err = err
		}
		l.incomplete()
		return
	}
	n.Record = sel.txt
	rec, err := ParseRecord(sel.txt)
	n.rec = rec
	if err != nil {
		errors.As(err, &n.syntax)
		n.Status, n.Error = NodeSyntaxError, err.Error()
		return
	}
	n.Status = NodeOK
	afterAll := false
	var wg sync.WaitGroup
	n.Terms = make([]TermInfo, len(rec.Terms))
	for i := range rec.Terms {
		t := &rec.Terms[i]
		ti := &n.Terms[i]
		ti.Text = t.Text
		if t.Kind == KindMechanism && afterAll {
			ti.Unreached = true
			continue
		}
		if t.Kind == KindModifier && t.Name == "redirect" && rec.HasAll() {
			ti.Unreached = true // RFC 7208 6.1: ignored when "all" is present
			continue
		}
		if t.Kind == KindMechanism && t.Name == "all" {
			afterAll = true
		}
		if !t.CausesLookup() {
			continue
		}
		ti.Lookup = true
		ti.cost = 1
		if t.DomainSpec != nil && t.DomainSpec.Uses('p') {
			ti.cost++ // RFC 7208 4.6.4: %{p} queries PTR records
		}
		n.Lookups += ti.cost
		if n.Lookups > maxResolvedTerms {
			// Evaluation stops long before this (RFC 7208 4.6.4): a hostile
			// record must not make the linter send thousands of queries.
			ti.Note = "past the lookup limit: not resolved"
			continue
		}
		target := n.Domain
		if t.DomainSpec != nil {
			if t.DomainSpec.HasMacros() && !onlyDomainMacros(t.DomainSpec) {
				ti.Note = "depends on the sender or client: not resolved"
				l.incomplete()
				continue
			}
			target, _ = expandDomain(t.DomainSpec, &MacroEnv{Domain: n.Domain})
		}
		switch t.Name {
		case "include", "redirect":
			via := t.Name
			c := &Node{Domain: strings.ToLower(target), Via: via, Term: t.Text, parent: n, termIdx: i, depth: n.depth + 1}
			for a := n; a != nil; a = a.parent {
				if strings.EqualFold(a.Domain, c.Domain) {
					c.Status = NodeLoop
					c.Error = fmt.Sprintf("%s is already being evaluated above: the %s loops (evaluation stops at the 10-lookup limit)", c.Domain, via)
					break
				}
			}
			n.Children = append(n.Children, c)
		case "a", "mx", "exists":
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.resolveTarget(ctx, t, ti, target)
			}()
		case "ptr":
			ti.Note = "needs the client's PTR records: not resolved"
		}
	}
	wg.Wait()
	for _, ti := range n.Terms {
		if ti.Void {
			n.VoidLookups++
		}
	}
}

// onlyDomainMacros reports whether a domain-spec's macros use only %{d},
// which is known without a client: such targets can be resolved.
func onlyDomainMacros(m *MacroString) bool {
	for _, p := range m.Parts {
		if p.Letter != 0 && p.Letter != 'd' || p.Escape != 0 {
			return false
		}
	}
	return true
}

// resolveTarget looks up what an a, mx or exists term points at, to find
// void lookups and MX sets over the limit. a asks A and AAAA (a client of
// either family may be checked); it is void when neither has records.
func (l *linter) resolveTarget(ctx context.Context, t *Term, ti *TermInfo, target string) {
	if !queryable(target) {
		ti.Note = fmt.Sprintf("%q is not a valid domain name: never matches", target)
		return
	}
	note := func(err error) {
		if errors.Is(err, ErrOffline) {
			ti.Note = "not checked (--offline)"
		} else {
			ti.Note = "DNS error: " + err.Error()
		}
		l.incomplete()
	}
	name := dnsx.EscapeName(target)
	switch t.Name {
	case "a":
		ar, err := dnsx.LookupIP(ctx, l.r, name)
		if ar != nil && ar.Offline() {
			note(ErrOffline)
			return
		}
		if err != nil && (ar == nil || len(ar.Addrs) == 0) {
			note(err)
			return
		}
		if len(ar.Addrs) == 0 {
			ti.Void, ti.Note = true, fmt.Sprintf("%s has no A or AAAA records (%s)", target, strings.ToUpper(string(ar.Status())))
			return
		}
		ti.Note = addrList(ar.Addrs)
	case "exists":
		res, err := l.r.Lookup(ctx, name, dns.TypeA)
		switch {
		case err != nil:
			note(err)
		case res.Offline:
			note(ErrOffline)
		case !res.Exists():
			ti.Void, ti.Note = true, fmt.Sprintf("%s has no A record (%s): never matches", target, strings.ToUpper(string(res.Status)))
		default:
			ti.Note = "exists: always matches"
		}
	case "mx":
		res, err := l.r.Lookup(ctx, name, dns.TypeMX)
		switch {
		case err != nil:
			note(err)
			return
		case res.Offline:
			note(ErrOffline)
			return
		}
		for _, m := range res.MX() {
			if h := strings.TrimSuffix(m.Mx, "."); h != "" {
				ti.mx = append(ti.mx, strings.ToLower(h))
			}
		}
		if len(res.MX()) == 0 {
			ti.Void, ti.Note = true, fmt.Sprintf("%s has no MX records (%s)", target, strings.ToUpper(string(res.Status)))
			return
		}
		ti.Note = fmt.Sprintf("%d MX host(s): %s", len(ti.mx), strings.Join(ti.mx, ", "))
	}
}

// Cost is what a node costs its parent against the 10-lookup limit: the
// include or redirect term that reached it plus everything below it - the
// number the tree shows and the lookup evidence lists, one rule for both.
func (n *Node) Cost() int {
	c := n.TotalLookups
	if p := n.parent; p != nil && n.termIdx >= 0 && n.termIdx < len(p.Terms) {
		c += p.Terms[n.termIdx].cost
	}
	return c
}

// total adds up lookups bottom-up.
func total(n *Node) {
	n.TotalLookups, n.TotalVoid = n.Lookups, n.VoidLookups
	for _, c := range n.Children {
		total(c)
		n.TotalLookups += c.TotalLookups
		n.TotalVoid += c.TotalVoid
	}
}

// walk visits every node, parents first.
func walk(n *Node, f func(*Node)) {
	f(n)
	for _, c := range n.Children {
		walk(c, f)
	}
}

// Bounce codes (RFC 3463 syntax, most specific first) the findings cause.
var (
	// The docs/contracts.md contract for too many lookups: SPF permerror is treated
	// as fail (RFC 7372 5.7.23), which fails DMARC (5.7.26; Microsoft's
	// 5.7.509 under p=reject).
	codesLookups = []string{"5.7.23", "5.7.26", "5.7.509"}
	// Any other permerror: RFC 7372 5.7.24 "SPF validation error" first.
	codesPermerror = []string{"5.7.24", "5.7.23", "5.7.26", "5.7.509"}
	// No SPF at all: Gmail's 5.7.26 "sender is unauthenticated",
	// Microsoft's 5.7.515 (2025 rules), DMARC rejects.
	codesNone = []string{"5.7.26", "5.7.515", "5.7.509"}
	// A DNS failure: receivers defer with a temporary SPF error.
	codesTemp = []string{"4.7.24"}
	// Unlisted sources get neutral: not an SPF pass, so DMARC fails.
	codesNeutral = []string{"5.7.26", "5.7.509"}
)

// dedupe drops repeated findings: a record reached twice in the tree
// reports its problems once.
func (l *linter) dedupe() {
	seen := map[string]bool{}
	out := l.res.Findings[:0]
	for _, f := range l.res.Findings {
		k := f.ID + "\x00" + f.Title
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	l.res.Findings = out
}

func (l *linter) add(f findings.Finding) {
	f.Check = "spf"
	l.res.Findings = append(l.res.Findings, f)
}

// findings judges the resolved tree.
func (l *linter) found(type99 *dnsx.Result) {
	lr, root := l.res, l.res.Tree
	if lr.Offline {
		return // nothing was asked: the check reports skip
	}
	defer l.dedupe()
	l.rootFindings(type99)
	if root.Status != NodeOK {
		return
	}

	// Per node: syntax errors, missing includes, multiple records, loops,
	// DNS errors, and the record's own terms.
	walk(root, func(n *Node) {
		if n != root {
			l.nodeProblems(n)
		}
		if n.rec != nil && n.syntax == nil {
			l.termFindings(n)
		}
	})

	// Lookup counts over the whole tree (RFC 7208 4.6.4).
	atLeast := ""
	if !lr.Complete {
		atLeast = "at least "
	}
	if lr.Lookups > MaxLookups {
		l.add(findings.Finding{
			ID: "spf.too-many-lookups", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("SPF needs %s%d DNS lookups; the limit is 10", atLeast, lr.Lookups),
			Detail:      "RFC 7208 4.6.4 limits the include, a, mx, ptr, exists and redirect terms evaluated for one message to 10, includes and redirects followed. Receivers stop at the 11th with permerror, which they treat as a failed SPF check: DMARC then fails unless DKIM aligns.",
			Evidence:    lookupEvidence(root),
			BounceCodes: codesLookups,
			Fix:         "Remove includes of services you no longer use, replace a and mx terms by the ip4:/ip6: ranges of your own servers, and replace includes of providers with few, stable addresses by their ip4:/ip6: ranges (flattening; re-check when the provider changes them). The biggest contributors are listed above.",
			Refs:        []string{"RFC 7208 4.6.4"},
		})
	} else if lr.Lookups >= MaxLookups-1 {
		l.add(findings.Finding{
			ID: "spf.near-lookup-limit", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("SPF needs %s%d DNS lookups: %d short of the limit of 10", atLeast, lr.Lookups, MaxLookups-lr.Lookups),
			Detail:      "One more include (or a provider adding one inside theirs) pushes the record over the limit, and then every receiver answers permerror.",
			Evidence:    lookupEvidence(root),
			BounceCodes: codesLookups,
			Fix:         "Make room now: replace a/mx terms by ip4:/ip6: ranges and drop includes of services you no longer use.",
			Refs:        []string{"RFC 7208 4.6.4"},
		})
	}
	if lr.VoidLookups > MaxVoidLookups {
		l.add(findings.Finding{
			ID: "spf.too-many-void-lookups", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("SPF has %d lookups that find nothing; the limit is 2", lr.VoidLookups),
			Detail:      "RFC 7208 4.6.4: more than two terms whose DNS lookup returns NXDOMAIN or no records make receivers return permerror.",
			Evidence:    voidEvidence(root),
			BounceCodes: codesPermerror,
			Fix:         "Remove the terms that point at names without records (listed above), or publish the records they expect.",
			Refs:        []string{"RFC 7208 4.6.4"},
		})
	} else if lr.VoidLookups > 0 {
		l.add(findings.Finding{
			ID: "spf.void-lookup", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("SPF has %d lookup(s) that find nothing (the limit is 2)", lr.VoidLookups),
			Detail:   "Each costs a lookup and authorises nobody; a third one makes the record permerror.",
			Evidence: voidEvidence(root),
			Fix:      "Remove the terms that point at names without records, or publish the records they expect.",
			Refs:     []string{"RFC 7208 4.6.4"},
		})
	}
	l.duplicateIncludes()
}

// rootFindings covers what is wrong with the domain's own record set.
func (l *linter) rootFindings(type99 *dnsx.Result) {
	lr, root := l.res, l.res.Tree
	d := lr.Domain
	var type99Recs []string
	if type99 != nil {
		for _, t := range type99.TXT() {
			if IsSPFRecord(t) {
				type99Recs = append(type99Recs, t)
			}
		}
	}
	switch root.Status {
	case NodeDNSError:
		f := dnsErrorFinding("the SPF record of "+d, root.err)
		f.Refs = append(f.Refs, "RFC 7208 4.4")
		l.add(f)
		return
	case NodeNoRecord:
		f := findings.Finding{
			ID: "spf.no-record", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s has no SPF record", d),
			Detail:      "Without SPF, receivers cannot tell your servers from forgers. Gmail, Yahoo and Microsoft require SPF or DKIM from every sender and both from bulk senders; DMARC cannot pass on SPF.",
			BounceCodes: codesNone,
			Fix:         fmt.Sprintf("Publish one TXT record at %s listing the servers that send its mail, e.g. \"v=spf1 mx ~all\" (or \"v=spf1 -all\" if the domain sends no mail).", d),
			Refs:        []string{"RFC 7208 4.5", "RFC 7208 3"},
		}
		if root.sel != nil && root.sel.res != nil && root.sel.res.Status == dnsx.StatusNXDomain {
			f.Title = fmt.Sprintf("%s does not exist (NXDOMAIN), so it has no SPF record", d)
		}
		if root.sel != nil {
			for _, t := range root.sel.others {
				if why := nearMiss(t); why != "" {
					f.Title = fmt.Sprintf("%s has no valid SPF record: a TXT record looks like one but is not (%s)", d, why)
					f.Evidence = append(f.Evidence, fmt.Sprintf("%s TXT %q", d, t))
					f.Fix = "Publish the record starting exactly with \"v=spf1\" and a space; when the record is split into several strings, remember they are joined without spaces (RFC 7208 3.3)."
					if rec, err := ParseRecord(fixNearMiss(t)); err == nil {
						f.Fix += fmt.Sprintf(" Corrected: %q.", rec.String())
					}
				}
			}
		}
		if len(type99Recs) > 0 {
			f.Detail += " An SPF record of the obsolete type SPF (99) exists, but receivers look up only TXT records (RFC 7208 3.1, 14.1)."
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s SPF(99) %q", d, type99Recs[0]))
			f.Fix = fmt.Sprintf("Publish the same record as a TXT record at %s: %q.", d, type99Recs[0])
		}
		l.add(f)
		return
	case NodeMultipleRecords:
		var ev []string
		var recs []string
		for _, t := range root.sel.res.TXT() {
			if IsSPFRecord(t) {
				ev = append(ev, fmt.Sprintf("%s TXT %q", d, t))
				recs = append(recs, t)
			}
		}
		l.add(findings.Finding{
			ID: "spf.multiple-records", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s publishes %d SPF records; there must be exactly one", d, len(recs)),
			Detail:      "RFC 7208 4.5: with more than one TXT record starting with v=spf1, check_host() returns permerror for every message, which receivers treat as an SPF failure.",
			Evidence:    ev,
			BounceCodes: codesPermerror,
			Fix:         mergeFix(recs),
			Refs:        []string{"RFC 7208 4.5", "RFC 7208 3.2"},
		})
		return
	case NodeSyntaxError:
		l.syntaxFinding(root)
		return
	}
	// The record exists.
	if len(type99Recs) > 0 {
		f := findings.Finding{
			ID: "spf.deprecated-spf-rr", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s also publishes the obsolete SPF (type 99) record type", d),
			Detail:   "RFC 7208 3.1 discontinued the SPF RR type: receivers use only the TXT record, and two copies drift apart over time.",
			Evidence: []string{fmt.Sprintf("%s SPF(99) %q", d, type99Recs[0]), fmt.Sprintf("%s TXT %q", d, root.Record)},
			Fix:      fmt.Sprintf("Delete the SPF (type 99) record of %s; keep the TXT record.", d),
			Refs:     []string{"RFC 7208 3.1", "RFC 7208 14.1"},
		}
		if type99Recs[0] != root.Record {
			f.Title = fmt.Sprintf("%s publishes an obsolete SPF (type 99) record that differs from its TXT record", d)
		}
		l.add(f)
	}
	// RFC 7208 3.4: keep name + all TXT records of the name under 450 octets.
	size := len(d)
	for _, t := range root.sel.res.TXT() {
		size += len(t)
	}
	if size > 450 {
		l.add(findings.Finding{
			ID: "spf.record-too-long", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the TXT records of %s total %d octets with the name; RFC 7208 advises under 450", d, size),
			Detail:      "Answers that do not fit one UDP packet need a retry over TCP; some verifiers and middleboxes fail there, and the result is temperror or a missed record.",
			Evidence:    []string{fmt.Sprintf("%s TXT %q (%d octets)", d, root.Record, len(root.Record))},
			BounceCodes: codesTemp,
			Fix:         "Shorten the record: move groups of ip4/ip6 terms into an include of a subdomain (e.g. _spf." + d + "), and remove TXT records at the name that are no longer needed (old site verifications).",
			Refs:        []string{"RFC 7208 3.4"},
		})
	}
	l.splitFinding(root)
	// The policy for everyone not listed: the "all" at the end of the
	// root's redirect chain (RFC 7208 6.1), or the default neutral (4.7).
	l.allFindings()
}

// nearMiss says why a TXT string that looks like SPF is not selected.
func nearMiss(t string) string {
	lt := strings.ToLower(strings.TrimSpace(t))
	switch {
	case strings.HasPrefix(lt, "v=spf1") && t != strings.TrimSpace(t) && strings.HasPrefix(strings.ToLower(strings.TrimLeft(t, " \t")), "v=spf1"):
		return "it starts with white space"
	case strings.HasPrefix(lt, "v=spf1") && len(lt) > 6 && lt[6] != ' ':
		return fmt.Sprintf("\"v=spf1\" is followed by %q, not a space", lt[6:7])
	case strings.HasPrefix(lt, "v=spf") || strings.HasPrefix(lt, "spf1") || strings.HasPrefix(lt, "v = spf1") || strings.HasPrefix(lt, "v=sfp1"):
		return "the version must be exactly \"v=spf1\""
	}
	return ""
}

func fixNearMiss(t string) string {
	t = strings.TrimSpace(t)
	if len(t) > 6 && strings.EqualFold(t[:6], "v=spf1") && t[6] != ' ' {
		return "v=spf1 " + t[6:]
	}
	return t
}

// mergeFix suggests one record combining several.
func mergeFix(recs []string) string {
	seen := map[string]bool{}
	var terms []string
	var all, redirect string
	for _, t := range recs {
		rec, _ := ParseRecord(t)
		if rec == nil {
			continue
		}
		for _, tm := range rec.Terms {
			s := tm.String()
			switch {
			case tm.Kind == KindMechanism && tm.Name == "all":
				if all == "" {
					all = s
				}
			case tm.Kind == KindModifier && tm.Name == "redirect":
				if redirect == "" {
					redirect = s
				}
			case !seen[strings.ToLower(s)]:
				seen[strings.ToLower(s)] = true
				terms = append(terms, s)
			}
		}
	}
	merged := append([]string{version}, terms...)
	if all != "" {
		merged = append(merged, all)
	} else if redirect != "" {
		merged = append(merged, redirect)
	}
	return fmt.Sprintf("Merge them into one TXT record and delete the others, e.g. %q (check the lookup count of the result).", strings.Join(merged, " "))
}

func (l *linter) syntaxFinding(n *Node) {
	var ev []string
	for _, e := range n.syntax.Errors {
		ev = append(ev, e.String())
	}
	where := n.Domain
	if n.parent != nil {
		where = fmt.Sprintf("%s (reached by %s from %s)", n.Domain, n.Term, n.parent.Domain)
	}
	first := n.syntax.Errors[0]
	title := fmt.Sprintf("the SPF record of %s has a syntax error: %s", n.Domain, first.String())
	if len(n.syntax.Errors) > 1 {
		title = fmt.Sprintf("the SPF record of %s has %d syntax errors, the first: %s", n.Domain, len(n.syntax.Errors), first.String())
	}
	ev = append(ev, fmt.Sprintf("%s TXT %q", n.Domain, n.Record))
	fix := "Correct the terms listed; RFC 7208 4.6: a single syntax error anywhere makes every evaluation permerror, even for senders listed before it."
	if n.parent != nil {
		fix = fmt.Sprintf("%s is not your record: ask its owner to fix it, or stop including it. Until then every message gets permerror.", n.Domain)
	}
	if n.sel != nil {
		if segs := l.splitCause(n); segs != "" {
			fix = segs
		}
	}
	l.add(findings.Finding{
		ID: "spf.syntax", Severity: findings.SeverityFail,
		Title: title, Detail: "Syntax errors in " + where + " make receivers return permerror (RFC 7208 4.6), which counts as an SPF failure.",
		Evidence: ev, BounceCodes: codesPermerror, Fix: fix,
		Refs: []string{"RFC 7208 4.6", "RFC 7208 12"},
	})
}

// segments returns the character-strings of the node's SPF record.
func segments(n *Node) []string {
	if n.sel == nil || n.sel.res == nil {
		return nil
	}
	for _, segs := range n.sel.res.TXTSegments() {
		if strings.Join(segs, "") == n.Record {
			return segs
		}
	}
	return nil
}

// splitCause explains a syntax error caused by splitting the record into
// strings that are joined without a space (RFC 7208 3.3).
func (l *linter) splitCause(n *Node) string {
	segs := segments(n)
	if len(segs) < 2 || n.syntax == nil {
		return ""
	}
	bounds := map[int]bool{}
	off := 0
	for _, s := range segs[:len(segs)-1] {
		off += len(s)
		bounds[off] = true
	}
	for _, e := range n.syntax.Errors {
		for b := range bounds {
			if b > e.Pos && b < e.Pos+len(e.Term) {
				return fmt.Sprintf("The record is published as %d strings, and DNS joins them without a space (RFC 7208 3.3): term %q spans a boundary. End each string with a space (or start the next with one).", len(segs), e.Term)
			}
		}
	}
	return ""
}

// splitFinding notes a valid record whose strings split a term: legal, but
// the first edit that moves a boundary breaks it.
func (l *linter) splitFinding(n *Node) {
	segs := segments(n)
	if len(segs) < 2 || n.rec == nil {
		return
	}
	off := 0
	for _, s := range segs[:len(segs)-1] {
		off += len(s)
		for _, t := range n.rec.Terms {
			if off > t.Pos && off < t.Pos+len(t.Text) {
				l.add(findings.Finding{
					ID: "spf.string-split", Severity: findings.SeverityInfo,
					Title:    fmt.Sprintf("the SPF record of %s is split into %d strings in the middle of the term %q", n.Domain, len(segs), t.Text),
					Detail:   "DNS joins the strings without a space (RFC 7208 3.3), so this works; but an edit that adds a space at the boundary would break the term.",
					Evidence: []string{fmt.Sprintf("%s TXT %s", n.Domain, quoteSegments(segs))},
					Fix:      "Split between terms, ending each string with a space.",
					Refs:     []string{"RFC 7208 3.3"},
				})
				return
			}
		}
	}
}

func quoteSegments(segs []string) string {
	q := make([]string, len(segs))
	for i, s := range segs {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " ")
}

// nodeProblems reports an included or redirected-to record that breaks
// evaluation.
func (l *linter) nodeProblems(n *Node) {
	how := fmt.Sprintf("%s (in the record of %s)", n.Term, n.parent.Domain)
	switch n.Status {
	case NodeNoRecord:
		id, title := "spf.include-missing", fmt.Sprintf("include:%s has no SPF record", n.Domain)
		detail := "RFC 7208 5.2: an include whose target has no SPF record is permerror, for every message."
		if n.Via == "redirect" {
			id, title = "spf.redirect-missing", fmt.Sprintf("redirect=%s has no SPF record", n.Domain)
			detail = "RFC 7208 6.1: a redirect to a domain without an SPF record is permerror."
		}
		l.add(findings.Finding{
			ID: id, Severity: findings.SeverityFail, Title: title, Detail: detail,
			Evidence:    []string{how, n.Error},
			BounceCodes: codesPermerror,
			Fix:         fmt.Sprintf("Check the spelling of %s against the provider's documentation, or remove the term if you no longer use that service.", n.Domain),
			Refs:        []string{"RFC 7208 5.2", "RFC 7208 6.1"},
		})
	case NodeMultipleRecords:
		l.add(findings.Finding{
			ID: "spf.multiple-records", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s, reached by %s, publishes more than one SPF record", n.Domain, n.Term),
			Detail:      "RFC 7208 4.5: several v=spf1 records make its evaluation permerror, and so yours.",
			Evidence:    []string{how, n.Error},
			BounceCodes: codesPermerror,
			Fix:         fmt.Sprintf("Ask the owner of %s to merge its records, or stop including it.", n.Domain),
			Refs:        []string{"RFC 7208 4.5"},
		})
	case NodeSyntaxError:
		l.syntaxFinding(n)
	case NodeLoop:
		l.add(findings.Finding{
			ID: "spf.include-loop", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("SPF %s loop: %s leads back to %s", n.Via, n.Term, n.Domain),
			Detail:      "Evaluation follows the loop until the 10-lookup limit and returns permerror (RFC 7208 4.6.4).",
			Evidence:    []string{chain(n)},
			BounceCodes: codesPermerror,
			Fix:         fmt.Sprintf("Remove %s from the record of %s.", n.Term, n.parent.Domain),
			Refs:        []string{"RFC 7208 4.6.4", "RFC 7208 5.2"},
		})
	case NodeDNSError:
		f := dnsErrorFinding(fmt.Sprintf("the SPF record of %s (reached by %s)", n.Domain, n.Term), n.err)
		f.Evidence = []string{how}
		f.Refs = append(f.Refs, "RFC 7208 5.2")
		l.add(f)
	case NodeNotChecked:
		l.add(findings.Finding{
			ID: "spf.not-checked", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%s (reached by %s) was not checked: --offline and it is in no --zone file", n.Domain, n.Term),
			Detail:   "Its lookups are not counted; the totals are lower bounds.",
			Evidence: []string{how},
		})
	}
}

// chain is "a.example → include:b.example → ..." for a node.
func chain(n *Node) string {
	var parts []string
	for a := n; a != nil; a = a.parent {
		if a.parent == nil {
			parts = append(parts, a.Domain)
		} else {
			parts = append(parts, a.Term)
		}
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " → ")
}

// allFindings judges the policy for unlisted senders: the "all" (or the
// lack of one) at the end of the root's redirect chain.
func (l *linter) allFindings() {
	root := l.res.Tree
	n := root
	for n.rec != nil && !n.rec.HasAll() {
		var next *Node
		for _, c := range n.Children {
			if c.Via == "redirect" {
				next = c
			}
		}
		if next == nil || next.rec == nil {
			break
		}
		n = next
	}
	if n.rec == nil {
		return
	}
	var all *Term
	for _, t := range n.rec.Mechanisms() {
		if t.Name == "all" {
			all = t
			break
		}
	}
	ev := []string{fmt.Sprintf("%s TXT %q", n.Domain, n.Record)}
	switch {
	case all == nil && n.rec.Redirect() == nil:
		l.add(findings.Finding{
			ID: "spf.no-all", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the SPF record of %s does not end in an \"all\" term: unlisted senders get neutral", n.Domain),
			Detail:      "RFC 7208 4.7: without a match or redirect the result is neutral, which protects nobody: forged mail is not rejected on SPF, and DMARC relies on DKIM alone.",
			Evidence:    ev,
			BounceCodes: codesNeutral,
			Fix:         fmt.Sprintf("Add ~all (or -all once you are sure every sender is listed): %q.", n.rec.String()+" ~all"),
			Refs:        []string{"RFC 7208 4.7", "RFC 7208 5.1"},
		})
	case all != nil && all.Qualifier == QualifierPass:
		l.add(findings.Finding{
			ID: "spf.pass-all", Severity: findings.SeverityFail,
			Title:    fmt.Sprintf("the SPF record of %s ends in %q: it authorises every server on the internet", n.Domain, all.Text),
			Detail:   "Anyone can send mail that passes SPF as your domain, and DMARC passes on it; receivers see such records as a sign of a spammer's domain. Your own mail is not bounced for it, but it is easily forged and filtered.",
			Evidence: ev,
			Fix:      passAllFix(n.rec, all),
			Refs:     []string{"RFC 7208 5.1", "RFC 7208 10.1"},
		})
	case all != nil && all.Qualifier == QualifierNeutral:
		l.add(findings.Finding{
			ID: "spf.neutral-all", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("the SPF record of %s ends in %q: it makes no statement about unlisted servers", n.Domain, all.Text),
			Detail:      "?all gives neutral for everyone not listed: forged mail is not rejected on SPF, and mail from servers you forgot to list fails DMARC without warning.",
			Evidence:    ev,
			BounceCodes: codesNeutral,
			Fix:         fmt.Sprintf("End in ~all (or -all): %q.", replaceAll(n.rec, all, "~all")),
			Refs:        []string{"RFC 7208 5.1", "RFC 7208 2.6.2"},
		})
	}
	// pass-all inside includes: an include whose record matches everything
	// authorises everyone (RFC 7208 5.2: its pass is the include's match).
	walk(root, func(c *Node) {
		if c.Via != "include" || c.rec == nil || !c.rec.HasAll() {
			return
		}
		for _, t := range c.rec.Mechanisms() {
			if t.Name == "all" {
				if t.Qualifier == QualifierPass && includeQualifier(c) == QualifierPass {
					l.add(findings.Finding{
						ID: "spf.pass-all", Severity: findings.SeverityFail,
						Title:    fmt.Sprintf("%s (included by %s) ends in %q: the include matches every server", c.Domain, c.parent.Domain, t.Text),
						Detail:   "RFC 7208 5.2: an include matches when the included record passes, so this include authorises the whole internet to send as your domain.",
						Evidence: []string{chain(c), fmt.Sprintf("%s TXT %q", c.Domain, c.Record)},
						Fix:      fmt.Sprintf("Remove %s, or ask its owner to end the record in -all or ~all.", c.Term),
						Refs:     []string{"RFC 7208 5.2", "RFC 7208 5.1"},
					})
				}
				break
			}
		}
	})
}

// includeQualifier is the qualifier of the include term leading to n.
func includeQualifier(n *Node) Qualifier {
	if n.parent == nil || n.parent.rec == nil {
		return QualifierPass
	}
	return n.parent.rec.Terms[n.termIdx].Qualifier
}

// passAllFix says how to end a +all record: keep what it lists and end in
// ~all. A record that lists nothing but +all must not be told "v=spf1
// ~all": copied as is, that authorises no server at all.
func passAllFix(rec *Record, all *Term) string {
	if len(rec.Mechanisms()) > 1 {
		return fmt.Sprintf("Keep the servers the record lists and end in ~all (or -all once every sender is listed): %q.", replaceAll(rec, all, "~all"))
	}
	return "List the servers that send your mail, then end in ~all (or -all once every sender is listed), e.g. \"v=spf1 mx include:_spf.your-provider.example ~all\" with your provider's include. Do not publish \"v=spf1 ~all\" alone: it authorises no server."
}

func replaceAll(rec *Record, all *Term, with string) string {
	var parts []string
	for i := range rec.Terms {
		t := &rec.Terms[i]
		if t == all {
			parts = append(parts, with)
		} else {
			parts = append(parts, t.String())
		}
	}
	return strings.Join(append([]string{version}, parts...), " ")
}

// termFindings judges a record's terms: ptr, wide ranges, duplicates,
// shadowed terms, redirect with all, MX limits.
func (l *linter) termFindings(n *Node) {
	rec := n.rec
	ev := fmt.Sprintf("%s TXT %q", n.Domain, n.Record)
	seen := map[string]string{}
	var earlier []*Term
	afterAll := ""
	for i := range rec.Terms {
		t := &rec.Terms[i]
		ti := n.Terms[i]
		if t.Kind == KindMechanism && afterAll != "" {
			l.add(findings.Finding{
				ID: "spf.shadowed-mechanism", Severity: findings.SeverityWarn,
				Title:    fmt.Sprintf("%q in the record of %s comes after %q and is never evaluated", t.Text, n.Domain, afterAll),
				Detail:   "RFC 7208 5.1: \"all\" always matches, so evaluation stops there; the servers listed after it are not authorised.",
				Evidence: []string{ev},
				Fix:      fmt.Sprintf("Move %q before %q.", t.Text, afterAll),
				Refs:     []string{"RFC 7208 5.1", "RFC 7208 4.6.2"},
			})
			continue
		}
		if t.Kind == KindMechanism && t.Name == "ptr" {
			l.add(findings.Finding{
				ID: "spf.ptr-mechanism", Severity: findings.SeverityWarn,
				Title:       fmt.Sprintf("the SPF record of %s uses the ptr mechanism (%q), which RFC 7208 says not to use", n.Domain, t.Text),
				Detail:      "ptr is slow, depends on reverse DNS the client's network controls, and costs lookups; some large receivers ignore it, so servers authorised only by ptr fail SPF there.",
				Evidence:    []string{ev},
				BounceCodes: []string{"5.7.23", "5.7.26"},
				Fix:         "Replace ptr with ip4:/ip6: ranges (or a: names) of the sending servers.",
				Refs:        []string{"RFC 7208 5.5"},
			})
		}
		if t.Kind == KindMechanism && t.Qualifier == QualifierPass {
			l.wideRange(n, t, ev)
		}
		if t.Kind == KindMechanism && t.Name == "mx" && len(ti.mx) > maxNames {
			l.add(findings.Finding{
				ID: "spf.too-many-mx", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("%q in the record of %s names %d MX hosts; at most 10 may be looked up", t.Text, n.Domain, len(ti.mx)),
				Detail:      "RFC 7208 4.6.4: an mx mechanism whose evaluation needs more than 10 address lookups is permerror for every client it does not match among the first 10.",
				Evidence:    []string{ev, ti.Note},
				BounceCodes: codesPermerror,
				Fix:         "Replace the mx term with ip4:/ip6: ranges of the servers that send mail.",
				Refs:        []string{"RFC 7208 4.6.4", "RFC 7208 5.4"},
			})
		}
		if t.Kind == KindMechanism {
			key := strings.ToLower(mechKey(t))
			if prev, dup := seen[key]; dup {
				l.add(findings.Finding{
					ID: "spf.duplicate-mechanism", Severity: findings.SeverityWarn,
					Title:    fmt.Sprintf("%q appears twice in the record of %s (first as %q)", t.Text, n.Domain, prev),
					Detail:   "The second copy can never match anything the first did not; if it queries DNS it still costs a lookup.",
					Evidence: []string{ev},
					Fix:      fmt.Sprintf("Remove the second %q.", t.Text),
					Refs:     []string{"RFC 7208 4.6.2"},
				})
			} else {
				seen[key] = t.Text
				if by := shadowedBy(t, earlier); by != nil {
					l.add(findings.Finding{
						ID: "spf.shadowed-mechanism", Severity: findings.SeverityWarn,
						Title:    fmt.Sprintf("%q in the record of %s is covered by the earlier %q and never decides anything", t.Text, n.Domain, by.Text),
						Detail:   "RFC 7208 4.6.2: the first matching mechanism wins, and every address this term matches already matched the earlier one.",
						Evidence: []string{ev},
						Fix:      fmt.Sprintf("Remove %q (or move it before %q if its qualifier was meant to win).", t.Text, by.Text),
						Refs:     []string{"RFC 7208 4.6.2"},
					})
				}
			}
			earlier = append(earlier, t)
			if t.Name == "all" {
				afterAll = t.Text
			}
		}
	}
	if rd := rec.Redirect(); rd != nil && rec.HasAll() {
		l.add(findings.Finding{
			ID: "spf.redirect-with-all", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the record of %s has both an \"all\" term and %q: the redirect is ignored", n.Domain, rd.Text),
			Detail:      "RFC 7208 6.1: a redirect is ignored when the record has an \"all\" mechanism, so the servers the redirect target lists are not authorised.",
			Evidence:    []string{ev},
			BounceCodes: []string{"5.7.23", "5.7.26"},
			Fix:         "Remove the \"all\" term to let the redirect decide, or replace the redirect with an include: placed before \"all\".",
			Refs:        []string{"RFC 7208 6.1"},
		})
	}
}

// mechKey identifies what a mechanism matches, ignoring its qualifier.
func mechKey(t *Term) string {
	c := *t
	c.QualifierExplicit = false
	return c.String()
}

// shadowedBy returns an earlier ip4/ip6 term whose network contains t's,
// or an earlier a/mx/include/exists with the same target (other qualifier).
func shadowedBy(t *Term, earlier []*Term) *Term {
	for _, e := range earlier {
		switch {
		case (t.Name == "ip4" || t.Name == "ip6") && e.Name == t.Name:
			ep, tp := e.Prefix(), t.Prefix()
			if ep.Bits() <= tp.Bits() && ep.Contains(tp.Addr()) {
				return e
			}
		case t.Name == e.Name && t.Name != "all" && mechKey(t) == mechKey(e):
			return e
		}
	}
	return nil
}

// wideRange flags pass terms that authorise huge address ranges.
func (l *linter) wideRange(n *Node, t *Term, ev string) {
	var bits, total int
	var what string
	switch t.Name {
	case "ip4", "ip6":
		p := t.Prefix()
		bits, total, what = p.Bits(), p.Addr().BitLen(), p.String()
	case "a", "mx":
		if t.CIDR4 >= 0 && t.CIDR4 < 16 {
			bits, total, what = t.CIDR4, 32, fmt.Sprintf("/%d around each address of %s", t.CIDR4, t.Text)
		} else if t.CIDR6 >= 0 && t.CIDR6 < 32 {
			bits, total, what = t.CIDR6, 128, fmt.Sprintf("/%d around each address of %s", t.CIDR6, t.Text)
		} else {
			return
		}
	default:
		return
	}
	warnAt, failAt := 16, 8 // IPv4: wider than /16 warns, /8 or wider fails
	if total == 128 {
		warnAt, failAt = 32, 16
	}
	if bits >= warnAt {
		return
	}
	sev := findings.SeverityWarn
	if bits <= failAt {
		sev = findings.SeverityFail
	}
	count := "2^" + fmt.Sprint(total-bits)
	if total == 32 {
		count = fmt.Sprint(uint64(1) << (32 - bits))
	}
	l.add(findings.Finding{
		ID: "spf.wide-range", Severity: sev,
		Title:    fmt.Sprintf("%q in the record of %s authorises %s addresses (%s)", t.Text, n.Domain, count, what),
		Detail:   "Anyone who can send from any address in the range (cloud and hosting providers rent such space out) passes SPF as your domain.",
		Evidence: []string{ev},
		Fix:      "List the servers' own addresses or small ranges (an IPv4 /24 or longer, an IPv6 /48 or longer).",
		Refs:     []string{"RFC 7208 5.6", "RFC 7208 11.4"},
	})
}

// duplicateIncludes reports a domain reached by include from several places:
// receivers evaluate (and count) it each time.
func (l *linter) duplicateIncludes() {
	count := map[string][]*Node{}
	walk(l.res.Tree, func(n *Node) {
		if n.Via == "include" && n.Status != NodeLoop {
			count[n.Domain] = append(count[n.Domain], n)
		}
	})
	var doms []string
	for d, ns := range count {
		// Count the places that include d; when they are all copies of one
		// duplicated parent, the parent's finding says it all.
		parents := map[string]bool{}
		for _, n := range ns {
			parents[n.parent.Domain] = true
		}
		if len(ns) > 1 && len(parents) > 1 {
			doms = append(doms, d)
		}
	}
	sort.Strings(doms)
	for _, d := range doms {
		ns := count[d]
		var ev []string
		for _, n := range ns {
			ev = append(ev, chain(n))
		}
		l.add(findings.Finding{
			ID: "spf.duplicate-mechanism", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("include:%s is reached %d times; each costs %d lookup(s)", d, len(ns), ns[0].TotalLookups),
			Detail:   "Receivers evaluate an include every time they reach it, and count its lookups again.",
			Evidence: ev,
			Fix:      fmt.Sprintf("Keep one include:%s and remove the others.", d),
			Refs:     []string{"RFC 7208 4.6.4"},
		})
	}
}

// lookupEvidence lists what costs the lookups: each top-level term with its
// subtree's cost.
func lookupEvidence(root *Node) []string {
	ev := []string{fmt.Sprintf("%s TXT %q", root.Domain, root.Record)}
	type cost struct {
		what string
		n    int
	}
	var cs []cost
	for i, ti := range root.Terms {
		if !ti.Lookup {
			continue
		}
		n := ti.cost
		for _, c := range root.Children {
			if c.termIdx == i {
				n += c.TotalLookups
			}
		}
		cs = append(cs, cost{ti.Text, n})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].n > cs[j].n })
	for _, c := range cs {
		ev = append(ev, fmt.Sprintf("%s: %d lookup(s)", c.what, c.n))
	}
	return ev
}

func voidEvidence(root *Node) []string {
	var ev []string
	walk(root, func(n *Node) {
		for _, ti := range n.Terms {
			if ti.Void {
				ev = append(ev, fmt.Sprintf("%s in %s: %s", ti.Text, n.Domain, ti.Note))
			}
		}
	})
	return ev
}

// Summary is a one-line description of the result for the check table.
func (lr *LintResult) Summary() string {
	switch {
	case lr.Offline:
		return "not checked: --offline and the domain is in no --zone file"
	case lr.Tree.Status == NodeDNSError:
		return "could not be determined: DNS lookup failed"
	case lr.Tree.Status == NodeNoRecord:
		return "no SPF record"
	case lr.Tree.Status == NodeMultipleRecords:
		return "several SPF records (permerror)"
	case lr.Tree.Status == NodeSyntaxError:
		return "syntax error (permerror)"
	}
	s := fmt.Sprintf("%d/10 lookups, %d void", lr.Lookups, lr.VoidLookups)
	if !lr.Complete {
		s = fmt.Sprintf("at least %d/10 lookups, %d void (part of the tree not resolved)", lr.Lookups, lr.VoidLookups)
	}
	if lr.Normalized != "" {
		var all string
		for _, t := range lr.Tree.rec.Mechanisms() {
			if t.Name == "all" {
				all = t.Text
			}
		}
		if all != "" {
			s += ", ends in " + all
		}
	}
	return s
}

// dnsErrorFinding is findings.DNSError for an SPF lookup, with what
// receivers do about it: a lookup that fails for them is a temperror, and
// they defer the mail.
func dnsErrorFinding(what string, err error) findings.Finding {
	if err == nil {
		err = errors.New("lookup failed")
	}
	f := findings.DNSError("spf", what, err)
	if f.ID == "spf.dns-error" {
		f.Detail += " Receivers that hit the same failure evaluate SPF as temperror and defer the mail."
		f.BounceCodes = codesTemp
		f.Refs = []string{"RFC 7208 2.6.6"}
	}
	return f
}
