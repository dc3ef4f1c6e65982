// Package report is deliverdoctor's findings model, the JSON report contract
// (schema deliverdoctor.report/v1, see docs/contracts.md) and its renderers. Checks
// build CheckResults and Findings; renderers never query anything.
package report

import (
	"slices"
	"sort"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Schema names the JSON report format; it changes only on breaking changes.
const Schema = "deliverdoctor.report/v1"

// The findings model lives in internal/findings, which checks import
// without the renderers; these aliases keep report.Finding and friends
// working for code written against this package.
type (
	Status      = findings.Status
	Severity    = findings.Severity
	Finding     = findings.Finding
	CheckResult = findings.CheckResult
)

// Statuses and severities (see internal/findings).
const (
	StatusSkip  = findings.StatusSkip
	StatusPass  = findings.StatusPass
	StatusWarn  = findings.StatusWarn
	StatusError = findings.StatusError
	StatusFail  = findings.StatusFail

	SeverityInfo  = findings.SeverityInfo
	SeverityWarn  = findings.SeverityWarn
	SeverityFail  = findings.SeverityFail
	SeverityError = findings.SeverityError
)

// Worst returns the highest-ranked status (skip when there are none).
func Worst(ss ...Status) Status { return findings.Worst(ss...) }

// StatusFromFindings is the status a set of findings implies: the worst
// severity, pass when there are none.
func StatusFromFindings(fs []Finding) Status { return findings.StatusFromFindings(fs) }

// Report is the result for one target (docs/contracts.md's JSON contract).
type Report struct {
	Schema     string        `json:"schema"`
	Target     string        `json:"target"`
	Kind       string        `json:"kind"` // "domain" or "ip"
	Input      string        `json:"input,omitempty"`
	Status     Status        `json:"status"`
	DurationMS int64         `json:"duration_ms"`
	Checks     []CheckResult `json:"checks"`
	Findings   []Finding     `json:"findings"`
	// Notes say what the run could not see (e.g. --offline) or how the input
	// was interpreted (an e-mail address reduced to its domain).
	Notes []string `json:"notes,omitempty"`
	// Queries counts DNS packets sent and questions answered from zones.
	DNS *DNSStats `json:"dns,omitempty"`
}

// DNSStats summarises the resolver's work for a report.
type DNSStats struct {
	Sent      int64 `json:"sent"`
	ZoneHits  int64 `json:"zone_answers"`
	CacheHits int64 `json:"cache_hits"`
	// Failed lists this target's questions that got no answer, e.g.
	// "_dmarc.com TXT SERVFAIL"; FromZone the answers a --zone file gave,
	// e.g. "example.com TXT" (both bounded by the resolver).
	Failed   []string `json:"failed,omitempty"`
	FromZone []string `json:"from_zone,omitempty"`
	// Servers counts the work of each resolver so far in the run.
	Servers []dnsx.ServerStats `json:"servers,omitempty"`
}

// ServerStatsOf keeps only servers that were asked anything.
func ServerStatsOf(ss []dnsx.ServerStats) []dnsx.ServerStats {
	var out []dnsx.ServerStats
	for _, s := range ss {
		if s.Sent > 0 {
			out = append(out, s)
		}
	}
	return out
}

// AddDNSNotes records the target's failed questions and zone-file answers.
func (r *Report) AddDNSNotes(failed []dnsx.Failure, fromZone []string) {
	if len(failed) == 0 && len(fromZone) == 0 {
		return
	}
	if r.DNS == nil {
		r.DNS = &DNSStats{}
	}
	for _, f := range failed {
		r.DNS.Failed = append(r.DNS.Failed, f.String())
	}
	r.DNS.FromZone = fromZone
}

// Finalize orders checks and findings, gathers findings into the top-level
// list and computes the report status.
func (r *Report) Finalize(order []string) {
	r.Schema = Schema
	sort.SliceStable(r.Checks, func(i, j int) bool {
		return indexOr(order, r.Checks[i].Name) < indexOr(order, r.Checks[j].Name)
	})
	r.Findings = r.Findings[:0]
	var sts []Status
	for _, c := range r.Checks {
		r.Findings = append(r.Findings, c.Findings...)
		sts = append(sts, c.Status)
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		return severityRank(r.Findings[i].Severity) > severityRank(r.Findings[j].Severity)
	})
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Checks == nil {
		r.Checks = []CheckResult{}
	}
	r.Status = Worst(sts...)
}

func indexOr(order []string, s string) int {
	if i := slices.Index(order, s); i >= 0 {
		return i
	}
	return len(order)
}

func severityRank(s Severity) int {
	switch s {
	case SeverityFail:
		return 4
	case SeverityError:
		return 3
	case SeverityWarn:
		return 2
	default:
		return 1
	}
}

// AtOrAbove reports whether the report holds a check at or above the
// --fail-on level (warn or fail).
func (r *Report) AtOrAbove(level Status) bool {
	for _, c := range r.Checks {
		if c.Status == StatusError {
			continue
		}
		if c.Status.Rank() >= level.Rank() && c.Status.Rank() > StatusPass.Rank() {
			return true
		}
	}
	return false
}

// HasError reports whether any check could not be determined.
func (r *Report) HasError() bool {
	for _, c := range r.Checks {
		if c.Status == StatusError {
			return true
		}
	}
	return false
}

// ExitCode per docs/contracts.md: 1 when something is at or above failOn, else 3
// when a check could not run, else 0. (2, usage errors, is the CLI's.)
func ExitCode(reports []*Report, failOn Status) int {
	code := 0
	for _, r := range reports {
		if r.AtOrAbove(failOn) {
			return 1
		}
		if r.HasError() {
			code = 3
		}
	}
	return code
}
