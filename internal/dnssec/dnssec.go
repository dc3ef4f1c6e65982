// Package dnssec reports whether a domain's mail records are DNSSEC-validated,
// as seen through the AD (Authenticated Data) bit the resolver sets.
//
// The AD bit is only as trustworthy as the resolver and the path to it
// (RFC 4035 3.2.3, RFC 6840 5.7): a validating resolver sets it when every
// record in the answer was validated from the root trust anchor down. A
// non-validating resolver never sets it; a hostile or misconfigured one can
// set it on anything. So a result here means "the resolver you asked says
// so": point --resolver at a validating resolver you trust (a local unbound,
// or one on a trusted network path) for a meaningful answer. Answers from
// --zone files are never validated.
//
// DNSSEC matters for mail because DANE (RFC 7672) only works when the MX
// records and the MX hosts' TLSA records validate, and because broken
// DNSSEC makes validating receivers see SERVFAIL for the sender's domain,
// so they cannot check SPF, DKIM or DMARC and defer the mail.
package dnssec

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const check = "dnssec"

// AnswerStatus is what came back for one question: a definite answer
// (dnsx's ok, nxdomain, nodata), no answer (error), or not asked
// (offline).
type AnswerStatus string

// Answer statuses.
const (
	AnswerOK                    = AnswerStatus(dnsx.StatusOK)
	AnswerNXDomain              = AnswerStatus(dnsx.StatusNXDomain)
	AnswerNoData                = AnswerStatus(dnsx.StatusNoData)
	AnswerError    AnswerStatus = "error"
	AnswerOffline  AnswerStatus = "offline"
)

// Answer is what the resolver said about one question.
type Answer struct {
	Name    string       `json:"name"`
	Type    string       `json:"type"`
	Status  AnswerStatus `json:"status"`
	AD      bool         `json:"ad"`
	Records int          `json:"records"`
	Source  string       `json:"source,omitempty"` // "zone", "offline" or the server
	Error   string       `json:"error,omitempty"`
}

// fromZone reports whether the answer came from a --zone file.
func (a Answer) fromZone() bool { return a.Source == "zone" }

// Result is the DNSSEC view of a domain.
type Result struct {
	Domain string `json:"domain"`
	// Validated: the domain's MX answer carried the AD bit.
	Validated bool `json:"validated"`
	// Zone is the zone the domain lives in (the closest name with an SOA
	// record): where DNSKEY and DS are looked for.
	Zone string `json:"zone"`
	// Signed: the zone publishes DNSKEY records (it may still not
	// validate, e.g. without a DS record at the parent).
	Signed bool `json:"signed"`
	// DS: the parent zone has a DS record for the zone.
	DS bool `json:"ds"`
	// ResolverValidates: some answer carried the AD bit, so the resolver
	// does validate. False means unknown, not "does not".
	ResolverValidates bool `json:"resolver_validates"`
	// Answers are the questions asked, domain first, then the MX hosts.
	Answers []Answer `json:"answers"`
	// Hosts are the MX hosts and whether their addresses validated.
	Hosts    []HostAnswer       `json:"mx_hosts,omitempty"`
	Findings []findings.Finding `json:"-"`

	skip string // why nothing can be said, when nothing can
}

// HostAnswer is one MX host's validation state.
type HostAnswer struct {
	Name      string       `json:"name"`
	Validated bool         `json:"validated"`
	Status    AnswerStatus `json:"status"`
}

// adNote is said wherever a conclusion rests on the AD bit.
const adNote = "This rests on the AD bit of the resolver's answers, which means something only when the resolver validates DNSSEC and the path to it is trusted (RFC 6840 5.7); use --resolver with a validating resolver you trust."

