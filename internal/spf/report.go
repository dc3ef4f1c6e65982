package spf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// CheckData is the spf check's data in reports: the lint result and, when
// a sender IP was given, the check_host() evaluation.
type CheckData struct {
	*LintResult
	Evaluation *EvaluationData `json:"evaluation,omitempty"`
}

// EvaluationData is an Evaluation as the report shows it.
type EvaluationData struct {
	IP string `json:"ip"`
	*Evaluation
	Error string `json:"error,omitempty"`
}

// CheckResult turns a lint (and an optional evaluation for --ip) into the
// spf check's result, following docs/contracts.md's status rules.
func CheckResult(lr *LintResult, ev *Evaluation, ip string) findings.CheckResult {
	cr := findings.CheckResult{Name: "spf"}
	data := &CheckData{LintResult: lr}
	cr.Findings = append(cr.Findings, lr.Findings...)
	if ev != nil {
		data.Evaluation = &EvaluationData{IP: ip, Evaluation: ev, Error: ev.Error()}
		if f, ok := EvaluationFinding(ev, ip); ok {
			cr.Findings = append(cr.Findings, f)
		}
	}
	cr.Data = data
	if lr.Offline {
		cr.Status = findings.StatusSkip
		cr.Summary = lr.Summary()
		return cr
	}
	cr.Status = findings.StatusFromFindings(cr.Findings)
	cr.Summary = lr.Summary()
	if ev != nil {
		cr.Summary = fmt.Sprintf("%s for %s; %s", ev.Result, ip, cr.Summary)
	}
	return cr
}

// EvaluationFinding reports a check_host() result for --ip. ok is false
// when the evaluation could not be done because of --offline.
func EvaluationFinding(ev *Evaluation, ip string) (findings.Finding, bool) {
	if errors.Is(ev.Err, ErrOffline) {
		return findings.Finding{
			ID: "spf.not-checked", Check: "spf", Severity: findings.SeverityInfo,
			Title:  fmt.Sprintf("SPF for %s was not evaluated: a name it needs is in no --zone file (--offline)", ip),
			Detail: ev.Error(),
		}, true
	}
	by := ""
	if ev.Mechanism != "" {
		by = fmt.Sprintf(" by %q", ev.Mechanism)
		if ev.MatchDomain != "" && !strings.EqualFold(ev.MatchDomain, ev.Domain) {
			by += " in the record of " + ev.MatchDomain
		}
	}
	ev2 := []string{fmt.Sprintf("check_host(%s, %s, %s) = %s%s; %d lookups, %d void", ip, ev.Domain, ev.Sender, ev.Result, by, ev.Lookups, ev.VoidLookups)}
	if ev.Record != "" {
		ev2 = append(ev2, fmt.Sprintf("%s TXT %q", ev.Domain, ev.Record))
	}
	if ev.Explanation != "" {
		ev2 = append(ev2, "explanation: "+ev.Explanation)
	}
	f := findings.Finding{ID: "spf." + string(ev.Result), Check: "spf", Evidence: ev2, Refs: []string{"RFC 7208 2.6", "RFC 7208 4"}}
	switch ev.Result {
	case ResultPass:
		f.Severity = findings.SeverityInfo
		f.Title = fmt.Sprintf("%s may send for %s: SPF pass%s", ip, ev.Domain, by)
	case ResultFail:
		f.Severity = findings.SeverityFail
		f.Title = fmt.Sprintf("%s is not authorised to send for %s: SPF fail%s", ip, ev.Domain, by)
		f.Detail = "Receivers that enforce SPF reject the message; under DMARC p=reject it is rejected unless DKIM aligns."
		f.BounceCodes = []string{"5.7.23", "5.7.26", "5.7.509"}
		f.Fix = fmt.Sprintf("If %s sends your mail, add it to the record (ip4:/ip6:, or the include: its provider documents) before the %q term.", ip, ev.Mechanism)
	case ResultSoftfail:
		f.Severity = findings.SeverityFail
		f.Title = fmt.Sprintf("%s is probably not authorised to send for %s: SPF softfail%s", ip, ev.Domain, by)
		f.Detail = "Softfail is not a pass: DMARC fails unless DKIM aligns, and many receivers send such mail to spam or reject it."
		f.BounceCodes = []string{"5.7.26", "5.7.509", "5.7.23"}
		f.Fix = fmt.Sprintf("If %s sends your mail, add it to the record before the %q term.", ip, ev.Mechanism)
	case ResultNeutral:
		f.Severity = findings.SeverityWarn
		f.Title = fmt.Sprintf("%s gets SPF neutral for %s: the record neither allows nor denies it%s", ip, ev.Domain, by)
		f.Detail = "Neutral is treated like none: DMARC cannot pass on SPF."
		f.BounceCodes = codesNeutral
		f.Fix = fmt.Sprintf("If %s sends your mail, list it in the record.", ip)
	case ResultNone:
		f.Severity = findings.SeverityFail
		f.Title = fmt.Sprintf("SPF none for %s: %v", ev.Domain, ev.Err)
		f.BounceCodes = codesNone
		f.Fix = "Publish an SPF record listing the servers that send the domain's mail."
	case ResultTemperror:
		f.Severity = findings.SeverityError
		f.Title = fmt.Sprintf("SPF temperror for %s from %s: %v", ev.Domain, ip, ev.Err)
		f.Detail = "A DNS lookup the evaluation needs failed; receivers defer the message and retry."
		f.BounceCodes = codesTemp
		f.Fix = "Retry; if it persists, check the name servers of the domains in the record."
	case ResultPermerror:
		f.Severity = findings.SeverityFail
		f.Title = fmt.Sprintf("SPF permerror for %s from %s: %v", ev.Domain, ip, ev.Err)
		f.Detail = "The policy cannot be evaluated; receivers treat permerror as a failed SPF check."
		f.BounceCodes = codesPermerror
		if errors.Is(ev.Err, ErrTooManyLookups) {
			f.BounceCodes = codesLookups
		}
		f.Fix = "Fix the record (see the other spf findings)."
	}
	f.Title = oneLine(f.Title)
	return f, true
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Status is what a check_host() result means for the sender (docs/
// contracts.md, spf --ip): pass is a pass; fail, softfail and permerror
// fail; neutral and none are warnings; temperror could not be determined;
// an evaluation that could not run offline is a skip.
func (ev *Evaluation) Status() findings.Status {
	if errors.Is(ev.Err, ErrOffline) {
		return findings.StatusSkip
	}
	switch ev.Result {
	case ResultPass:
		return findings.StatusPass
	case ResultFail, ResultSoftfail, ResultPermerror:
		return findings.StatusFail
	case ResultTemperror:
		return findings.StatusError
	default:
		return findings.StatusWarn
	}
}
