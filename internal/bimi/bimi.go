// Package bimi checks Brand Indicators for Message Identification
// (draft-brand-indicators-for-message-identification): the Assertion Record
// at default._bimi.DOMAIN (falling back to the Organizational Domain), its
// logo (l=: HTTPS, SVG Tiny PS) and evidence document (a=: a Verified or
// Common Mark Certificate), and the precondition receivers check first:
// DMARC at enforcement (draft 7.1: p=quarantine at 100% or p=reject, for
// the domain and its Organizational Domain, and no sp=none).
//
// BIMI never makes mail bounce; it decides whether a logo is shown. Its
// findings are warnings at most.
package bimi

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/httpsfetch"
	"github.com/deliverdoctor/deliverdoctor/internal/txtrecord"
)

const check = "bimi"

// DefaultSelector is the selector used without a BIMI-Selector header.
const DefaultSelector = "default"

// Fetch limits: logos over MaxLogoSize are reported, not refused; bodies
// beyond these limits are not read.
const (
	maxLogoFetch = 512 * 1024
	maxVMCFetch  = 256 * 1024
)

// oidBIMIEKU is id-kp-BrandIndicatorforMessageIdentification, the extended
// key usage of Mark Certificates (1.3.6.1.5.5.7.3.31 in IANA's "SMI
// Security for PKIX Extended Key Purpose" registry).
var oidBIMIEKU = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 31}

// oidLogotype is the logotype extension (RFC 3709) that carries the logo
// in a Mark Certificate.
var oidLogotype = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 12}

// RecordName is where the Assertion Record for selector lives.
func RecordName(selector, domain string) string {
	return selector + "._bimi." + strings.TrimSuffix(domain, ".")
}

// Options configure Check.
type Options struct {
	// Offline skips fetching the logo and the evidence document.
	Offline bool
	// Timeout bounds each fetch (default 10s).
	Timeout time.Duration
	// RootCAs verify the HTTPS servers (nil: system roots).
	RootCAs *x509.CertPool
	// Dial replaces the TCP dialer of the fetches (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the time certificates are judged at (zero: now).
	Now time.Time
}

// DMARCState is what BIMI needs to know about the domain's DMARC policy.
type DMARCState struct {
	Domain    string `json:"domain"`
	Record    string `json:"record,omitempty"`
	FoundAt   string `json:"found_at,omitempty"`
	Policy    string `json:"policy,omitempty"`
	Subdomain string `json:"subdomain_policy,omitempty"`
	Pct       *int   `json:"pct,omitempty"`
	Testing   bool   `json:"testing,omitempty"`
	// Enforced: the policy meets BIMI's requirement.
	Enforced bool `json:"enforced"`
	// Why lists what falls short, each with the dmarc finding ID that
	// reports it.
	Why []string `json:"why,omitempty"`
}

// Result is the BIMI analysis of a domain.
type Result struct {
	Domain string `json:"domain"`
	// Name is where the record used was found (the domain's or the
	// Organizational Domain's default._bimi name).
	Name      string   `json:"name,omitempty"`
	TXT       []string `json:"txt,omitempty"`
	Record    *Record  `json:"record,omitempty"`
	OrgDomain string   `json:"org_domain,omitempty"`
	// Logo and VMC are set when fetched.
	Logo     *SVGInfo             `json:"logo,omitempty"`
	LogoHTTP *httpsfetch.Response `json:"logo_http,omitempty"`
	VMC      *VMCInfo             `json:"vmc,omitempty"`
	DMARC    []DMARCState         `json:"dmarc,omitempty"`
	Findings []findings.Finding   `json:"-"`

	skip    string
	errored bool
}

// VMCInfo describes the evidence document's leaf certificate.
type VMCInfo struct {
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	NotAfter     time.Time `json:"not_after"`
	Names        []string  `json:"names,omitempty"`
	BIMIEKU      bool      `json:"bimi_eku"`
	Logotype     bool      `json:"logotype"`
	Certificates int       `json:"certificates"`
}

