package reports

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// maxSourceFindings bounds the per-source findings; the rest are summed
// in one.
const maxSourceFindings = 20

func (b *Builder) finishDomains(j *joiner) {
	doc := b.doc
	for name, da := range b.domains {
		d := da.d
		d.Begin, d.End = rfc3339(da.begin), rfc3339(da.end)
		if disc := j.policy[name]; disc != nil {
			if disc.Record != nil {
				d.PolicyNow = string(disc.Record.P())
			} else {
				d.PolicyNow = "missing"
			}
		}
		var failing []*Source
		for _, s := range doc.Sources {
			if s.Domain != name {
				continue
			}
			d.Sources[s.Verdict]++
			d.ByVerdict[s.Verdict] += s.Messages
			switch s.Verdict {
			case VerdictFailing:
				d.LegitimateFailing += s.Failing()
				d.LegitimateTotal += s.Messages
				failing = append(failing, s)
			case VerdictAligned, VerdictForwarded:
				d.LegitimateTotal += s.Messages
			}
		}
		if d.LegitimateTotal > 0 {
			d.LossPercent = round1(100 * float64(d.LegitimateFailing) / float64(d.LegitimateTotal))
		}
		current := d.PolicyNow
		if current == "" || current == "missing" {
			current = d.Policy
		}
		switch dmarc.Policy(current) {
		case dmarc.PolicyReject:
			d.Next = ""
		case dmarc.PolicyQuarantine:
			d.Next = "reject"
		default:
			d.Next = "quarantine"
		}
		// No mail of your own in the reports says nothing about readiness.
		d.Ready = d.LegitimateFailing == 0 && d.LegitimateTotal > 0
		sort.SliceStable(failing, func(i, k int) bool { return failing[i].Failing() > failing[k].Failing() })
		for _, s := range failing {
			if len(d.FixFirst) < 10 {
				d.FixFirst = append(d.FixFirst, s.IP)
			}
		}
		doc.Domains = append(doc.Domains, d)
	}
	sort.Slice(doc.Domains, func(i, k int) bool { return doc.Domains[i].Domain < doc.Domains[k].Domain })
	doc.Notes = append(doc.Notes, j.notes...)
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func (b *Builder) finishSelectors() {
	for _, s := range b.selector {
		b.doc.Selectors = append(b.doc.Selectors, *s)
	}
	sort.Slice(b.doc.Selectors, func(i, k int) bool {
		a, c := b.doc.Selectors[i], b.doc.Selectors[k]
		if a.Policy != c.Policy {
			return a.Policy < c.Policy
		}
		if a.Messages != c.Messages {
			return a.Messages > c.Messages
		}
		return a.Domain+"|"+a.Selector < c.Domain+"|"+c.Selector
	})
}

func (b *Builder) finishTLS() {
	for _, ta := range b.tls {
		p := ta.p
		for o := range ta.orgs {
			p.Orgs = append(p.Orgs, o)
		}
		sort.Strings(p.Orgs)
		total := p.SessionsOK + p.Failed
		if total > 0 {
			p.FailureRate = round1(100 * float64(p.Failed) / float64(total))
		}
		p.Failures = []TLSFailure{}
		for _, f := range ta.failures {
			if total > 0 {
				f.RatePercent = round1(100 * float64(f.Sessions) / float64(total))
			}
			p.Failures = append(p.Failures, *f)
		}
		sort.Slice(p.Failures, func(i, k int) bool {
			if p.Failures[i].Sessions != p.Failures[k].Sessions {
				return p.Failures[i].Sessions > p.Failures[k].Sessions
			}
			return p.Failures[i].MX+p.Failures[i].ResultType < p.Failures[k].MX+p.Failures[k].ResultType
		})
		b.doc.TLS = append(b.doc.TLS, p)
	}
	sort.Slice(b.doc.TLS, func(i, k int) bool {
		return b.doc.TLS[i].Domain+"|"+b.doc.TLS[i].Type < b.doc.TLS[k].Domain+"|"+b.doc.TLS[k].Type
	})
}

// dmarcCodes are the bounces failing DMARC meets at the large receivers:
// Gmail 5.7.26, Microsoft 5.7.509 (p=reject) and 5.7.515 (bulk), Yahoo 5.7.9.
func dmarcCodes() []string {
	var out []string
	for _, c := range append(dmarc.RejectCodes(), dmarc.BulkCodes()...) {
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func sourceName(s *Source) string {
	if s.PTR != "" {
		return fmt.Sprintf("%s (%s)", s.IP, s.PTR)
	}
	return s.IP
}

func (b *Builder) found(j *joiner) []findings.Finding {
	doc := b.doc
	var out []findings.Finding
	var failing []*Source
	for _, s := range doc.Sources {
		if s.Verdict == VerdictFailing {
			failing = append(failing, s)
		}
	}
	sort.SliceStable(failing, func(i, k int) bool { return failing[i].Failing() > failing[k].Failing() })
	for i, s := range failing {
		if i == maxSourceFindings {
			var n int64
			for _, r := range failing[i:] {
				n += r.Failing()
			}
			out = append(out, findings.Finding{ID: "reports.source-failing", Check: "dmarc", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("%d more of your sources fail DMARC (%d messages)", len(failing)-i, n),
				BounceCodes: dmarcCodes(), Fix: "See the sources list (--format json) for each one's fix.", Refs: []string{"RFC 7489 7.2"}})
			break
		}
		ev := []string{fmt.Sprintf("reported by %s", joinCounts(s.Orgs, 3))}
		if len(s.EnvelopeFrom) > 0 {
			ev = append(ev, "envelope from: "+joinCounts(s.EnvelopeFrom, 3))
		}
		for k, d := range s.DKIM {
			if k == 3 {
				break
			}
			ev = append(ev, fmt.Sprintf("DKIM d=%s s=%s: %d pass, %d fail", d.Domain, orDefault(d.Selector, "?"), d.Pass, d.Fail))
		}
		if s.SPFNow != "" && s.SPFNow != "skip" {
			ev = append(ev, fmt.Sprintf("SPF of %s today: %s", s.SPFNowDomain, s.SPFNow))
		}
		out = append(out, findings.Finding{
			ID: "reports.source-failing", Check: "dmarc", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s sends as %s and fails DMARC: %d of %d messages", sourceName(s), s.Domain, s.Failing(), s.Messages),
			Detail:      s.Reason + ". Under p=quarantine or p=reject this mail is lost; large receivers refuse it with the codes below.",
			Evidence:    ev,
			BounceCodes: dmarcCodes(),
			Fix:         s.Fix,
			Refs:        []string{"RFC 7489 3.1", "RFC 7489 7.2"},
		})
	}
	for _, d := range doc.Domains {
		policy := d.PolicyNow
		if policy == "" || policy == "missing" {
			policy = d.Policy
		}
		switch {
		case d.Next == "":
			// p=reject already: failing sources are being refused today,
			// and said so above.
		case d.LegitimateTotal == 0:
			out = append(out, findings.Finding{
				ID: "reports.no-legitimate-mail", Check: "dmarc", Severity: findings.SeverityInfo,
				Title:  fmt.Sprintf("none of the %d messages reported for %s came from a source that passes or is authorised", d.Messages, d.Domain),
				Detail: "Either the domain sends no mail of its own (then p=reject is safe), or its senders are missing from these reports.",
			})
		case d.Ready:
			out = append(out, findings.Finding{
				ID: "reports.policy-ready", Check: "dmarc", Severity: findings.SeverityInfo,
				Title:  fmt.Sprintf("%s can move from p=%s to p=%s: none of its legitimate mail fails DMARC", d.Domain, orDefault(policy, "none"), d.Next),
				Detail: fmt.Sprintf("Over %s – %s: %d messages, %d passed DMARC; the rest came from unknown sources (or spoofers).", d.Begin, d.End, d.Messages, d.DMARCPass),
				Fix:    fmt.Sprintf("Publish p=%s (with pct= to go step by step, or t=y first), and keep reading the reports.", d.Next),
				Refs:   []string{"RFC 7489 6.3", "RFC 9989"},
			})
		default:
			out = append(out, findings.Finding{
				ID: "reports.policy-not-ready", Check: "dmarc", Severity: findings.SeverityWarn,
				Title: fmt.Sprintf("p=%s on %s would lose %d of %d legitimate messages (%.1f%%) today", d.Next, d.Domain, d.LegitimateFailing, d.LegitimateTotal, d.LossPercent),
				Detail: fmt.Sprintf("%d of your sending sources fail DMARC. Fix them first, most failing mail first: %s.",
					d.Sources[VerdictFailing], strings.Join(d.FixFirst, ", ")),
				BounceCodes: dmarcCodes(),
				Fix:         "Fix the failing sources (see their findings), then move to p=" + d.Next + ".",
				Refs:        []string{"RFC 7489 6.3"},
			})
		}
		if n := d.ByVerdict[VerdictUnknown]; n > 0 {
			var ips []string
			for _, s := range doc.Sources {
				if s.Domain == d.Domain && s.Verdict == VerdictUnknown && len(ips) < 5 {
					ips = append(ips, sourceName(s))
				}
			}
			out = append(out, findings.Finding{
				ID: "reports.unknown-sources", Check: "dmarc", Severity: findings.SeverityInfo,
				Title:    fmt.Sprintf("%d messages from %d unknown sources claimed to be %s", n, d.Sources[VerdictUnknown], d.Domain),
				Detail:   "They pass neither SPF nor DKIM for the domain: spoofing, or a service nobody told you about. p=reject makes receivers refuse them.",
				Evidence: ips,
			})
		}
		if n := d.ByVerdict[VerdictForwarded]; n > 0 {
			out = append(out, findings.Finding{
				ID: "reports.forwarded", Check: "dmarc", Severity: findings.SeverityInfo,
				Title:  fmt.Sprintf("%d messages for %s were forwarded (SPF fails, DKIM passes) from %d sources", n, d.Domain, d.Sources[VerdictForwarded]),
				Detail: "Forwarders and mailing lists break SPF; DKIM survives them. Expected; keep signing everything with an aligned d=.",
			})
		}
	}
	for _, s := range doc.Sources {
		if s.DNSError != "" {
			out = append(out, findings.Finding{ID: "reports.dns-error", Check: "dmarc", Severity: findings.SeverityError,
				Title:  fmt.Sprintf("could not check %s against today's DNS: %s", s.IP, s.DNSError),
				Detail: "A DNS timeout or SERVFAIL is not an answer: the source's verdict may change when the lookup works."})
		}
		if s.Verdict == VerdictUnknown {
			continue
		}
		for _, f := range s.rblFindings {
			f.Evidence = append([]string{fmt.Sprintf("%s sends %d messages as %s (DMARC reports)", s.IP, s.Messages, s.Domain)}, f.Evidence...)
			out = append(out, f)
		}
	}
	for _, p := range doc.TLS {
		if p.Failed == 0 {
			continue
		}
		var ev []string
		var checks []string
		for k, f := range p.Failures {
			if k < 8 {
				line := fmt.Sprintf("%s: %s, %d sessions (%.1f%%)", f.MX, f.ResultType, f.Sessions, f.RatePercent)
				if len(f.ReasonCodes) > 0 {
					line += " — " + strings.Join(f.ReasonCodes, "; ")
				}
				if f.NotInPolicy {
					line += " — the MTA-STS policy's mx: lines do not list this host"
				}
				ev = append(ev, line)
			}
			for _, c := range f.Checks {
				if !contains(checks, c) {
					checks = append(checks, c)
				}
			}
		}
		out = append(out, findings.Finding{
			ID: "reports.tls-failures", Check: "tls-rpt", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%d of %d TLS sessions to %s failed (%.1f%%, %s policy)", p.Failed, p.Failed+p.SessionsOK, p.Domain, p.FailureRate, orDefault(p.Type, "no")),
			Detail:   fmt.Sprintf("Senders (%s) could not set up TLS to these MX hosts as the policy requires. Under an enforced MTA-STS or DANE policy that mail is not delivered.", strings.Join(p.Orgs, ", ")),
			Evidence: ev,
			Fix:      fmt.Sprintf("Run deliverdoctor check %s (the %s checks) and fix the certificate, the MX list of the MTA-STS policy or the TLSA records.", p.Domain, strings.Join(checks, ", ")),
			Refs:     []string{"RFC 8460 4.3", "RFC 8461", "RFC 7672"},
		})
	}
	var nFailure int
	for _, r := range doc.Reports {
		if r.Kind == "failure" {
			nFailure++
		}
	}
	if nFailure > 0 {
		out = append(out, findings.Finding{ID: "reports.failure-reports", Check: "dmarc", Severity: findings.SeverityInfo,
			Title:  fmt.Sprintf("%d DMARC failure reports (one per failed message)", nFailure),
			Detail: "Each names a source IP and the failing message's headers: see the reports list (kind failure)."})
	}
	return out
}

func joinCounts(cs []Count, n int) string {
	var parts []string
	for i, c := range cs {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", c.Value, c.Messages))
	}
	return strings.Join(parts, ", ")
}
