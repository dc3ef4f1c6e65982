// Package mtasts checks a domain's SMTP MTA Strict Transport Security
// (RFC 8461): the _mta-sts TXT record, the policy served at
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt, and whether the policy's
// mx patterns cover the domain's real MX hosts.
//
// MTA-STS protects mail sent *to* the domain. For a sender that matters
// because replies and bounces come back to it: a policy in enforce mode that
// does not match its MX hosts makes MTA-STS-aware senders (Gmail, Microsoft
// 365, Yahoo and others) defer and finally return that mail. A broken record
// or policy makes senders silently ignore MTA-STS.
package mtasts

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/httpsfetch"
	mxhosts "github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/txtrecord"
)

const check = "mta-sts"

// MaxPolicySize is the most policy bytes read: RFC 8461 3.3 suggests senders
// limit policy bodies to 64 KiB.
const MaxPolicySize = 64 * 1024

// MinSensibleMaxAge is one day: RFC 8461 3.2 suggests weeks or more; a
// shorter max_age lets an attacker wait out the cached policy.
const MinSensibleMaxAge = 86400

// Lookup errors.
var (
	// ErrNoRecord: no TXT record starting with v=STSv1 at _mta-sts.
	ErrNoRecord = errors.New("no MTA-STS record")
	// ErrMultipleRecords: RFC 8461 3.1 says senders then treat the domain
	// as not implementing MTA-STS.
	ErrMultipleRecords = errors.New("more than one MTA-STS record")
)

// recordKind is the _mta-sts TXT record's version and grammar (RFC 8461
// 3.1), which TLS-RPT shares.
var recordKind = txtrecord.Kind{Version: "STSv1", ErrNoRecord: ErrNoRecord, ErrMultipleRecords: ErrMultipleRecords}

// RecordName is where the TXT record lives.
func RecordName(domain string) string { return "_mta-sts." + strings.TrimSuffix(domain, ".") }

// PolicyHost is the host serving the policy (RFC 8461 3.3).
func PolicyHost(domain string) string { return "mta-sts." + strings.TrimSuffix(domain, ".") }

// PolicyURL is the policy's well-known URL (RFC 8461 3.3).
func PolicyURL(domain string) string {
	return "https://" + PolicyHost(domain) + "/.well-known/mta-sts.txt"
}

// LookupRecord finds and parses the _mta-sts TXT record. It returns the
// STS-looking TXT strings found (for evidence) and the DNS result. Errors:
// a dnsx error (temporary), ErrNoRecord, ErrMultipleRecords, or an
// ErrRecordSyntax error (with the record still returned in txts).
func LookupRecord(ctx context.Context, r dnsx.Resolver, domain string) (*Record, []string, *dnsx.Result, error) {
	// RFC 8461 3.1: records that do not begin with "v=STSv1;" are
	// discarded; if the number of remaining records is not one, the domain
	// does not implement MTA-STS.
	return txtrecord.LookupParsed(ctx, r, recordKind, RecordName(domain), ParseRecord)
}

// Options configure Check.
type Options struct {
	// Offline skips the policy fetch (the record is still checked).
	Offline bool
	// URL, when set, is fetched instead of PolicyURL(domain). The
	// certificate must still be valid for mta-sts.DOMAIN, as RFC 8461 3.3
	// requires; this is for testing a policy server before DNS points at it.
	URL string
	// Timeout bounds the policy fetch (default 10s; RFC 8461 3.3 suggests
	// senders allow about a minute).
	Timeout time.Duration
	// RootCAs verify the policy host's certificate (nil: system roots).
	RootCAs *x509.CertPool
	// Dial replaces the TCP dialer of the fetch (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Policy, when set, is judged instead of fetching one: a policy file
	// about to be published. PolicySource names it in evidence.
	Policy       string
	PolicySource string
}

// MXMatch tells whether one MX host is covered by the policy.
type MXMatch struct {
	Host    string `json:"host"`
	Matches bool   `json:"matches"`
	Pattern string `json:"pattern,omitempty"` // the first matching pattern
}