// Check looks up the Assertion Record and DMARC concurrently, then fetches
// the logo and evidence document unless Offline.
func Check(ctx context.Context, r dnsx.Resolver, domain string, o Options) *Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	res := &Result{Domain: domain}

	type dm struct {
		d   *dmarc.Discovery
		err error
	}
	dmc := make(chan dm, 1)
	go func() {
		d, err := dmarc.Lookup(ctx, r, domain)
		dmc <- dm{d, err}
	}()
	txts, txtRes, err := txtrecord.Lookup(ctx, r, RecordName(DefaultSelector, domain), IsBIMIRecord)
	d := <-dmc
	if d.d != nil {
		res.OrgDomain = d.d.OrgDomain
	}
	if err != nil {
		res.errored = true
		res.Findings = append(res.Findings, dnsErr(RecordName(DefaultSelector, domain), err))
		return res
	}
	res.Name = RecordName(DefaultSelector, domain)
	// Draft 7.2 step 6: no record at the Author Domain: try the
	// Organizational Domain.
	if len(txts) == 0 && res.OrgDomain != "" && res.OrgDomain != domain {
		name := RecordName(DefaultSelector, res.OrgDomain)
		t2, r2, err := txtrecord.Lookup(ctx, r, name, IsBIMIRecord)
		if err != nil {
			res.errored = true
			res.Findings = append(res.Findings, dnsErr(name, err))
			return res
		}
		if len(t2) > 0 {
			txts, txtRes, res.Name = t2, r2, name
		}
	}
	res.TXT = txts
	states, dmarcFinding := dmarcStates(ctx, r, domain, d.d, d.err)
	res.DMARC = states

	if len(txts) == 0 {
		if txtRes.Offline {
			res.skip = "not checked: --offline and " + res.Name + " is in no --zone file"
			return res
		}
		// Without a record, DMARC only colours the advice; a DMARC lookup
		// failure is the dmarc check's to report.
		res.Findings = append(res.Findings, noneFinding(res, txtRes))
		return res
	}
	ev := txtrecord.Evidence(res.Name, txts)
	if len(txts) > 1 {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "bimi.multiple-records", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s has %d BIMI records: receivers show no logo", res.Name, len(txts)),
			Detail:   "Draft 7.2 step 9: with more than one v=BIMI1 record, Assertion Record Discovery ends and BIMI is not applied.",
			Evidence: ev,
			Fix:      "Keep exactly one v=BIMI1 record at " + res.Name + ".",
			Refs:     []string{"draft-brand-indicators-for-message-identification 7.2"},
		})
		return res
	}
	rec, err := ParseRecord(txts[0])
	if err != nil {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "bimi.record-syntax", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the BIMI record at %s is invalid: %s", res.Name, strings.TrimPrefix(err.Error(), ErrRecordSyntax.Error()+": ")),
			Detail:   "Receivers must not repair BIMI records (draft 4.3): an invalid record means no logo.",
			Evidence: ev,
			Fix:      fmt.Sprintf("Publish %s. TXT \"v=BIMI1; l=https://%s/bimi/logo.svg; a=https://%s/bimi/vmc.pem\" (a= only with a mark certificate).", res.Name, domain, domain),
			Refs:     []string{"draft-brand-indicators-for-message-identification 4.3"},
		})
		return res
	}
	res.Record = rec
	if rec.Declined() {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "bimi.declined", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%s declines BIMI (l= and a= empty)", res.Name),
			Detail:   "An explicit declination to publish (draft 4.3.1): receivers show no logo for this domain, even if its Organizational Domain has one.",
			Evidence: ev,
			Refs:     []string{"draft-brand-indicators-for-message-identification 4.3.1"},
		})
		return res
	}
	if dmarcFinding != nil {
		res.Findings = append(res.Findings, *dmarcFinding)
	}
	locOK, authOK := true, rec.Authority != ""
	if rec.Location == "" && rec.Authority == "" {
		locOK = false
	} else if rec.Location != "" {
		if err := CheckLocation(rec.Location); err != nil {
			locOK = false
			res.Findings = append(res.Findings, findings.Finding{
				ID: "bimi.bad-location", Severity: findings.SeverityWarn,
				Title:    "the BIMI logo location is unusable: " + err.Error(),
				Detail:   "Draft 4.3 and 7.3: l= must be a single HTTPS URI of an SVG file; otherwise Indicator Discovery fails and no logo is shown.",
				Evidence: ev,
				Fix:      "Use l=https://" + domain + "/path/logo.svg (an SVG Tiny PS file served over HTTPS).",
				Refs:     []string{"draft-brand-indicators-for-message-identification 4.3.2", "draft-brand-indicators-for-message-identification 7.3"},
			})
		}
	}
	if rec.Authority != "" {
		if err := CheckAuthority(rec.Authority); err != nil {
			authOK = false
			res.Findings = append(res.Findings, findings.Finding{
				ID: "bimi.bad-authority", Severity: findings.SeverityWarn,
				Title:    "the BIMI evidence location is unusable: " + err.Error(),
				Detail:   "Draft 4.3: a= must be a single HTTPS URI of the mark certificate (PEM).",
				Evidence: ev,
				Fix:      "Use the https:// URL of the .pem file your certificate authority issued.",
				Refs:     []string{"draft-brand-indicators-for-message-identification 4.3"},
			})
		}
	} else {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "bimi.no-authority", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("the BIMI record of %s has no a= mark certificate: Gmail and Apple Mail will not show the logo", domain),
			Detail:   "Gmail and Apple Mail require a Verified Mark Certificate (VMC) or, at Gmail, a Common Mark Certificate (CMC); Yahoo and some others show self-asserted logos for senders with good reputation and DMARC at enforcement.",
			Evidence: ev,
			Fix:      "Obtain a VMC or CMC from a mark certificate authority (DigiCert, Entrust, GlobalSign, SSL.com) and add a=https://.../vmc.pem.",
			Refs:     []string{"draft-brand-indicators-for-message-identification 4.3", "draft-brand-indicators-for-message-identification 7.4"},
		})
	}
	if rec.AVP != "" && rec.AVP != "brand" && rec.AVP != "personal" {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "bimi.bad-avp", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("avp=%s is not brand or personal; receivers ignore it or reject the record", rec.AVP),
			Evidence: ev,
			Refs:     []string{"draft-brand-indicators-for-message-identification 4.3"},
		})
	}
	if o.Offline {
		res.skip = "record ok; logo and certificate not fetched: --offline"
		return res
	}
	if locOK && rec.Location != "" {
		res.fetchLogo(ctx, r, o)
	}
	if authOK {
		res.fetchVMC(ctx, r, o)
	}
	return res
}

