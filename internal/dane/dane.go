// Package dane checks DANE for SMTP (RFC 7672, RFC 6698): the TLSA records
// at _25._tcp.MXHOST for each MX host of a domain, their parameters, that
// they are DNSSEC-validated (senders ignore them otherwise), and, when a
// probe is given (--smtp), whether the certificate each MX host presents
// after STARTTLS matches them.
//
// DANE is enforced by the senders that implement it (Postfix and Exim
// configured for it, Microsoft Exchange Online, many European providers):
// when an MX host's validated TLSA records match nothing it presents, they
// defer mail to it (Postfix: 4.7.5 "Server certificate not trusted").
package dane

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
)

const check = "dane"

// TLSAName is where an MX host's TLSA records live (RFC 7672 2.2.3).
func TLSAName(host string) string { return "_25._tcp." + strings.TrimSuffix(host, ".") }

// ProbeResult is what connecting to an MX host showed.
type ProbeResult struct {
	// Chain is the certificate chain presented after STARTTLS, leaf first.
	Chain []*x509.Certificate
	// NoSTARTTLS: the server did not offer STARTTLS.
	NoSTARTTLS bool
	// Err: the probe could not get as far as the certificate (connection,
	// timeout, TLS handshake failure).
	Err error
}

// Options configure Check.
type Options struct {
	// Probe, when set (--smtp), connects to host and reports the
	// certificate chain it presents. It is called only for hosts that
	// publish TLSA records.
	Probe func(ctx context.Context, host string) ProbeResult
}

// Host is the DANE state of one MX host.
type Host struct {
	Name     string      `json:"name"`
	TLSAName string      `json:"tlsa_name"`
	Status   string      `json:"status"` // ok, nxdomain, nodata, error, offline
	AD       bool        `json:"ad"`     // the TLSA answer was DNSSEC-validated
	Source   string      `json:"source,omitempty"`
	TLSA     []Record    `json:"tlsa"`
	Problems [][]Problem `json:"problems,omitempty"` // per record, parallel to TLSA
	Usable   int         `json:"usable"`
	// Match is set when the host was probed.
	Match *Match `json:"match,omitempty"`
	Error string `json:"error,omitempty"`
}

// Match is the outcome of comparing a presented certificate with TLSA.
type Match struct {
	Matched    bool   `json:"matched"`
	Detail     string `json:"detail"`
	NoSTARTTLS bool   `json:"no_starttls,omitempty"`
	ProbeError string `json:"probe_error,omitempty"`
}

// Result is the DANE analysis of a domain.
type Result struct {
	Domain string `json:"domain"`
	// MXValidated: the MX answer carried the AD bit (RFC 7672 2.2.1 has
	// senders use DANE only for MX hosts found by a validated lookup).
	MXValidated bool               `json:"mx_validated"`
	MXSource    string             `json:"mx_source,omitempty"`
	Implicit    bool               `json:"implicit_mx,omitempty"`
	Hosts       []Host             `json:"hosts"`
	Findings    []findings.Finding `json:"-"`

	skip    string
	errored bool
}

// Check looks up the TLSA records of every MX host of domain, concurrently.
func Check(ctx context.Context, r dnsx.Resolver, domain string, o Options) *Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	res := &Result{Domain: domain, Hosts: []Host{}}
	set, err := mx.MailHosts(ctx, r, domain)
	if err != nil {
		res.errored = true
		res.Findings = append(res.Findings, dnsErr("the MX records of "+domain, err))
		return res
	}
	switch set.Kind {
	case mx.HostsOffline:
		res.skip = "not checked: --offline and " + domain + " is in no --zone file"
		return res
	case mx.HostsNull: // no mail, no DANE
		res.skip = "not applicable: " + domain + " has a null MX"
		return res
	case mx.HostsNXDomain:
		res.skip = "not applicable: " + domain + " does not exist"
		return res
	case mx.HostsImplicit:
		// RFC 7672 2.2.1: without MX records the domain itself is the
		// host (RFC 5321 5.1 implicit MX).
		res.Implicit = true
	}
	res.MXValidated, res.MXSource = set.Result.AD, set.Result.Source
	names := set.Names()
	res.Hosts = make([]Host, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Hosts[i] = lookupHost(ctx, r, n)
			h := &res.Hosts[i]
			if o.Probe != nil && len(h.TLSA) > 0 {
				pr := o.Probe(ctx, n)
				h.Match = &Match{NoSTARTTLS: pr.NoSTARTTLS}
				switch {
				case pr.Err != nil:
					h.Match.ProbeError = pr.Err.Error()
				case pr.NoSTARTTLS:
					h.Match.Detail = "the server did not offer STARTTLS"
				default:
					h.Match.Matched, h.Match.Detail = MatchTLSA(h.TLSA, pr.Chain, n, domain)
				}
			}
		}()
	}
	wg.Wait()
	res.judge()
	return res
}