// Check asks for the domain's MX records and, to find the zone it lives in,
// the SOA of the domain and each parent; then the DNSKEY and DS records of
// that zone and each MX host's addresses. Questions in each round run
// concurrently; the shared resolver asks each once.
func Check(ctx context.Context, r dnsx.Resolver, domain string) *Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	res := &Result{Domain: domain, Zone: domain}

	// Round 1: MX, and SOA at the domain and its parents. The closest name
	// with an SOA record is the zone apex, where DNSKEY and DS live.
	names := ancestors(domain)
	soa := make([]*dnsx.Result, len(names))
	var mx Answer
	var mxs []*dns.MX
	var mxErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		mx, mxs, mxErr = ask(ctx, r, domain, dns.TypeMX)
	}()
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, err := r.Lookup(ctx, n, dns.TypeSOA); err == nil {
				soa[i] = a
			}
		}()
	}
	wg.Wait()
	res.Answers = []Answer{mx}
	if mxErr != nil {
		res.Findings = append(res.Findings, servfailFinding(domain, mxErr))
		return res
	}
	if mx.Status == AnswerOffline {
		res.skip = "not checked: --offline and " + domain + " is in no --zone file"
		return res
	}
	if mx.fromZone() {
		res.skip = "not checked: " + domain + " was answered from a --zone file, which is never DNSSEC-validated"
		return res
	}
	for i, a := range soa {
		if a != nil && a.Exists() && !a.Offline {
			res.Zone = names[i]
			break
		}
	}
	res.Validated = mx.AD

	// Round 2: the zone's DNSKEY and DS, the MX hosts' addresses (DANE
	// needs them validated as well).
	var hosts []HostAnswer
	seen := map[string]bool{}
	for _, m := range mxs {
		h := strings.ToLower(strings.TrimSuffix(m.Mx, "."))
		if h == "" || seen[h] {
			continue // null MX, duplicate
		}
		seen[h] = true
		hosts = append(hosts, HostAnswer{Name: h})
	}
	var key, ds Answer
	var keyErr, dsErr error
	hostAns := make([]Answer, len(hosts))
	hostErr := make([]error, len(hosts))
	wg.Add(2)
	go func() {
		defer wg.Done()
		key, _, keyErr = ask(ctx, r, res.Zone, dns.TypeDNSKEY)
	}()
	go func() {
		defer wg.Done()
		ds, _, dsErr = ask(ctx, r, res.Zone, dns.TypeDS)
	}()
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hostAns[i], _, hostErr[i] = ask(ctx, r, hosts[i].Name, dns.TypeA)
		}()
	}
	wg.Wait()
	res.Answers = append(res.Answers, key, ds)
	res.Signed = keyErr == nil && key.Records > 0
	res.DS = dsErr == nil && ds.Records > 0
	for i := range hosts {
		hosts[i].Validated = hostAns[i].AD
		hosts[i].Status = hostAns[i].Status
		res.Answers = append(res.Answers, hostAns[i])
	}
	res.Hosts = hosts
	for _, a := range res.Answers {
		if a.AD {
			res.ResolverValidates = true
		}
	}
	for i, err := range hostErr {
		if err != nil {
			res.Findings = append(res.Findings, servfailFinding(hosts[i].Name, err))
		}
	}
	res.judge()
	return res
}

// ancestors lists domain and its parents, closest first, down to the
// top-level domain (not the root).
func ancestors(domain string) []string {
	var out []string
	for d := domain; d != ""; {
		out = append(out, d)
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return out
}

func (res *Result) judge() {
	d := res.Domain
	ev := func() []string {
		var out []string
		for _, a := range res.Answers {
			s := fmt.Sprintf("%s %s: %s, %d records", a.Name, a.Type, a.Status, a.Records)
			if a.AD {
				s += ", AD"
			} else {
				s += ", no AD"
			}
			out = append(out, s)
		}
		return out
	}
	switch {
	case res.Validated:
		var unsigned []string
		for _, h := range res.Hosts {
			if !h.Validated && h.Status != AnswerError {
				unsigned = append(unsigned, h.Name)
			}
		}
		if len(unsigned) > 0 {
			res.Findings = append(res.Findings, findings.Finding{
				ID: "dnssec.mx-host-unsigned", Severity: findings.SeverityInfo,
				Title:    fmt.Sprintf("%s validates, but its MX hosts %s do not", d, strings.Join(unsigned, ", ")),
				Detail:   "DANE for SMTP needs the MX host names (and their TLSA records) in DNSSEC-signed zones too (RFC 7672 2.2.2); hosted mail services often are not. " + adNote,
				Evidence: ev(),
				Fix:      "Nothing is broken. For DANE, the mail host's operator must sign its zone and publish TLSA records.",
				Refs:     []string{"RFC 7672 2.2", "RFC 4035 3.2.3"},
			})
		}
	case res.Signed && !res.DS && res.ResolverValidates:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "dnssec.no-ds", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("zone %s publishes DNSKEY records but its parent has no DS record: nobody can validate %s", res.Zone, d),
			Detail:   "A signed zone is only validated when the parent zone holds a DS record for it (the chain of trust, RFC 4035 5). Without it the signatures are ignored, so DANE and other DNSSEC-based protection do not work. " + adNote,
			Evidence: ev(),
			Fix:      "Publish the DS record (from your DNS provider's DNSSEC settings) at your registrar.",
			Refs:     []string{"RFC 4035 5", "RFC 4509"},
		})
	case (res.Signed || res.DS) && res.ResolverValidates:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "dnssec.insecure", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("zone %s has DNSSEC records but the answers for %s are not validated, while other answers are", res.Zone, d),
			Detail:   "The resolver validates (it set the AD bit on other answers in this run) yet treats this domain as insecure: typically the DS record uses an algorithm or digest the resolver does not support, or the MX answer passes through an unsigned zone (a CNAME). DANE does not work for an insecure domain. " + adNote,
			Evidence: ev(),
			Fix:      "Check the zone with a DNSSEC analyzer (e.g. DNSViz); use algorithm 13 (ECDSA P-256) or 8 (RSA/SHA-256) and a SHA-256 DS digest.",
			Refs:     []string{"RFC 4035 4.3", "RFC 8624"},
		})
	case res.Signed || res.DS:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "dnssec.not-validated", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s is signed (DNSKEY/DS of zone %s found) but the resolver did not mark its answers as validated", d, res.Zone),
			Detail:   "Either the resolver does not validate DNSSEC (no answer in this run carried the AD bit), or it strips the bit. A validating resolver that found the signatures broken would have answered SERVFAIL instead. " + adNote,
			Evidence: ev(),
			Fix:      "Re-run with --resolver pointing at a validating resolver (a local unbound, or 1.1.1.1 / 9.9.9.9 over a trusted path).",
			Refs:     []string{"RFC 6840 5.7", "RFC 4035 3.2.3"},
		})
	case res.ResolverValidates:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "dnssec.unsigned", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%s is not DNSSEC-signed", d),
			Detail:   "Most domains are not, and mail is accepted without DNSSEC. It is needed for DANE (RFC 7672), which lets senders authenticate the MX hosts' TLS certificates, and RFC 8689 REQUIRETLS accepts a DNSSEC-validated MX as an alternative to MTA-STS. " + adNote,
			Evidence: ev(),
			Fix:      "Optional: enable DNSSEC at your DNS provider and publish the DS record at your registrar.",
			Refs:     []string{"RFC 4033", "RFC 7672 2.2"},
		})
	default:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "dnssec.unknown", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%s shows no sign of DNSSEC, and the resolver set the AD bit on no answer", d),
			Detail:   "No DNSKEY or DS record was found, so the domain is most likely unsigned; but since no answer in this run was validated, the resolver may simply not validate. " + adNote,
			Evidence: ev(),
			Fix:      "For a definite answer, re-run with --resolver pointing at a validating resolver.",
			Refs:     []string{"RFC 6840 5.7"},
		})
	}
}