// dmarcStates judges the DMARC policy of the domain and, when different,
// its Organizational Domain against draft 7.1 steps 7-9, and returns the
// finding that links to the dmarc check's finding IDs.
func dmarcStates(ctx context.Context, r dnsx.Resolver, domain string, d *dmarc.Discovery, err error) ([]DMARCState, *findings.Finding) {
	if err != nil {
		f := findings.Finding{
			ID: "bimi.dmarc-unknown", Severity: findings.SeverityError,
			Title:  "could not look up the DMARC policy that BIMI depends on",
			Detail: err.Error() + ". See the dmarc check (dmarc.dns-error).",
			Refs:   []string{"dmarc.dns-error", "draft-brand-indicators-for-message-identification 7.1"},
		}
		return nil, &f
	}
	if d == nil || d.Offline {
		return nil, nil
	}
	states := []DMARCState{judgeDMARC(domain, d)}
	if d.OrgDomain != "" && d.OrgDomain != domain && d.FoundAt != d.OrgDomain {
		// Draft 7.1 steps 7-9 apply to the Author Domain and the Author
		// Organizational Domain; the resolver answers the second walk from
		// its cache.
		if od, err := dmarc.Lookup(ctx, r, d.OrgDomain); err == nil && od != nil && !od.Offline && od.Record != nil {
			states = append(states, judgeDMARC(d.OrgDomain, od))
		}
	}
	var why, refs []string
	var ev []string
	for _, s := range states {
		if !s.Enforced {
			why = append(why, s.Why...)
		}
		if s.Record != "" {
			ev = append(ev, fmt.Sprintf("_dmarc.%s TXT %q", s.FoundAt, s.Record))
		} else {
			ev = append(ev, fmt.Sprintf("%s: no DMARC record", s.Domain))
		}
	}
	if len(why) == 0 {
		return states, nil
	}
	for _, w := range why {
		if i := strings.Index(w, "(dmarc."); i >= 0 {
			id := strings.TrimSuffix(w[i+1:], ")")
			if !slices.Contains(refs, id) {
				refs = append(refs, id)
			}
		}
	}
	refs = append(refs, "draft-brand-indicators-for-message-identification 7.1")
	f := findings.Finding{
		ID: "bimi.dmarc-not-enforced", Severity: findings.SeverityWarn,
		Title:    fmt.Sprintf("BIMI needs DMARC at enforcement, and %s is not: %s", domain, strings.Join(stripIDs(why), "; ")),
		Detail:   "Receivers apply BIMI only when the DMARC policy of the domain and of its Organizational Domain is p=quarantine (at 100%) or p=reject, with no sp=none (draft 7.1). The dmarc check's findings " + strings.Join(refs[:len(refs)-1], ", ") + " report the same policy; fixing them enables the logo.",
		Evidence: ev,
		Fix:      "Move DMARC to p=quarantine, then p=reject, once aggregate reports show all legitimate mail aligned; remove pct (or set 100), t=y and sp=none.",
		Refs:     refs,
	}
	return states, &f
}