// Result is the MTA-STS analysis of a domain.
type Result struct {
	Domain string   `json:"domain"`
	TXT    []string `json:"txt,omitempty"` // the v=STSv1 TXT strings found
	Record *Record  `json:"record,omitempty"`
	// PolicyURL is where the policy was (or would be) fetched.
	PolicyURL string `json:"policy_url,omitempty"`
	// Fetched is true when the policy URL was asked.
	Fetched bool                 `json:"fetched"`
	HTTP    *httpsfetch.Response `json:"http,omitempty"`
	// PolicyText is the body as served (at most MaxPolicySize bytes).
	PolicyText string `json:"policy_text,omitempty"`
	// PolicySource names a policy given instead of fetched (a file).
	PolicySource string    `json:"policy_source,omitempty"`
	Policy       *Policy   `json:"policy,omitempty"`
	MXHosts      []string  `json:"mx_hosts,omitempty"`
	MX           []MXMatch `json:"mx,omitempty"`
	// Findings go to the report, not into Data.
	Findings []findings.Finding `json:"-"`

	offline  bool   // the record lookup itself was not asked (--offline)
	errored  bool   // the record lookup failed
	notFetch string // why the policy was not fetched, if it was not
}

// Check looks up the record, fetches and parses the policy and compares it
// with the MX hosts.
func Check(ctx context.Context, r dnsx.Resolver, domain string, o Options) *Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	res := &Result{Domain: domain}

	// The MX set is needed to judge the policy; ask for it while the TXT
	// lookup is in flight (the resolver coalesces it with the mx check's).
	type mxAnswer struct {
		hosts []string
		res   *dnsx.Result
		err   error
	}
	mxc := make(chan mxAnswer, 1)
	go func() {
		// The one MX-host derivation: only real MX hosts are matched
		// against the policy (an implicit MX or a null MX has none).
		set, err := mxhosts.MailHosts(ctx, r, domain)
		if err != nil {
			mxc <- mxAnswer{err: err}
			return
		}
		var hosts []string
		if set.Kind == mxhosts.HostsMX {
			hosts = set.Names()
		}
		mxc <- mxAnswer{hosts, set.Result, nil}
	}()

	rec, txts, txtRes, err := LookupRecord(ctx, r, domain)
	res.TXT = txts
	switch {
	case err != nil && !isDefinite(err):
		<-mxc
		res.errored = true
		res.Findings = append(res.Findings, dnsErrFinding("the MTA-STS record "+RecordName(domain), err))
		return res
	case errors.Is(err, ErrNoRecord):
		if txtRes != nil && txtRes.Offline && o.Policy == "" {
			<-mxc
			res.offline = true
			return res
		}
		res.Findings = append(res.Findings, noneFinding(domain, txtRes))
		if o.Policy == "" {
			<-mxc
			return res
		}
		// A policy given to judge before publishing: go on without a record.
	case errors.Is(err, ErrMultipleRecords):
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.multiple-records", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s has %d MTA-STS records; senders ignore MTA-STS unless there is exactly one", RecordName(domain), len(txts)),
			Detail:   "RFC 8461 3.1: if the number of TXT records starting with v=STSv1 is not one, senders must treat the domain as not implementing MTA-STS, so the policy protects nothing.",
			Evidence: txtrecord.Evidence(RecordName(domain), txts),
			Fix:      fmt.Sprintf("Keep one record, e.g. %s. TXT \"v=STSv1; id=%s\".", RecordName(domain), time.Now().UTC().Format("20060102T150405")),
			Refs:     []string{"RFC 8461 3.1"},
		})
		<-mxc
		return res
	case errors.Is(err, ErrRecordSyntax):
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.record-syntax", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the MTA-STS record of %s is invalid: %s", domain, strings.TrimPrefix(err.Error(), ErrRecordSyntax.Error()+": ")),
			Detail:   "Senders must ignore an invalid record (RFC 8461 3.1), so the domain's policy is never applied. The id must be 1 to 32 letters and digits; fields are separated by \";\".",
			Evidence: txtrecord.Evidence(RecordName(domain), txts),
			Fix:      fmt.Sprintf("Publish %s. TXT \"v=STSv1; id=%s\" (change the id whenever the policy changes).", RecordName(domain), time.Now().UTC().Format("20060102T150405")),
			Refs:     []string{"RFC 8461 3.1"},
		})
		<-mxc
		return res
	default:
		res.Record = rec
		if len(rec.Duplicates) > 0 {
			res.Findings = append(res.Findings, findings.Finding{
				ID: "mta-sts.record-duplicate-field", Severity: findings.SeverityInfo,
				Title:    fmt.Sprintf("the MTA-STS record repeats %s; only the first is used", strings.Join(rec.Duplicates, ", ")),
				Evidence: txtrecord.Evidence(RecordName(domain), txts),
				Fix:      "Publish " + rec.String(),
				Refs:     []string{"RFC 8461 3.1", "RFC 8461 3.2"},
			})
		}
	}

	mx := <-mxc
	switch {
	case mx.err != nil:
		res.Findings = append(res.Findings, dnsErrFinding("the MX records of "+domain, mx.err))
	case mx.res != nil && !mx.res.Offline:
		res.MXHosts = mx.hosts
	}

	if o.Policy != "" {
		res.PolicySource = o.PolicySource
		if res.PolicySource == "" {
			res.PolicySource = "the policy given"
		}
		res.usePolicy(o.Policy, []string{"policy from " + res.PolicySource})
	} else {
		res.PolicyURL = PolicyURL(domain)
		if o.URL != "" {
			res.PolicyURL = o.URL
		}
		if o.Offline {
			res.notFetch = "not fetched: --offline"
			return res
		}
		res.fetchPolicy(ctx, r, o)
	}
	if res.Policy != nil && mx.err == nil && mx.res != nil && !mx.res.Offline {
		res.matchMX()
	}
	return res
}

