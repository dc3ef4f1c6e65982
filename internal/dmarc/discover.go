package dmarc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// maxWalkQueries is the most names a DNS Tree Walk asks (RFC 9989 4.10:
// "Author Domains with more than eight labels do not result in more than
// eight DNS queries").
const maxWalkQueries = 8

// StepStatus is what one name of the walk held.
type StepStatus string

// Step statuses.
const (
	StepRecord   StepStatus = "record"   // exactly one DMARC record
	StepMultiple StepStatus = "multiple" // several DMARC records: all discarded (RFC 9989 4.10 step 2)
	StepNone     StepStatus = "none"     // TXT records, none of them DMARC
	StepNoData   StepStatus = "nodata"   // the name exists without TXT records
	StepNXDomain StepStatus = "nxdomain" // the name does not exist
	StepError    StepStatus = "error"    // the DNS did not answer: the walk cannot go on
	StepOffline  StepStatus = "offline"  // not asked (--offline and outside every zone)
)

// Step is one name asked during a DNS Tree Walk.
type Step struct {
	Name   string     `json:"name"`   // "_dmarc.example.com"
	Domain string     `json:"domain"` // "example.com"
	Status StepStatus `json:"status"`
	TXT    []string   `json:"txt,omitempty"`
	PSD    PSDFlag    `json:"psd,omitempty"`  // the found record's psd tag, if any
	Note   string     `json:"note,omitempty"` // why the walk jumped or stopped here
	Error  string     `json:"error,omitempty"`
	// Record is the parsed record when Status is StepRecord.
	Record *Record `json:"-"`
	// Text is the raw DMARC record when Status is StepRecord.
	Text string `json:"-"`
	err  error
}

// walkNames lists the domains whose _dmarc names a DNS Tree Walk from
// domain asks, in order (RFC 9989 4.10 steps 1-7): the domain itself; then,
// for more than eight labels, straight to its last seven labels (the
// short cut); then one label less at a time down to the top-level domain.
func walkNames(domain string) []string {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	if domain == "" {
		return nil
	}
	labels := strings.Split(domain, ".")
	names := []string{domain}
	// Step 4: if x >= 8, remove labels until 7 remain; then step 7 removes
	// one label at a time.
	for k := min(len(labels)-1, maxWalkQueries-1); k >= 1; k-- {
		names = append(names, strings.Join(labels[len(labels)-k:], "."))
	}
	return names
}