func lookupHost(ctx context.Context, r dnsx.Resolver, name string) Host {
	h := Host{Name: name, TLSAName: TLSAName(name), TLSA: []Record{}}
	tr, err := r.Lookup(ctx, h.TLSAName, dns.TypeTLSA)
	if err != nil {
		h.Status, h.Error = "error", err.Error()
		return h
	}
	h.Status, h.AD, h.Source = string(tr.Status), tr.AD, tr.Source
	if tr.Offline {
		h.Status = "offline"
	}
	for _, rr := range tr.Records {
		if t, ok := rr.(*dns.TLSA); ok {
			rec := FromRR(t)
			ps := Lint(rec)
			if ps == nil {
				ps = []Problem{} // JSON: [] for a clean record, not null
			}
			h.TLSA = append(h.TLSA, rec)
			h.Problems = append(h.Problems, ps)
			if len(ps) == 0 {
				h.Usable++
			}
		}
	}
	if len(h.Problems) > 0 && !anyProblems(h.Problems) {
		h.Problems = nil
	}
	return h
}

func anyProblems(ps [][]Problem) bool {
	for _, p := range ps {
		if len(p) > 0 {
			return true
		}
	}
	return false
}

func (res *Result) judge() {
	var with, without, unknown, offline []string
	for _, h := range res.Hosts {
		switch {
		case h.Status == "error":
			unknown = append(unknown, h.Name+": "+h.Error)
		case h.Status == "offline":
			offline = append(offline, h.Name)
		case len(h.TLSA) > 0:
			with = append(with, h.Name)
		default:
			without = append(without, h.Name)
		}
	}
	if len(offline) == len(res.Hosts) {
		res.skip = "not checked: the MX hosts' TLSA names are in no --zone file (--offline)"
		return
	}
	if len(unknown) > 0 {
		f := dnsErr("the TLSA records of MX hosts", fmt.Errorf("%s", strings.Join(unknown, "; ")))
		f.Evidence = unknown
		res.errored = true
		res.Findings = append(res.Findings, f)
	}
	if len(with) == 0 {
		if len(without) > 0 {
			res.Findings = append(res.Findings, findings.Finding{
				ID: "dane.none", Severity: findings.SeverityInfo,
				Title:    fmt.Sprintf("no MX host of %s publishes TLSA records: DANE is not used", res.Domain),
				Detail:   "DANE for SMTP (RFC 7672) is optional. With DNSSEC-signed TLSA records, senders that implement it (Postfix, Exim, Microsoft Exchange Online, many European providers) require authenticated TLS to the MX hosts, which defeats STARTTLS downgrade and MX spoofing. It needs DNSSEC for both the domain and the MX host names.",
				Evidence: tlsaEvidence(res.Hosts),
				Fix:      "Optional: with DNSSEC in place, publish \"_25._tcp.MXHOST. TLSA 3 1 1 <SHA-256 of the certificate's public key>\" for each MX host (and a second record for the next key before rolling it over).",
				Refs:     []string{"RFC 7672", "RFC 7671 5.1"},
			})
		}
		return
	}
	if len(without) > 0 {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "dane.partial", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%d of %d MX hosts of %s publish no TLSA records: %s", len(without), len(res.Hosts), res.Domain, strings.Join(without, ", ")),
			Detail:   "DANE senders authenticate TLS only to the hosts with TLSA records; mail that goes to the others is open to STARTTLS downgrade, so an attacker who blocks the protected hosts gets the mail in clear text.",
			Evidence: tlsaEvidence(res.Hosts),
			Fix:      "Publish TLSA records for every MX host, or accept that the hosts without them are unprotected.",
			Refs:     []string{"RFC 7672 2.2"},
		})
	}
	// RFC 7672 2.2.1: DANE applies only to MX hosts from a validated MX
	// lookup (Postfix >= 3.6 still uses the TLSA records by default:
	// smtp_tls_dane_insecure_mx_policy = dane).
	zone := res.MXSource == "zone"
	if !res.MXValidated && !zone && !res.Implicit {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "dane.mx-not-validated", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s publishes TLSA records but its MX records are not DNSSEC-validated", res.Domain),
			Detail:   "RFC 7672 2.2.1: senders use DANE only for MX hosts found through a validated MX lookup; with an insecure MX answer most ignore the TLSA records (recent Postfix still uses them). " + adNote,
			Evidence: []string{fmt.Sprintf("%s MX: no AD bit (%s)", res.Domain, res.MXSource)},
			Fix:      "Sign " + res.Domain + " with DNSSEC and publish its DS record at the registrar (see the dnssec check).",
			Refs:     []string{"RFC 7672 2.2.1", "RFC 6840 5.7"},
		})
	}
	for _, h := range res.Hosts {
		if len(h.TLSA) == 0 {
			continue
		}
		var ev []string
		for _, t := range h.TLSA {
			ev = append(ev, fmt.Sprintf("%s TLSA %s", h.TLSAName, t))
		}
		if !h.AD && h.Source != "zone" {
			res.Findings = append(res.Findings, findings.Finding{
				ID: "dane.tlsa-not-validated", Severity: findings.SeverityWarn,
				Title:    fmt.Sprintf("the TLSA records of %s are not DNSSEC-validated: senders ignore them", h.Name),
				Detail:   "RFC 7672 2.2: TLSA records that do not validate are ignored (they could be forged), so this host gets no DANE protection. Its zone must be signed, with a DS record at the parent. " + adNote,
				Evidence: ev,
				Fix:      "Sign the zone of " + h.Name + " with DNSSEC, or remove the TLSA records.",
				Refs:     []string{"RFC 7672 2.2", "RFC 6698 4.1"},
			})
		}
		var probs []string
		pkixOnly := true
		for i, ps := range h.Problems {
			for _, p := range ps {
				probs = append(probs, fmt.Sprintf("%s: %s", h.TLSA[i].Short(), p.Text))
				if p.Code != "pkix-usage" {
					pkixOnly = false
				}
			}
		}
		if len(probs) > 0 {
			f := findings.Finding{
				ID: "dane.unusable-record", Severity: findings.SeverityWarn,
				Title:    fmt.Sprintf("%d of %d TLSA records of %s are unusable", len(h.TLSA)-h.Usable, len(h.TLSA), h.Name),
				Detail:   "Senders skip unusable TLSA records and authenticate with the rest (RFC 7672 2.2).",
				Evidence: append(ev, probs...),
				Fix:      "Replace them with \"3 1 1\" (DANE-EE, public key, SHA-256) or \"2 1 1\" (DANE-TA) records.",
				Refs:     []string{"RFC 7672 2.2", "RFC 7672 3.1.3", "RFC 6698 2.1"},
			}
			if pkixOnly {
				f.ID = "dane.pkix-usage"
				f.Title = fmt.Sprintf("%s publishes TLSA records with PKIX usages (0 or 1), which SMTP senders do not use", h.Name)
				f.Detail = "RFC 7672 3.1.3: usages PKIX-TA(0) and PKIX-EE(1) are not suitable for SMTP, where there is no agreed set of trusted CAs; senders treat such records as unusable."
			}
			if h.Usable == 0 {
				f.Title += "; none is usable"
				f.Detail += " With no usable record, DANE senders still insist on TLS but cannot authenticate it, so the records protect only against a clear-text downgrade."
			}
			res.Findings = append(res.Findings, f)
		}
		if m := h.Match; m != nil {
			res.Findings = append(res.Findings, matchFindings(h, m, ev)...)
		}
	}
}