// isDefinite reports whether a LookupRecord error is an answer (no record,
// several records, bad syntax) rather than a failure to get one.
func isDefinite(err error) bool {
	return errors.Is(err, ErrNoRecord) || errors.Is(err, ErrMultipleRecords) || errors.Is(err, ErrRecordSyntax)
}

func (res *Result) fetchPolicy(ctx context.Context, r dnsx.Resolver, o Options) {
	res.Fetched = true
	host := PolicyHost(res.Domain)
	resp, err := httpsfetch.Get(ctx, res.PolicyURL, httpsfetch.Options{
		Resolver: r, Timeout: o.Timeout, MaxBytes: MaxPolicySize,
		RootCAs: o.RootCAs, ServerName: host, Dial: o.Dial, Accept: "text/plain",
	})
	ev := []string{"GET " + res.PolicyURL}
	unusable := "Senders that cannot fetch a valid policy treat the domain as not implementing MTA-STS (RFC 8461 3.3, 5), or keep using a policy they cached earlier, which may list outdated MX hosts."
	if err != nil {
		var fe *httpsfetch.Error
		if !errors.As(err, &fe) {
			fe = &httpsfetch.Error{Kind: httpsfetch.KindHTTP, URL: res.PolicyURL, Err: err}
		}
		f := findings.Finding{
			ID: "mta-sts.policy-unreachable", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the MTA-STS policy of %s could not be fetched: %v", res.Domain, fe.Err),
			Detail:   unusable,
			Evidence: append(ev, fe.Error()),
			Fix:      fmt.Sprintf("Serve the policy at %s over HTTPS with a certificate valid for %s (a web host, CDN or your mail provider's MTA-STS hosting can do it).", PolicyURL(res.Domain), host),
			Refs:     []string{"RFC 8461 3.3"},
		}
		switch fe.Kind {
		case httpsfetch.KindCertificate:
			f.ID = "mta-sts.policy-certificate"
			f.Title = fmt.Sprintf("the certificate of %s is not valid: %s", host, fe.CertificateProblem())
			f.Detail = "RFC 8461 3.3: the policy host must present a certificate that chains to a trusted root, is unexpired and names " + host + ". " + unusable
			f.Evidence = append(f.Evidence, certEvidence(fe.Certificates)...)
			f.Fix = fmt.Sprintf("Install a publicly trusted certificate (e.g. Let's Encrypt) whose names include %s on the web server serving the policy.", host)
			f.Refs = []string{"RFC 8461 3.3", "RFC 6125"}
		case httpsfetch.KindNoAddress:
			f.ID = "mta-sts.policy-host-missing"
			f.Title = fmt.Sprintf("%s publishes an MTA-STS record but %s has no address", res.Domain, host)
			f.Fix = fmt.Sprintf("Add an A/AAAA (or CNAME) record for %s pointing at the web server that serves the policy, or remove the _mta-sts record.", host)
		case httpsfetch.KindDNS, httpsfetch.KindTimeout:
			f.ID = "mta-sts.policy-fetch-error"
			f.Severity = findings.SeverityError
			f.Title = fmt.Sprintf("could not fetch the MTA-STS policy of %s: %v", res.Domain, fe.Err)
			f.Detail = "The fetch failed in a way that may be temporary (DNS or timeout), so whether senders can get the policy is not known. " + unusable
			f.Fix = "Retry; if it persists, check that " + host + " resolves and its web server answers quickly on port 443."
		case httpsfetch.KindOffline:
			res.Fetched = false
			res.notFetch = "not fetched: " + fe.Err.Error()
			return
		}
		res.Findings = append(res.Findings, f)
		return
	}
	res.HTTP = resp
	ev = append(ev, fmt.Sprintf("HTTP %d, %d bytes, Content-Type %q, %s", resp.StatusCode, resp.Size, resp.ContentType, resp.TLSVersion))
	if resp.Redirected() {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.policy-redirect", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s redirects (HTTP %d to %s); senders do not follow redirects", res.PolicyURL, resp.StatusCode, resp.Location),
			Detail:   "RFC 8461 3.3: HTTP 3xx redirects must not be followed. " + unusable,
			Evidence: ev,
			Fix:      fmt.Sprintf("Serve the policy directly at %s with status 200 (no redirect to www or another host).", PolicyURL(res.Domain)),
			Refs:     []string{"RFC 8461 3.3"},
		})
		return
	}
	if resp.StatusCode != 200 {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.policy-unreachable", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s answers HTTP %d instead of the policy", res.PolicyURL, resp.StatusCode),
			Detail:   "RFC 8461 3.3: the policy must be served with status 200. " + unusable,
			Evidence: ev,
			Fix:      fmt.Sprintf("Put the policy file at /.well-known/mta-sts.txt on %s, or remove the _mta-sts record if you do not use MTA-STS.", host),
			Refs:     []string{"RFC 8461 3.3"},
		})
		return
	}
	if resp.Truncated {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.policy-too-large", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the MTA-STS policy of %s is larger than %d KiB", res.Domain, MaxPolicySize/1024),
			Detail:   "RFC 8461 3.3 lets senders refuse policies over 64 KiB; a real policy is a few hundred bytes, so this is probably the wrong document. " + unusable,
			Evidence: ev,
			Fix:      "Serve only the policy's key: value lines.",
			Refs:     []string{"RFC 8461 3.3"},
		})
		return
	}
	// RFC 8461 3.2: the media type must be text/plain; senders should check.
	if mt, _, err := mime.ParseMediaType(resp.ContentType); err != nil || mt != "text/plain" {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.policy-content-type", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the MTA-STS policy is served as %q, not text/plain", resp.ContentType),
			Detail:   "RFC 8461 3.2: the Content-Type must be text/plain and senders should check it (to reject HTML error pages); strict senders ignore the policy.",
			Evidence: ev,
			Fix:      "Configure the web server to send Content-Type: text/plain for /.well-known/mta-sts.txt.",
			Refs:     []string{"RFC 8461 3.2"},
		})
	}
	res.usePolicy(string(resp.Body), ev)
}