// treeWalk performs the DNS Tree Walk from domain (RFC 9989 4.10). All names
// are asked at once (their answers are independent; the resolver coalesces
// repeated questions), then read in order until a record with psd=y or
// psd=n stops the walk. The steps returned are those a receiver would ask.
// The error is non-nil when a name before the stop could not be looked up
// (a temporary DNS failure), in which case the steps end at that name.
func treeWalk(ctx context.Context, r dnsx.Resolver, domain string) ([]Step, error) {
	names := walkNames(domain)
	if len(names) == 0 {
		return nil, &dnsx.Error{Name: domain, Reason: "empty name", Err: dnsx.ErrInvalidName}
	}
	// Every goroutine started here ends before Walk returns: a stop or an
	// error cancels the questions still in flight, and the deferred Wait
	// collects them, so no lookup outlives the caller's resolver scope.
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	results := make([]chan Step, len(names))
	for i, d := range names {
		results[i] = make(chan Step, 1)
		wg.Add(1)
		go func() { defer wg.Done(); results[i] <- lookupStep(ctx, r, d) }()
	}
	var steps []Step
	for i := range names {
		st := <-results[i]
		if i == 1 && len(names[0]) > 0 && strings.Count(names[0], ".")+1 > maxWalkQueries {
			st.Note = fmt.Sprintf("short cut: %s has more than %d labels, so the walk skips to its last 7", names[0], maxWalkQueries)
		}
		steps = append(steps, st)
		if st.Status == StepError {
			return steps, st.err
		}
		if st.Status == StepRecord && (st.PSD == PSDYes || st.PSD == PSDNo) {
			// Steps 2 and 6: a record with psd=y or psd=n stops the walk.
			steps[len(steps)-1].Note = joinNote(st.Note, fmt.Sprintf("psd=%s: the walk stops here", st.PSD))
			break
		}
	}
	return steps, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// lookupStep asks _dmarc.<domain> TXT and classifies the answer.
func lookupStep(ctx context.Context, r dnsx.Resolver, domain string) Step {
	st := Step{Name: "_dmarc." + domain, Domain: domain}
	res, err := r.Lookup(ctx, st.Name, dns.TypeTXT)
	if err != nil {
		st.Status, st.Error, st.err = StepError, err.Error(), err
		return st
	}
	switch {
	case res.Offline:
		st.Status = StepOffline
		return st
	case res.Status == dnsx.StatusNXDomain:
		st.Status = StepNXDomain
		return st
	}
	st.TXT = res.TXT()
	var dmarc []string
	for _, t := range st.TXT {
		if isDMARC(t) {
			dmarc = append(dmarc, t)
		}
	}
	switch {
	case len(dmarc) > 1:
		st.Status = StepMultiple
	case len(dmarc) == 1:
		rec, _ := ParseRecord(dmarc[0])
		if rec == nil { // cannot happen: IsDMARC held
			st.Status = StepNone
			break
		}
		st.Status, st.Record, st.Text, st.PSD = StepRecord, rec, dmarc[0], rec.PSD
	case len(st.TXT) > 0:
		st.Status = StepNone
	default:
		st.Status = StepNoData
	}
	return st
}

// Organizational-domain rules (RFC 9989 4.10.2), for Discovery.OrgRule.
const (
	OrgRulePSDNo    = "psd=n"         // a record with psd=n names itself
	OrgRulePSDYes   = "below-psd"     // one label below a psd=y record
	OrgRuleFewest   = "fewest-labels" // the record with the fewest labels
	OrgRuleNoRecord = "no-record"     // no record: the domain itself
)

// organizationalDomain selects the Organizational Domain of start from the
// steps of its tree walk (RFC 9989 4.10.2): among the names with a valid
// record, from the longest to the shortest, (1) psd=n is the Organizational
// Domain; (2) psd=y, other than at start, makes the name one label below it
// the Organizational Domain; (3) otherwise the record with the fewest
// labels. Without any record, start itself is the Organizational Domain.
func organizationalDomain(start string, steps []Step) (org, rule string) {
	fewest := ""
	for _, st := range steps {
		if st.Status != StepRecord {
			continue
		}
		switch {
		case st.PSD == PSDNo:
			return st.Domain, OrgRulePSDNo
		case st.PSD == PSDYes && st.Domain != start:
			return oneLabelBelow(start, st.Domain), OrgRulePSDYes
		}
		fewest = st.Domain // steps run from longest to shortest
	}
	if fewest == "" {
		return start, OrgRuleNoRecord
	}
	return fewest, OrgRuleFewest
}

// oneLabelBelow returns the ancestor-or-self of start that has one label
// more than parent (which must be a proper suffix of start).
func oneLabelBelow(start, parent string) string {
	sl := strings.Split(start, ".")
	n := strings.Count(parent, ".") + 2
	if n > len(sl) {
		return start
	}
	return strings.Join(sl[len(sl)-n:], ".")
}

// Discovery is the outcome of DMARC Policy Discovery for a domain (RFC 9989
// 4.10.1) and of its Organizational Domain determination (4.10.2).
type Discovery struct {
	Domain string `json:"domain"`
	// Walk are the names asked, in order, and what each held.
	Walk []Step `json:"walk"`

	// Record is the DMARC Policy Record that applies to mail whose From:
	// domain is Domain (nil: none, DMARC does not apply).
	Record *Record `json:"-"`
	// Text is Record as published.
	Text string `json:"record,omitempty"`
	// FoundAt is the domain whose _dmarc name holds Record (the DMARC
	// Policy Domain).
	FoundAt string `json:"found_at,omitempty"`
	// Source says which of 4.10.1's three places Record came from:
	// "domain", "organizational-domain" or "public-suffix-domain".
	Source string `json:"source,omitempty"`

	// OrgDomain is Domain's Organizational Domain, by the tree walk.
	OrgDomain string `json:"org_domain"`
	// OrgRule is the 4.10.2 rule that chose it (OrgRule* constants).
	OrgRule string `json:"org_rule"`
	// PSDDomain is where a record with psd=y was found, if any.
	PSDDomain string `json:"psd_domain,omitempty"`

	// Exists is "yes" or "no" (NXDOMAIN), or "unknown"; it decides between
	// sp and np when Record comes from a parent (RFC 9989 4.10.1, A.4).
	Exists string `json:"domain_exists"`
	// PolicyTag is the tag the policy for Domain was taken from: p, sp or
	// np ("" without a record).
	PolicyTag string `json:"policy_tag,omitempty"`
	// Policy is the Domain Owner Assessment Policy for mail from Domain.
	Policy Policy `json:"policy,omitempty"`
	// SubdomainPolicy and NonexistentPolicy are the policies for mail from
	// existing and non-existent names below Domain that publish no record
	// of their own, and SubdomainPolicyFrom the domain whose record gives
	// them (it is not Domain when Domain is not its own Organizational
	// Domain: sp and np are read only at the Organizational Domain or PSD).
	SubdomainPolicy     Policy `json:"subdomain_policy,omitempty"`
	NonexistentPolicy   Policy `json:"nonexistent_policy,omitempty"`
	SubdomainPolicyFrom string `json:"subdomain_policy_from,omitempty"`
	// Testing is t=y in Record: receivers apply one policy level lower.
	Testing bool `json:"testing"`
	// Applies is false when a record was found but receivers ignore it
	// (no valid p and no valid rua, RFC 9989 4.10.1).
	Applies bool `json:"applies"`

	// Offline is set when the first name could not be asked (--offline).
	Offline bool `json:"offline,omitempty"`
	// Err is the lookup failure that left the discovery incomplete.
	Err error `json:"-"`
}

// Lookup discovers the DMARC Policy Record that applies to domain by the
// DNS Tree Walk (RFC 9989 4.10.1) and determines domain's Organizational
// Domain (4.10.2) and the effective policies for it and its subdomains.
// It also asks whether domain exists (its TXT records: the same question
// SPF asks, so the shared resolver answers it once), which decides between
// sp and np.
//
// A temporary DNS failure is returned as an error (wrapping
// dnsx.ErrTemporary) together with the partial Discovery: it never means
// "no record".
func Lookup(ctx context.Context, r dnsx.Resolver, domain string) (*Discovery, error) {
	fq, err := dnsx.CanonicalName(domain)
	if err != nil {
		return nil, err
	}
	domain = strings.TrimSuffix(fq, ".")
	type existence struct {
		res *dnsx.Result
		err error
	}
	exists := make(chan existence, 1)
	go func() {
		res, err := r.Lookup(ctx, domain, dns.TypeTXT)
		exists <- existence{res, err}
	}()
	steps, werr := treeWalk(ctx, r, domain)
	d := &Discovery{Domain: domain, Walk: steps, Exists: "unknown"}
	if e := <-exists; e.err == nil && !e.res.Offline {
		d.Exists = "yes"
		if e.res.Status == dnsx.StatusNXDomain {
			d.Exists = "no"
		}
	}
	if len(steps) > 0 && steps[0].Status == StepOffline {
		d.Offline = true
	}
	if werr != nil {
		d.Err = werr
		// The policy is still known when the Author Domain has its own
		// record and only a later name (needed for the Organizational
		// Domain) failed.
		if len(steps) > 1 && steps[0].Status == StepRecord {
			st := steps[0]
			d.Record, d.Text, d.FoundAt, d.Source, d.PolicyTag = st.Record, st.Text, st.Domain, "domain", "p"
			d.Policy, _, _ = st.Record.Effective()
			d.Testing, d.Applies = st.Record.TestMode(), st.Record.Applies()
		}
		return d, werr
	}
	d.resolve(steps)
	return d, nil
}

// resolve applies RFC 9989 4.10.1 and 4.10.2 to the walk's steps.
func (d *Discovery) resolve(steps []Step) {
	d.OrgDomain, d.OrgRule = organizationalDomain(d.Domain, steps)
	for _, st := range steps {
		if st.Status == StepRecord && st.PSD == PSDYes {
			d.PSDDomain = st.Domain
		}
	}
	pol := policyFor(d.Domain, d.Exists != "no", steps)
	if pol.step == nil {
		return
	}
	d.Record, d.Text, d.FoundAt, d.Source = pol.step.Record, pol.step.Text, pol.step.Domain, pol.source
	d.PolicyTag, d.Policy = pol.tag, pol.policy
	d.Testing = d.Record.TestMode()
	d.Applies = d.Record.Applies()
	// Subdomains of Domain without records of their own: their walk is
	// this one with one more name in front (assuming it has at most eight
	// labels), so the same rules give their policy.
	sub := policyFor("_."+d.Domain, true, steps)
	if sub.step != nil {
		d.SubdomainPolicy = sub.policy
		d.NonexistentPolicy = policyFor("_."+d.Domain, false, steps).policy
		d.SubdomainPolicyFrom = sub.step.Domain
	}
}

type policyChoice struct {
	step   *Step
	source string
	tag    string
	policy Policy
}

// policyFor applies RFC 9989 4.10.1 for mail from author, given the walk
// steps (for a synthetic subdomain author, the steps of its parent): the
// record at the Author Domain, else at its Organizational Domain, else at
// its Public Suffix Domain. The policy is p for the Author Domain's own
// record, else sp for an existing and np for a non-existent Author Domain,
// each falling back to p.
func policyFor(author string, exists bool, steps []Step) policyChoice {
	var c policyChoice
	find := func(domain string) *Step {
		for i := range steps {
			if steps[i].Domain == domain && steps[i].Status == StepRecord {
				return &steps[i]
			}
		}
		return nil
	}
	if st := find(author); st != nil {
		c.step, c.source, c.tag = st, "domain", "p"
		c.policy, _, _ = st.Record.Effective()
		return c
	}
	org, _ := organizationalDomain(author, steps)
	if st := find(org); st != nil {
		c.step, c.source = st, "organizational-domain"
	} else {
		for i := range steps {
			if steps[i].Status == StepRecord && steps[i].PSD == PSDYes {
				c.step, c.source = &steps[i], "public-suffix-domain"
			}
		}
	}
	if c.step == nil {
		return c
	}
	_, sp, np := c.step.Record.Effective()
	switch {
	case exists:
		c.tag, c.policy = "sp", sp
		if c.step.Record.SubdomainPolicy == "" {
			c.tag = "p"
		}
	default:
		c.tag, c.policy = "np", np
		switch {
		case c.step.Record.NonExistentPolicy != "":
		case c.step.Record.SubdomainPolicy != "":
			c.tag = "sp"
		default:
			c.tag = "p"
		}
	}
	return c
}

// lookupOrgDomain determines the Organizational Domain of domain by
// the DNS Tree Walk (RFC 9989 4.10.2). A temporary DNS failure is an error.
func lookupOrgDomain(ctx context.Context, r dnsx.Resolver, domain string) (string, error) {
	fq, err := dnsx.CanonicalName(domain)
	if err != nil {
		return "", err
	}
	domain = strings.TrimSuffix(fq, ".")
	steps, err := treeWalk(ctx, r, domain)
	if err != nil {
		return "", err
	}
	org, _ := organizationalDomain(domain, steps)
	return org, nil
}

// OrganizationalDomains determines the Organizational Domains of several
// domains concurrently, as alignment needs for the From: domain, the SPF
// domain and each DKIM d= domain (RFC 9989 4.10.2). Empty names are
// skipped. The map is keyed by the lower-case name without trailing dot.
func OrganizationalDomains(ctx context.Context, r dnsx.Resolver, domains ...string) (map[string]string, error) {
	type one struct {
		name, org string
		err       error
	}
	uniq := map[string]bool{}
	ch := make(chan one, len(domains))
	for _, d := range domains {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		if d == "" || uniq[d] {
			continue
		}
		uniq[d] = true
		go func() {
			org, err := lookupOrgDomain(ctx, r, d)
			ch <- one{d, org, err}
		}()
	}
	out := map[string]string{}
	var errs []error
	for range uniq {
		o := <-ch
		if o.err != nil {
			errs = append(errs, fmt.Errorf("organizational domain of %s: %w", o.name, o.err))
			continue
		}
		out[o.name] = o.org
	}
	return out, errors.Join(errs...)
}

// step returns the walk step with a record at domain, or nil.
func (d *Discovery) step(domain string) *Step {
	for i := range d.Walk {
		if d.Walk[i].Domain == domain && d.Walk[i].Status == StepRecord {
			return &d.Walk[i]
		}
	}
	return nil
}
