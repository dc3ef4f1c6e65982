package reports

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// StatePrefix starts the state-file target of a policy domain's reports, so
// `reports` and `check` can share one state file without mixing up a
// domain's DNS findings with what its reports say.
const StatePrefix = "reports:"

// StateReports turns the document's findings into one report per policy
// domain (target "reports:DOMAIN") for the state file and --only-on-change.
// Each finding is keyed by what identifies it — domain, finding ID and,
// where there is one, the source IP or the receiving MX and result type —
// and not by its counts, which change with every week's reports: a new
// failing source is a change, a fixed one disappears, 412 messages
// becoming 380 is not.
func (doc *Document) StateReports() []*report.Report {
	byDomain := map[string]*report.Report{}
	var order []string
	target := func(domain string) *report.Report {
		r := byDomain[domain]
		if r == nil {
			r = &report.Report{Target: StatePrefix + domain, Kind: "reports", Findings: []findings.Finding{}}
			byDomain[domain] = r
			order = append(order, domain)
		}
		return r
	}
	add := func(domain string, f findings.Finding) {
		r := target(domain)
		r.Findings = append(r.Findings, f)
	}
	for _, d := range doc.Domains {
		target(d.Domain) // every domain read is recorded, also a clean one
		if d.Next != "" && d.LegitimateTotal > 0 && !d.Ready {
			add(d.Domain, findings.Finding{ID: "reports.policy-not-ready", Check: "dmarc", Severity: findings.SeverityWarn,
				Title: fmt.Sprintf("p=%s on %s would lose legitimate mail", d.Next, d.Domain)})
		}
	}
	for _, s := range doc.Sources {
		if s.Verdict == VerdictFailing {
			add(s.Domain, findings.Finding{ID: "reports.source-failing", Check: "dmarc", Severity: findings.SeverityFail,
				Title: fmt.Sprintf("%s sends as %s and fails DMARC", s.IP, s.Domain)})
		}
		if s.DNSError != "" {
			add(s.Domain, findings.Finding{ID: "reports.dns-error", Check: "dmarc", Severity: findings.SeverityError,
				Title: fmt.Sprintf("could not check %s against today's DNS", s.IP)})
		}
		if s.Verdict == VerdictUnknown {
			continue
		}
		for _, f := range s.rblFindings {
			add(s.Domain, findings.Finding{ID: f.ID, Check: f.Check, Severity: f.Severity,
				Title: fmt.Sprintf("%s (sending as %s): %s", s.IP, s.Domain, f.Title)})
		}
	}
	for _, p := range doc.TLS {
		for _, f := range p.Failures {
			add(p.Domain, findings.Finding{ID: "reports.tls-failures", Check: "tls-rpt", Severity: findings.SeverityWarn,
				Title: fmt.Sprintf("TLS sessions to %s fail for %s: %s", f.MX, p.Domain, f.ResultType)})
		}
	}
	out := make([]*report.Report, 0, len(order))
	for _, d := range order {
		r := byDomain[d]
		r.Status = findings.StatusFromFindings(r.Findings)
		out = append(out, r)
	}
	return out
}