// usePolicy parses and judges a policy's text (fetched, or given).
func (res *Result) usePolicy(text string, ev []string) {
	res.PolicyText = text
	p, err := ParsePolicy(res.PolicyText)
	if err != nil {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.policy-syntax", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the MTA-STS policy of %s is invalid: %s", res.Domain, strings.TrimPrefix(err.Error(), ErrPolicySyntax.Error()+": ")),
			Detail:   "Senders ignore a policy they cannot parse (RFC 8461 3.2, 5). The format is strict: one \"key: value\" per line, lower-case keys, no blank lines.",
			Evidence: append(ev, quoteLines(res.PolicyText, 12)...),
			Fix:      "Serve a policy like:\nversion: STSv1\nmode: enforce\nmx: " + exampleMX(res.MXHosts, res.Domain) + "\nmax_age: 604800",
			Refs:     []string{"RFC 8461 3.2"},
		})
		return
	}
	res.Policy = p
	res.lintPolicy(ev)
}

func (res *Result) lintPolicy(ev []string) {
	p := res.Policy
	if len(p.Duplicates) > 0 {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.policy-duplicate-field", Severity: findings.SeverityInfo,
			Title: fmt.Sprintf("the MTA-STS policy repeats %s; senders use the first", strings.Join(p.Duplicates, ", ")),
			Fix:   "Remove the repeated lines:\n" + p.String(),
			Refs:  []string{"RFC 8461 3.2"},
		})
	}
	switch {
	case p.MaxAge > MaxMaxAge:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.max-age-too-large", Severity: findings.SeverityWarn,
			Title:  fmt.Sprintf("max_age %d exceeds the maximum of %d seconds (one year)", p.MaxAge, MaxMaxAge),
			Detail: "RFC 8461 3.2 caps max_age at 31557600; senders may reject the policy or cap it.",
			Fix:    "Use max_age: 604800 (a week) to 31557600.",
			Refs:   []string{"RFC 8461 3.2"},
		})
	case p.MaxAge < MinSensibleMaxAge && p.Mode != ModeNone:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.max-age-short", Severity: findings.SeverityInfo,
			Title:  fmt.Sprintf("max_age is %d seconds, less than a day", p.MaxAge),
			Detail: "Senders cache the policy for max_age; RFC 8461 3.2 suggests weeks, so an attacker cannot simply wait for it to expire. A short value is fine while testing.",
			Fix:    "Once the policy is stable, use max_age: 604800 or more.",
			Refs:   []string{"RFC 8461 3.2", "RFC 8461 10.2"},
		})
	}
	switch p.Mode {
	case ModeTesting:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.mode-testing", Severity: findings.SeverityInfo,
			Title:  "the MTA-STS policy is in testing mode: senders report failures but still deliver",
			Detail: "In testing mode senders deliver even when TLS or the MX check fails, and send TLS-RPT reports (if _smtp._tls is published). Switch to enforce once reports are clean.",
			Fix:    "After a few weeks of clean TLS-RPT reports, set mode: enforce and change the id in the _mta-sts record.",
			Refs:   []string{"RFC 8461 5"},
		})
	case ModeNone:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.mode-none", Severity: findings.SeverityInfo,
			Title:  "the MTA-STS policy is mode none: the domain has withdrawn MTA-STS",
			Detail: "Mode none tells senders to forget any cached policy; it is the right way to turn MTA-STS off.",
			Refs:   []string{"RFC 8461 5", "RFC 8461 8.3"},
		})
	}
}