func judgeDMARC(domain string, d *dmarc.Discovery) DMARCState {
	s := DMARCState{Domain: domain, FoundAt: d.FoundAt, Record: d.Text, Policy: string(d.Policy),
		Subdomain: string(d.SubdomainPolicy), Testing: d.Testing}
	if d.Record == nil || !d.Applies {
		s.Why = append(s.Why, fmt.Sprintf("%s has no DMARC policy (dmarc.no-record)", domain))
		return s
	}
	s.Pct = d.Record.Pct
	switch d.Policy {
	case dmarc.PolicyReject:
	case dmarc.PolicyQuarantine:
		if d.Record.Pct != nil && *d.Record.Pct != 100 {
			s.Why = append(s.Why, fmt.Sprintf("p=quarantine at pct=%d for %s (dmarc.legacy-tag)", *d.Record.Pct, domain))
		}
	default:
		s.Why = append(s.Why, fmt.Sprintf("p=none for %s (dmarc.policy-none)", domain))
	}
	if d.Testing && d.Policy != dmarc.PolicyNone {
		s.Why = append(s.Why, fmt.Sprintf("t=y for %s lowers the policy one level (dmarc.testing)", domain))
	}
	if d.Record.SubdomainPolicy == dmarc.PolicyNone {
		s.Why = append(s.Why, fmt.Sprintf("sp=none at %s (dmarc.weak-subdomain-policy)", d.FoundAt))
	}
	s.Enforced = len(s.Why) == 0
	return s
}

func stripIDs(why []string) []string {
	out := make([]string, len(why))
	for i, w := range why {
		if j := strings.Index(w, " (dmarc."); j >= 0 {
			w = w[:j]
		}
		out[i] = w
	}
	return out
}

func (res *Result) fetchLogo(ctx context.Context, r dnsx.Resolver, o Options) {
	l := res.Record.Location
	resp, err := httpsfetch.Get(ctx, l, httpsfetch.Options{Resolver: r, Timeout: o.Timeout, MaxBytes: maxLogoFetch,
		RootCAs: o.RootCAs, Dial: o.Dial, Accept: "image/svg+xml"})
	if f := fetchFinding("bimi.logo-unreachable", "the BIMI logo", l, resp, err); f != nil {
		res.Findings = append(res.Findings, *f)
		return
	}
	res.LogoHTTP = resp
	info, problems := CheckSVG(resp.Body)
	res.Logo = info
	if resp.Truncated {
		problems = append([]SVGProblem{{"too-large", fmt.Sprintf("more than %d KB (not read further)", maxLogoFetch/1024)}}, problems...)
	}
	if len(problems) == 0 {
		return
	}
	var ev []string
	ev = append(ev, fmt.Sprintf("GET %s: HTTP %d, %d bytes, Content-Type %q", l, resp.StatusCode, resp.Size, resp.ContentType))
	for _, p := range problems {
		ev = append(ev, p.Code+": "+p.Text)
	}
	f := findings.Finding{
		ID: "bimi.logo-not-tiny-ps", Severity: findings.SeverityWarn,
		Title:    fmt.Sprintf("the BIMI logo does not look like SVG Tiny PS (%d problems)", len(problems)),
		Detail:   "Receivers validate the indicator against the SVG Tiny Portable/Secure profile and show nothing when it fails (draft 7.6). Common causes are a logo exported from a design tool without converting it to Tiny PS.",
		Evidence: ev,
		Fix:      "Convert the logo to SVG Tiny PS (version=\"1.2\" baseProfile=\"tiny-ps\", a <title>, square viewBox, no scripts, images or external links; under 32 KB), e.g. with the BIMI Group's conversion tools, and re-upload it.",
		Refs:     []string{"draft-svg-tiny-ps-abrotman", "draft-brand-indicators-for-message-identification 7.6"},
	}
	if problems[0].Code == "not-svg" {
		f.ID = "bimi.logo-not-svg"
		f.Title = "the BIMI logo location does not serve an SVG document: " + problems[0].Text
	}
	res.Findings = append(res.Findings, f)
}

