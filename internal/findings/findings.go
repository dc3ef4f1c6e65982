// Package findings is deliverdoctor's findings model: what a check returns
// (a CheckResult with a Status and Findings), the severities, the one
// constructor for "the DNS did not answer", and the declared finding IDs.
// Checks import this package and nothing of the renderers; internal/report
// builds reports from these types and renders them.
package findings

import (
	"errors"
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

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
// contract (e.g. "spf.too-many-lookups"); every ID is declared in ids.txt.
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
// found, the MX hosts, ...) and must marshal to a JSON object; commands
// that show more than the report read it back with a type assertion.
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

// DNSErrorFix is the advice every "the DNS did not answer" finding gives.
const DNSErrorFix = "Retry; if it persists, check the domain's name servers (SERVFAIL often means broken DNSSEC or a lame delegation) or use another resolver with --resolver."

// DNSError is the one finding for a lookup that failed: CHECK.dns-error,
// severity error (the answer could not be determined, which is never "no
// record"). what names what was asked ("the SPF record of example.com").
// A name that is not a valid DNS name is CHECK.invalid-name, a failure.
func DNSError(check, what string, err error) Finding {
	f := Finding{
		ID: check + ".dns-error", Check: check, Severity: SeverityError,
		Title:  fmt.Sprintf("could not look up %s: the DNS did not answer", what),
		Detail: err.Error() + ". A DNS failure is not the same as no record: the answer is unknown.",
		Fix:    DNSErrorFix,
	}
	if errors.Is(err, dnsx.ErrCNAMELoop) {
		// A loop is a permanent error in the domain's data, not a DNS
		// that did not answer: retrying does not help.
		f.ID = check + ".cname-loop"
		f.Title = fmt.Sprintf("%s: its CNAME chain loops or is longer than 10", what)
		f.Severity = SeverityFail
		f.Fix = "Fix the CNAME records so that the chain ends at a name holding the records."
	}
	if errors.Is(err, dnsx.ErrInvalidName) {
		f.ID = check + ".invalid-name"
		f.Title = fmt.Sprintf("%s is not a valid DNS name", what)
		f.Severity = SeverityFail
		f.Fix = ""
	}
	return f
}