// matchMX compares the MX hosts with the policy's patterns (RFC 8461 4.1).
func (res *Result) matchMX() {
	p := res.Policy
	var miss []string
	for _, h := range res.MXHosts {
		m := MXMatch{Host: h}
		for _, pat := range p.MX {
			if pat.Matches(h) {
				m.Matches, m.Pattern = true, pat.String()
				break
			}
		}
		if !m.Matches {
			miss = append(miss, h)
		}
		res.MX = append(res.MX, m)
	}
	var unused []string
	for _, pat := range p.MX {
		used := false
		for _, h := range res.MXHosts {
			if pat.Matches(h) {
				used = true
				break
			}
		}
		if !used {
			unused = append(unused, pat.String())
		}
	}
	var pats []string
	for _, pat := range p.MX {
		pats = append(pats, pat.String())
	}
	ev := []string{"policy mx: " + strings.Join(pats, ", "), fmt.Sprintf("%s MX: %s", res.Domain, strings.Join(res.MXHosts, ", "))}
	if len(res.MXHosts) == 0 && p.Mode != ModeNone {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.no-mx", Severity: findings.SeverityInfo,
			Title:  fmt.Sprintf("%s has an MTA-STS policy but no MX records to match it against", res.Domain),
			Detail: "RFC 8461 applies to MX hosts; with no MX the policy has nothing to protect (the mx check reports the missing MX).",
			Refs:   []string{"RFC 8461 4.1"},
		})
		return
	}
	if len(miss) > 0 && p.Mode != ModeNone {
		f := findings.Finding{
			ID:       "mta-sts.mx-mismatch",
			Evidence: ev,
			Fix:      fmt.Sprintf("Add an mx line for %s to the policy (wildcards like \"*.%s\" match one label), change the id in the _mta-sts record, and keep the old policy's hosts until max_age has passed.", strings.Join(miss, ", "), parentOf(miss[0])),
			Refs:     []string{"RFC 8461 4.1", "RFC 8461 5.1"},
		}
		all := len(miss) == len(res.MXHosts)
		switch {
		case p.Mode == ModeEnforce && all:
			f.Severity = findings.SeverityFail
			f.Title = fmt.Sprintf("no MX host of %s matches its enforced MTA-STS policy: MTA-STS senders will not deliver mail to it", res.Domain)
			f.Detail = "In enforce mode, senders that support MTA-STS (Gmail, Microsoft 365, Yahoo, Postfix with an MTA-STS resolver) refuse to deliver to MX hosts not listed in the policy (RFC 8461 5.1): replies and bounces to this domain are deferred (4.7.5) and finally returned as expired (4.4.7/5.4.7)."
			f.BounceCodes = []string{"4.7.5", "4.4.7", "5.4.7"}
		case p.Mode == ModeEnforce:
			f.Severity = findings.SeverityWarn
			f.Title = fmt.Sprintf("%d of %d MX hosts of %s are not in its enforced MTA-STS policy: %s", len(miss), len(res.MXHosts), res.Domain, strings.Join(miss, ", "))
			f.Detail = "MTA-STS senders skip MX hosts that do not match the policy (RFC 8461 5.1); mail still flows through the others, but those hosts give no redundancy."
			f.BounceCodes = []string{"4.7.5"}
		default:
			f.Severity = findings.SeverityWarn
			f.Title = fmt.Sprintf("%d of %d MX hosts of %s are not in its MTA-STS policy (testing mode): %s", len(miss), len(res.MXHosts), res.Domain, strings.Join(miss, ", "))
			f.Detail = "In testing mode senders still deliver, but report each such connection as a failure; switching to enforce now would block these hosts."
		}
		res.Findings = append(res.Findings, f)
	}
	if len(unused) > 0 && len(miss) == 0 {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mta-sts.unused-pattern", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("the MTA-STS policy lists mx patterns that match no MX host: %s", strings.Join(unused, ", ")),
			Detail:   "Harmless, and normal while moving mail hosts; remove them once the old hosts are gone and max_age has passed.",
			Evidence: ev,
			Refs:     []string{"RFC 8461 4.1"},
		})
	}
}

