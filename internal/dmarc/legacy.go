package dmarc

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// LegacyView is what a receiver that implements only RFC 7489 decides for
// the same domain: it finds the Organizational Domain with the Public
// Suffix List (RFC 7489 3.2), looks for a record at the domain and then
// only at that Organizational Domain (6.6.3), honours pct, rf, ri and the
// "!size" of report URIs, and ignores np, psd and t. Many receivers still
// work this way; the differences are what a Domain Owner must plan for.
type LegacyView struct {
	// OrgDomain is the Organizational Domain by the Public Suffix List
	// (golang.org/x/net/publicsuffix, the list's ICANN and private
	// sections, as of that module's version).
	OrgDomain string `json:"org_domain"`
	// PolicyDomain is where an RFC 7489 receiver finds the record ("" none).
	PolicyDomain string `json:"policy_domain,omitempty"`
	// Policy is the policy it applies to failing mail from the domain.
	Policy Policy `json:"policy,omitempty"`
	// Pct is the percentage of failing mail the policy applies to (pct,
	// default 100); the rest gets the next weaker policy (RFC 7489 6.6.4).
	Pct int `json:"pct"`
	// Differences lists, for people, where RFC 7489 and RFC 9989 receivers
	// part ways for this domain.
	Differences []string `json:"differences"`
	// Err is set when a lookup an RFC 7489 receiver makes failed.
	Err error `json:"-"`
}

// PSLOrganizationalDomain is RFC 7489 3.2's Organizational Domain: the
// registrable domain by the Public Suffix List (the domain itself when it
// is a public suffix).
func PSLOrganizationalDomain(domain string) string {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

// legacyView computes the RFC 7489 view of a discovery. It may ask one more
// name, _dmarc.<PSL Organizational Domain>, when the tree walk did not.
func legacyView(ctx context.Context, r dnsx.Resolver, d *Discovery) *LegacyView {
	lv := &LegacyView{OrgDomain: PSLOrganizationalDomain(d.Domain), Pct: 100, Differences: []string{}}
	// RFC 7489 6.6.3 step 1: _dmarc.<From domain>; step 2: if none, the
	// Organizational Domain.
	var st *Step
	if len(d.Walk) > 0 && d.Walk[0].Status == StepRecord {
		st = &d.Walk[0]
	} else if lv.OrgDomain != d.Domain {
		for i := range d.Walk {
			if d.Walk[i].Domain == lv.OrgDomain {
				st = &d.Walk[i]
			}
		}
		if st == nil {
			s := lookupStep(ctx, r, lv.OrgDomain)
			st = &s
		}
		if st.Status == StepError {
			lv.Err = st.err
			return lv
		}
		if st.Status != StepRecord {
			st = nil
		}
	}
	diff := func(format string, a ...any) { lv.Differences = append(lv.Differences, fmt.Sprintf(format, a...)) }
	if st != nil {
		rec := st.Record
		lv.PolicyDomain = st.Domain
		p, sp, _ := rec.Effective()
		if st.Domain == d.Domain {
			lv.Policy = p
		} else {
			lv.Policy = sp
		}
		if rec.Pct != nil {
			lv.Pct = *rec.Pct
		}
		if rec.Policy == "" {
			diff("the record at _dmarc.%s has no p tag, which RFC 7489 requires as the second tag; RFC 7489 receivers use it only if rua holds a valid URI (as p=none)", st.Domain)
		}
	}
	switch {
	case d.FoundAt != "" && lv.PolicyDomain == "":
		if d.Source == "public-suffix-domain" {
			diff("the policy comes from the Public Suffix Domain %s (psd=y); RFC 7489 receivers do not look there, so for them %s has no DMARC policy", d.FoundAt, d.Domain)
		} else {
			diff("the tree walk finds the record at _dmarc.%s, but RFC 7489 receivers ask only _dmarc.%s and _dmarc.%s: for them %s has no DMARC policy", d.FoundAt, d.Domain, lv.OrgDomain, d.Domain)
		}
	case d.FoundAt == "" && lv.PolicyDomain != "":
		diff("RFC 7489 receivers apply the record at _dmarc.%s, which the RFC 9989 tree walk does not use for %s", lv.PolicyDomain, d.Domain)
	case d.FoundAt != lv.PolicyDomain:
		diff("RFC 9989 receivers apply the record at _dmarc.%s; RFC 7489 receivers the one at _dmarc.%s", d.FoundAt, lv.PolicyDomain)
	}
	if d.OrgDomain != "" && d.OrgDomain != lv.OrgDomain {
		diff("the Organizational Domain is %s by the tree walk but %s by the Public Suffix List, so relaxed alignment can differ between receivers", d.OrgDomain, lv.OrgDomain)
	}
	if lv.PolicyDomain != "" && lv.PolicyDomain == d.FoundAt && lv.Policy != d.Policy {
		diff("for mail from %s, RFC 9989 receivers apply %s=%s, RFC 7489 receivers %s (np is unknown to them)", d.Domain, d.PolicyTag, d.Policy, lv.Policy)
	}
	if lv.Pct < 100 && lv.Policy != PolicyNone && lv.PolicyDomain != "" {
		diff("RFC 7489 receivers apply pct=%d: %s to %d%% of failing mail and %s to the rest; RFC 9989 receivers ignore pct and apply %s to all of it", lv.Pct, lv.Policy, lv.Pct, lv.Policy.OneLevelDown(), d.Policy)
	}
	if d.Testing && lv.PolicyDomain != "" {
		diff("t=y asks RFC 9989 receivers to apply %s instead of %s; RFC 7489 receivers ignore t and apply %s", d.Policy.OneLevelDown(), d.Policy, lv.Policy)
	}
	if st := d.step(d.SubdomainPolicyFrom); st != nil && st.Record.NonExistentPolicy != "" && st.Record.NonExistentPolicy != st.Record.SP() {
		diff("np=%s is unknown to RFC 7489 receivers: they give mail from non-existent subdomains of %s the policy %s", st.Record.NonExistentPolicy, st.Domain, st.Record.SP())
	}
	return lv
}