func (res *Result) fetchVMC(ctx context.Context, r dnsx.Resolver, o Options) {
	a := res.Record.Authority
	resp, err := httpsfetch.Get(ctx, a, httpsfetch.Options{Resolver: r, Timeout: o.Timeout, MaxBytes: maxVMCFetch,
		RootCAs: o.RootCAs, Dial: o.Dial})
	if f := fetchFinding("bimi.vmc-unreachable", "the BIMI mark certificate", a, resp, err); f != nil {
		res.Findings = append(res.Findings, *f)
		return
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	info, problems := CheckVMC(resp.Body, []string{res.Domain, res.OrgDomain}, now)
	res.VMC = info
	if len(problems) == 0 {
		return
	}
	res.Findings = append(res.Findings, findings.Finding{
		ID: "bimi.vmc-invalid", Severity: findings.SeverityWarn,
		Title:    "the BIMI mark certificate is not usable: " + strings.Join(problems, "; "),
		Detail:   "Receivers that require a mark certificate (Gmail, Apple Mail) verify it and show no logo when it is expired, not a mark certificate, or not issued for the domain. (deliverdoctor does not check the chain to the mark certificate roots.)",
		Evidence: []string{fmt.Sprintf("GET %s: HTTP %d, %d bytes", a, resp.StatusCode, resp.Size)},
		Fix:      "Renew or re-download the VMC/CMC from the issuing authority and publish the full PEM chain at the a= URL.",
		Refs:     []string{"draft-brand-indicators-for-message-identification 7.4", "RFC 3709"},
	})
}

// fetchFinding reports a failed fetch or non-200 answer (nil when fine).
func fetchFinding(id, what, url string, resp *httpsfetch.Response, err error) *findings.Finding {
	f := &findings.Finding{
		ID: id, Severity: findings.SeverityWarn,
		Evidence: []string{"GET " + url},
		Fix:      "Serve the file at " + url + " over HTTPS with a publicly trusted certificate, status 200 and no redirect.",
		Refs:     []string{"draft-brand-indicators-for-message-identification 7.5"},
	}
	var fe *httpsfetch.Error
	switch {
	case errors.As(err, &fe):
		f.Title = fmt.Sprintf("%s could not be fetched: %v", what, fe.Err)
		if p := fe.CertificateProblem(); p != "" {
			f.Title = fmt.Sprintf("%s's server certificate is not valid: %s", what, p)
			f.Detail = "Draft 7.5: if the certificate does not chain to a trusted root, the indicator must not be displayed."
		}
		if fe.Temporary() {
			f.Severity = findings.SeverityError
			f.Detail = "The failure may be temporary; whether receivers can fetch it is not known."
		}
		f.Evidence = append(f.Evidence, fe.Error())
	case err != nil:
		f.Title = fmt.Sprintf("%s could not be fetched: %v", what, err)
	case resp.Redirected():
		// Receivers differ; a redirect is worth knowing about, but the
		// draft does not forbid it. We do not follow it.
		f.Severity = findings.SeverityInfo
		f.Title = fmt.Sprintf("%s redirects (HTTP %d to %s); not all receivers follow redirects", what, resp.StatusCode, resp.Location)
	case resp.StatusCode != 200:
		f.Title = fmt.Sprintf("%s answers HTTP %d", what, resp.StatusCode)
	default:
		return nil
	}
	return f
}

// CheckVMC checks a PEM evidence document: certificates present, the leaf
// has the BIMI extended key usage, is within its validity period, names
// one of domains, and carries a logotype extension. It does not verify the
// chain to the mark certificate roots.
func CheckVMC(data []byte, domains []string, now time.Time) (*VMCInfo, []string) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, []string{"a certificate in the PEM file does not parse: " + err.Error()}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, []string{"the a= document holds no PEM certificate"}
	}
	leaf := certs[0]
	info := &VMCInfo{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), NotAfter: leaf.NotAfter,
		Names: leaf.DNSNames, Certificates: len(certs)}
	for _, u := range leaf.UnknownExtKeyUsage {
		if u.Equal(oidBIMIEKU) {
			info.BIMIEKU = true
		}
	}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidLogotype) {
			info.Logotype = true
		}
	}
	var ps []string
	if !info.BIMIEKU {
		ps = append(ps, "the certificate lacks the BIMI extended key usage (1.3.6.1.5.5.7.3.31): it is not a mark certificate")
	}
	if now.After(leaf.NotAfter) {
		ps = append(ps, "it expired on "+leaf.NotAfter.UTC().Format("2006-01-02"))
	} else if now.Before(leaf.NotBefore) {
		ps = append(ps, "it is not valid before "+leaf.NotBefore.UTC().Format("2006-01-02"))
	}
	named := false
	for _, d := range domains {
		if d != "" && leaf.VerifyHostname(d) == nil {
			named = true
		}
	}
	if !named {
		ps = append(ps, fmt.Sprintf("it names %s, not %s", orNone(leaf.DNSNames), strings.Join(nonEmpty(domains), " or ")))
	}
	if info.BIMIEKU && !info.Logotype {
		ps = append(ps, "it carries no logotype extension (RFC 3709) with the logo")
	}
	return info, ps
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "no domain"
	}
	return strings.Join(ss, ", ")
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func noneFinding(res *Result, txtRes *dnsx.Result) findings.Finding {
	ev := []string{fmt.Sprintf("%s TXT: no v=BIMI1 record (%s)", RecordName(DefaultSelector, res.Domain), txtRes.Status)}
	enforced := len(res.DMARC) > 0
	var why []string
	for _, s := range res.DMARC {
		if !s.Enforced {
			enforced = false
			why = append(why, stripIDs(s.Why)...)
		}
	}
	detail := "BIMI is optional: it shows the brand's logo next to authenticated mail at Gmail, Yahoo, Apple Mail, Fastmail and others. It requires DMARC at enforcement (p=quarantine or p=reject) and, at Gmail and Apple, a mark certificate (VMC/CMC)."
	if len(res.DMARC) > 0 && !enforced {
		detail += " DMARC is not yet at enforcement here (" + strings.Join(why, "; ") + "; see the dmarc check), which comes first."
	}
	return findings.Finding{
		ID: "bimi.none", Severity: findings.SeverityInfo,
		Title:    fmt.Sprintf("%s publishes no BIMI record", res.Domain),
		Detail:   detail,
		Evidence: ev,
		Fix:      fmt.Sprintf("Optional: with DMARC at enforcement, publish %s. TXT \"v=BIMI1; l=https://%s/bimi/logo.svg\" pointing at an SVG Tiny PS logo.", RecordName(DefaultSelector, res.Domain), res.Domain),
		Refs:     []string{"draft-brand-indicators-for-message-identification 4.3"},
	}
}

func dnsErr(name string, err error) findings.Finding {
	return findings.DNSError(check, "the BIMI record "+name, err)
}

// CheckResult turns the analysis into the bimi check's result.
func (res *Result) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: check, Data: res, Findings: res.Findings}
	cr.Status = findings.StatusFromFindings(res.Findings)
	switch {
	case res.errored:
		cr.Summary = "could not be determined: DNS lookup failed"
	case res.skip != "" && len(res.TXT) == 0:
		cr.Status, cr.Summary = findings.StatusSkip, res.skip
	case len(res.TXT) == 0:
		cr.Summary = "no BIMI record (optional)"
	case res.Record == nil:
		cr.Summary = "BIMI record unusable"
	case res.Record.Declined():
		cr.Summary = "BIMI declined"
	case res.skip != "":
		cr.Summary = res.skip
		if cr.Status == findings.StatusPass {
			cr.Status = findings.StatusSkip
		}
	case cr.Status != findings.StatusPass:
		cr.Summary = "BIMI record found, but receivers will not show the logo (see findings)"
	default:
		cr.Summary = "logo " + res.Record.Location
		if res.Record.Authority != "" {
			cr.Summary += " with a mark certificate"
		}
	}
	return cr
}