// Offline reports whether nothing could be asked because of --offline.
func (res *Result) Offline() bool { return res.offline }

// CheckResult turns the analysis into the mta-sts check's result.
func (res *Result) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: check, Data: res, Findings: res.Findings}
	if res.offline {
		cr.Status = findings.StatusSkip
		cr.Summary = "not checked: --offline and " + RecordName(res.Domain) + " is in no --zone file"
		return cr
	}
	cr.Status = findings.StatusFromFindings(res.Findings)
	switch {
	case res.errored:
		cr.Summary = "could not be determined: DNS lookup failed"
	case res.PolicySource != "" && res.Policy == nil:
		cr.Summary = "the policy from " + res.PolicySource + " is not usable"
	case res.PolicySource != "":
		cr.Summary = "policy from " + res.PolicySource + ": " + res.policySummary()
		if len(res.TXT) == 0 {
			cr.Summary += "; no _mta-sts record published yet"
		}
	case len(res.TXT) == 0:
		cr.Summary = "no MTA-STS policy (optional; protects mail to the domain)"
	case res.Record == nil:
		cr.Summary = "MTA-STS record invalid: senders ignore it"
	case res.notFetch != "":
		cr.Summary = "record ok (id " + res.Record.ID + "); policy " + res.notFetch
		if cr.Status == findings.StatusPass {
			// The record alone does not show whether the policy works.
			cr.Status = findings.StatusSkip
		}
	case res.Policy == nil:
		cr.Summary = "record ok; policy not usable"
	default:
		cr.Summary = res.policySummary()
	}
	return cr
}