func matchFindings(h Host, m *Match, ev []string) []findings.Finding {
	switch {
	case m.ProbeError != "":
		return []findings.Finding{{
			ID: "dane.probe-error", Severity: findings.SeverityError,
			Title:    fmt.Sprintf("could not get the certificate of %s to compare with its TLSA records", h.Name),
			Detail:   m.ProbeError,
			Evidence: ev,
			Fix:      "Check that port 25 of " + h.Name + " is reachable from here (many networks block outgoing port 25) and retry.",
		}}
	case m.NoSTARTTLS && h.Usable > 0:
		return []findings.Finding{{
			ID: "dane.no-starttls", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s publishes TLSA records but does not offer STARTTLS: DANE senders will not deliver to it", h.Name),
			Detail:      "RFC 7672 2.2: usable TLSA records oblige the sender to use TLS; without STARTTLS, mail to this host is deferred and eventually returned.",
			Evidence:    ev,
			BounceCodes: []string{"4.7.4", "4.7.5"},
			Fix:         "Enable STARTTLS on " + h.Name + " with a certificate matching the TLSA records, or remove the TLSA records first.",
			Refs:        []string{"RFC 7672 2.2", "RFC 3207"},
		}}
	case !m.Matched && h.Usable > 0 && !m.NoSTARTTLS:
		sev := findings.SeverityFail
		title := fmt.Sprintf("the certificate of %s matches none of its TLSA records: DANE senders will not deliver to it", h.Name)
		detail := "Senders that validate DANE (RFC 7672 3) refuse a certificate that matches no usable TLSA record and defer the mail (Postfix: \"Server certificate not trusted\", 4.7.5), then return it when it expires. This usually follows a certificate renewal with a new key without updating the TLSA records first."
		if !h.AD && h.Source != "zone" {
			sev = findings.SeverityWarn
			title = fmt.Sprintf("the certificate of %s matches none of its (unvalidated) TLSA records", h.Name)
			detail = "The TLSA records are not DNSSEC-validated, so senders ignore them today; once the zone is signed, this mismatch would make DANE senders defer mail (4.7.5)."
		}
		return []findings.Finding{{
			ID: "dane.mismatch", Severity: sev, Title: title,
			Detail:      detail + " " + m.Detail,
			Evidence:    ev,
			BounceCodes: []string{"4.7.5", "4.4.7"},
			Fix:         "Publish a TLSA record matching the current certificate (see the record in the detail) next to the old one, wait for the TTL, then remove the stale record. Always add the next key's record before rolling the certificate.",
			Refs:        []string{"RFC 7672 3.1", "RFC 7671 8.1"},
		}}
	}
	return nil
}