// ask asks one question and records the answer.
func ask(ctx context.Context, r dnsx.Resolver, name string, qtype uint16) (Answer, []*dns.MX, error) {
	a := Answer{Name: name, Type: dnsx.TypeString(qtype)}
	res, err := r.Lookup(ctx, name, qtype)
	if err != nil {
		a.Status, a.Error = AnswerError, err.Error()
		return a, nil, err
	}
	a.Status = AnswerStatus(res.Status)
	if res.Offline {
		a.Status = AnswerOffline
	}
	a.AD = res.AD
	a.Records = len(res.Records)
	a.Source = res.Source
	return a, res.MX(), nil
}

// servfailFinding: a validating resolver answers SERVFAIL for data whose
// signatures do not verify, so a DNS failure is the typical symptom of
// broken DNSSEC; it is still only "could not be determined".
func servfailFinding(name string, err error) findings.Finding {
	f := findings.DNSError(check, name, err)
	if f.ID == check+".dns-error" {
		f.Detail += " When a validating resolver answers SERVFAIL but a non-validating one answers normally, the domain's DNSSEC is broken (expired signatures, a DS record that matches no key): validating receivers then cannot look up the sender's SPF, DKIM or DMARC records and defer its mail."
		f.BounceCodes = []string{"4.4.3", "4.7.0", "4.1.8"}
		f.Fix = "Compare with another resolver (--resolver); if only validating resolvers fail, check the zone with a DNSSEC analyzer and fix the signatures or the DS record at the registrar."
		f.Refs = []string{"RFC 4035 5.5", "RFC 4033 3"}
	}
	return f
}

// CheckResult turns the analysis into the dnssec check's result.
func (res *Result) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: check, Data: res, Findings: res.Findings}
	if res.skip != "" {
		cr.Status = findings.StatusSkip
		cr.Summary = res.skip
		return cr
	}
	cr.Status = findings.StatusFromFindings(res.Findings)
	switch {
	case cr.Status == findings.StatusError:
		cr.Summary = "could not be determined: DNS lookups failed"
	case res.Validated:
		n := 0
		for _, h := range res.Hosts {
			if h.Validated {
				n++
			}
		}
		cr.Summary = fmt.Sprintf("validated (AD); %d/%d MX hosts validated", n, len(res.Hosts))
	case res.Signed && !res.DS && res.ResolverValidates:
		cr.Summary = "signed, but no DS at the parent: not validated"
	case (res.Signed || res.DS) && res.ResolverValidates:
		cr.Summary = "DNSSEC records present, but the domain is insecure"
	case res.Signed || res.DS:
		cr.Summary = "signed, but the resolver did not validate it"
	case res.ResolverValidates:
		cr.Summary = "not signed"
	default:
		cr.Summary = "no DNSSEC seen; the resolver set AD on no answer"
		cr.Status = findings.StatusSkip
	}
	return cr
}