func (res *Result) policySummary() string {
	match := 0
	for _, m := range res.MX {
		if m.Matches {
			match++
		}
	}
	s := fmt.Sprintf("mode %s, max_age %d", res.Policy.Mode, res.Policy.MaxAge)
	if len(res.MX) > 0 {
		s += fmt.Sprintf(", %d/%d MX hosts match", match, len(res.MX))
	}
	return s
}

func noneFinding(domain string, res *dnsx.Result) findings.Finding {
	ev := RecordName(domain) + " TXT: no v=STSv1 record"
	if res != nil {
		ev += " (" + string(res.Status) + ")"
	}
	return findings.Finding{
		ID: "mta-sts.none", Severity: findings.SeverityInfo,
		Title:    fmt.Sprintf("%s publishes no MTA-STS policy", domain),
		Detail:   "MTA-STS is optional. It makes senders (Gmail, Microsoft 365, Yahoo, ...) require authenticated TLS when delivering to the domain, which stops STARTTLS downgrade attacks on replies and bounces. Without it (or DANE), mail sent with REQUIRETLS (RFC 8689) cannot be relayed to the domain.",
		Evidence: []string{ev},
		Fix:      fmt.Sprintf("To adopt it: serve a policy (version: STSv1, mode: testing, one mx: line per MX host, max_age: 86400) at %s, publish %s. TXT \"v=STSv1; id=%s\" and a TLS-RPT record, then move to mode: enforce.", PolicyURL(domain), RecordName(domain), time.Now().UTC().Format("20060102")),
		Refs:     []string{"RFC 8461", "RFC 8460", "RFC 8689 4.2.1"},
	}
}

func dnsErrFinding(what string, err error) findings.Finding {
	return findings.DNSError(check, what, err)
}

func certEvidence(certs []*x509.Certificate) []string {
	if len(certs) == 0 {
		return nil
	}
	c := certs[0]
	return []string{fmt.Sprintf("certificate presented: subject %q, names [%s], issuer %q, valid %s to %s",
		c.Subject.CommonName, strings.Join(c.DNSNames, ", "), c.Issuer.CommonName,
		c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"))}
}

// quoteLines quotes up to max lines of an untrusted body for evidence.
func quoteLines(s string, max int) []string {
	lines := strings.Split(s, "\n")
	var out []string
	for i, l := range lines {
		if i == max {
			out = append(out, fmt.Sprintf("... (%d more lines)", len(lines)-max))
			break
		}
		out = append(out, fmt.Sprintf("policy line %d: %q", i+1, l))
	}
	return out
}

func exampleMX(hosts []string, domain string) string {
	if len(hosts) == 0 {
		return "mx." + domain
	}
	h := append([]string(nil), hosts...)
	sort.Strings(h)
	return strings.Join(h, "\nmx: ")
}

func parentOf(host string) string {
	if _, rest, ok := strings.Cut(host, "."); ok && rest != "" {
		return rest
	}
	return host
}