const adNote = "Validation is judged from the resolver's AD bit, meaningful only from a validating resolver you trust (RFC 6840 5.7)."

func tlsaEvidence(hosts []Host) []string {
	var ev []string
	for _, h := range hosts {
		if len(h.TLSA) == 0 {
			ev = append(ev, fmt.Sprintf("%s TLSA: none (%s)", h.TLSAName, h.Status))
			continue
		}
		for _, t := range h.TLSA {
			ev = append(ev, fmt.Sprintf("%s TLSA %s", h.TLSAName, t.Short()))
		}
	}
	return ev
}

func dnsErr(what string, err error) findings.Finding {
	return findings.DNSError(check, what, err)
}

// CheckResult turns the analysis into the dane check's result.
func (res *Result) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: check, Data: res, Findings: res.Findings}
	if res.skip != "" {
		cr.Status = findings.StatusSkip
		cr.Summary = res.skip
		return cr
	}
	cr.Status = findings.StatusFromFindings(res.Findings)
	with, matched, probed := 0, 0, 0
	for _, h := range res.Hosts {
		if len(h.TLSA) > 0 {
			with++
		}
		if h.Match != nil && h.Match.ProbeError == "" {
			probed++
			if h.Match.Matched {
				matched++
			}
		}
	}
	switch {
	case res.errored && with == 0:
		cr.Summary = "could not be determined: DNS lookups failed"
	case with == 0:
		cr.Summary = "no TLSA records (DANE not used)"
	default:
		cr.Summary = fmt.Sprintf("TLSA on %d/%d MX hosts", with, len(res.Hosts))
		if probed > 0 {
			cr.Summary += fmt.Sprintf("; certificate matches on %d/%d probed", matched, probed)
		}
	}
	return cr
}
