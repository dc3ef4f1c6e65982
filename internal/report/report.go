// Package report is deliverdoctor's findings model, the JSON report contract
// (schema deliverdoctor.report/v1, see DESIGN.md) and its renderers. Checks
// build CheckResults and Findings; renderers never query anything.
package report

import (
	"slices"
	"sort"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// Schema names the JSON report format; it changes only on breaking changes.
const Schema = "deliverdoctor.report/v1"

// Status is a check's or a report's outcome.
type Status string

// Statuses, in increasing order of severity (skip is lowest).
const (
	StatusSkip  Status = "skip"  // not run, or could not be asked (e.g. --offline)
	StatusPass  Status = "pass"  // nothing wrong
	StatusWarn  Status = "warn"  // works, but should be fixed
	StatusError Status = "error" // could not be determined (DNS timeout, SERVFAIL, connection refused)
	StatusFail  Status = "fail"  // mail will be rejected or is at risk
)

// Rank orders statuses: the report's status is the highest-ranked one. A
// fail outranks an error: something definitely broken is the headline.
func (s Status) Rank() int {
	switch s {
	case StatusPass:
		return 1
	case StatusWarn:
		return 2
	case StatusError:
		return 3
	case StatusFail:
		return 4
	default:
		return 0
	}
}

// Worst returns the highest-ranked status (skip when there are none).
func Worst(ss ...Status) Status {
	w := StatusSkip
	for _, s := range ss {
		if s.Rank() > w.Rank() {
			w = s
		}
	}
	return w
}

// Severity is a finding's weight.
type Severity string

// Severities.
const (
	SeverityInfo  Severity = "info"  // worth knowing, nothing to fix
	SeverityWarn  Severity = "warn"  // should be fixed
	SeverityFail  Severity = "fail"  // causes rejections
	SeverityError Severity = "error" // a part of the check could not be done
)

// Status maps a severity to the check status it implies.
func (s Severity) Status() Status {
	switch s {
	case SeverityFail:
		return StatusFail
	case SeverityError:
		return StatusError
	case SeverityWarn:
		return StatusWarn
	default:
		return StatusPass
	}
}

// Finding is one thing a check found. ID is stable and part of the JSON
// contract (e.g. "spf.too-many-lookups").
type Finding struct {
	ID          string   `json:"id"`
	Check       string   `json:"check"`
	Severity    Severity `json:"severity"`
	Title       string   `json:"title"`
	Detail      string   `json:"detail,omitempty"`
	Evidence    []string `json:"evidence,omitempty"`
	BounceCodes []string `json:"bounce_codes,omitempty"`
	Fix         string   `json:"fix,omitempty"`
	Refs        []string `json:"refs,omitempty"`
}

// CheckResult is one check's outcome. Data is check-specific (the record
// found, the MX hosts, ...) and must marshal to a JSON object.
type CheckResult struct {
	Name       string `json:"name"`
	Status     Status `json:"status"`
	Summary    string `json:"summary"`
	Data       any    `json:"data"`
	DurationMS int64  `json:"duration_ms"`
	// Findings are the check's own findings; in JSON they appear in the
	// report's top-level findings list.
	Findings []Finding `json:"-"`
}

// StatusFromFindings is the status a set of findings implies: the worst
// severity, pass when there are none.
func StatusFromFindings(fs []Finding) Status {
	st := StatusPass
	for _, f := range fs {
		st = Worst(st, f.Severity.Status())
	}
	return st
}

// Report is the result for one target (DESIGN.md's JSON contract).
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

// ExitCode per DESIGN.md: 1 when something is at or above failOn, else 3
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
