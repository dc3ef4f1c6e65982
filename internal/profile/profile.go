// Package profile judges a target against the published bulk-sender rules of
// the big mailbox providers (Gmail and Yahoo, February 2024; Microsoft
// Outlook.com, May 2025) by reading the results of the other checks. The
// rules are data (rules.json), each with its source and the bounce codes the
// provider answers with when it is not met.
package profile

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

//go:embed rules.json
var rulesJSON []byte

// Level of a requirement for one provider.
type Level string

// Levels.
const (
	Required    Level = "required"
	Recommended Level = "recommended"
)

// Requirement is one rule and how to read it from a check's result.
type Requirement struct {
	ID          string              `json:"id"`
	Title       string              `json:"title"`
	Check       string              `json:"check"`
	Blocking    []string            `json:"blocking"`     // finding IDs that mean "not met"
	UnknownIf   []string            `json:"unknown_if"`   // finding IDs that mean "cannot tell"
	UnknownHint string              `json:"unknown_hint"` // what to do when the check did not run
	Level       map[string]Level    `json:"level"`        // provider -> level
	Codes       map[string][]string `json:"codes"`        // provider -> bounce codes
	Fix         string              `json:"fix"`
	Note        string              `json:"note"`
}

// Manual is a rule DNS cannot show; listed so readiness is not overstated.
type Manual struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Providers []string `json:"providers"`
}

// Provider is a mailbox provider.
type Provider struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// Rules is the whole rule set.
type Rules struct {
	Sources      map[string]string `json:"sources"`      // provider -> short reference
	SourceNotes  map[string]string `json:"source_notes"` // provider -> what the source says, for reviewers
	Providers    []Provider        `json:"providers"`
	Requirements []Requirement     `json:"requirements"`
	Manual       []Manual          `json:"manual"`
}

// Load parses the embedded rules.
func Load() (*Rules, error) {
	var r Rules
	if err := json.Unmarshal(rulesJSON, &r); err != nil {
		return nil, fmt.Errorf("profile rules: %w", err)
	}
	return &r, nil
}

// Profiles accepted by --profile.
var Profiles = []string{"gmail", "yahoo", "microsoft", "bulk"}

// State of one requirement.
type State string

// States.
const (
	Met     State = "met"
	NotMet  State = "not-met"
	Unknown State = "unknown"
)

// Verdict is one requirement's evaluation.
type Verdict struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Level Level    `json:"level"`
	State State    `json:"state"`
	Why   string   `json:"why,omitempty"`
	Codes []string `json:"bounce_codes,omitempty"`
}

// ProviderResult says whether a target is ready for one provider.
type ProviderResult struct {
	Provider string    `json:"provider"`
	Title    string    `json:"title"`
	Ready    string    `json:"ready"` // yes, no, unknown
	Verdicts []Verdict `json:"requirements"`
	Manual   []string  `json:"not_checkable"`
}

// Result is the profile check's data.
type Result struct {
	Profile   string           `json:"profile"`
	Providers []ProviderResult `json:"providers"`
}

// Evaluate judges results for profile (gmail, yahoo, microsoft or bulk: all
// three).
func Evaluate(rules *Rules, profile string, results []findings.CheckResult) (*Result, []findings.Finding) {
	res := &Result{Profile: profile}
	byCheck := map[string]findings.CheckResult{}
	for _, c := range results {
		byCheck[c.Name] = c
	}
	type agg struct {
		req       Requirement
		providers []string
		codes     []string
		state     State
		why       string
		required  bool
	}
	aggs := map[string]*agg{}
	for _, p := range rules.Providers {
		if profile != "bulk" && profile != p.Name {
			continue
		}
		pr := ProviderResult{Provider: p.Name, Title: p.Title, Ready: "yes"}
		for _, req := range rules.Requirements {
			level, ok := req.Level[p.Name]
			if !ok {
				continue
			}
			state, why := judge(req, byCheck)
			v := Verdict{ID: req.ID, Title: req.Title, Level: level, State: state, Why: why, Codes: req.Codes[p.Name]}
			pr.Verdicts = append(pr.Verdicts, v)
			if level == Required {
				switch {
				case state == NotMet:
					pr.Ready = "no"
				case state == Unknown && pr.Ready == "yes":
					pr.Ready = "unknown"
				}
			}
			if state != Met {
				a := aggs[req.ID]
				if a == nil {
					a = &agg{req: req, state: state, why: why}
					aggs[req.ID] = a
				}
				a.providers = append(a.providers, p.Title)
				a.codes = appendNew(a.codes, req.Codes[p.Name]...)
				a.required = a.required || level == Required
			}
		}
		for _, m := range rules.Manual {
			if slices.Contains(m.Providers, p.Name) {
				pr.Manual = append(pr.Manual, m.Title)
			}
		}
		res.Providers = append(res.Providers, pr)
	}
	var found []findings.Finding
	ids := make([]string, 0, len(aggs))
	for id := range aggs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return reqIndex(rules, ids[i]) < reqIndex(rules, ids[j]) })
	for _, id := range ids {
		a := aggs[id]
		f := findings.Finding{ID: "profile." + id, Title: fmt.Sprintf("%s: %s", strings.Join(a.providers, ", "), lowerFirst(a.req.Title)), Fix: a.req.Fix}
		switch {
		case a.state == NotMet && a.required:
			f.Severity = findings.SeverityFail
			f.Title = fmt.Sprintf("not ready for %s: %s is required", strings.Join(a.providers, ", "), lowerFirst(a.req.Title))
			f.BounceCodes = a.codes
		case a.state == NotMet:
			f.Severity = findings.SeverityWarn
			f.Title = fmt.Sprintf("%s recommend(s): %s", strings.Join(a.providers, ", "), lowerFirst(a.req.Title))
			f.BounceCodes = a.codes
		default:
			// Unknown: a warning where a provider requires it, a note where
			// it only recommends it.
			f.Severity = findings.SeverityInfo
			if a.required {
				f.Severity = findings.SeverityWarn
			}
			f.Title = fmt.Sprintf("cannot confirm for %s: %s", strings.Join(a.providers, ", "), lowerFirst(a.req.Title))
		}
		f.Detail = sentence(a.why)
		if a.req.Note != "" {
			f.Detail = strings.TrimSpace(f.Detail + " " + a.req.Note)
		}
		for _, p := range a.providers {
			for name, src := range rules.Sources {
				if strings.HasPrefix(strings.ToLower(p), name) {
					f.Refs = appendNew(f.Refs, src)
				}
			}
		}
		found = append(found, f)
	}
	return res, found
}

// judge reads one requirement off its check's result.
func judge(req Requirement, byCheck map[string]findings.CheckResult) (State, string) {
	c, ok := byCheck[req.Check]
	if !ok {
		hint := req.UnknownHint
		if hint == "" {
			hint = "the " + req.Check + " check did not run"
		}
		return Unknown, hint
	}
	for _, f := range c.Findings {
		if slices.Contains(req.Blocking, f.ID) && (f.Severity == findings.SeverityFail || f.Severity == findings.SeverityWarn) {
			return NotMet, fmt.Sprintf("%s: %s [%s]", req.Check, f.Title, f.ID)
		}
	}
	for _, f := range c.Findings {
		if slices.Contains(req.UnknownIf, f.ID) {
			why := req.UnknownHint
			if why == "" {
				why = f.Title
			}
			return Unknown, why
		}
	}
	switch c.Status {
	case findings.StatusError:
		return Unknown, fmt.Sprintf("the %s check could not be completed (%s)", req.Check, c.Summary)
	case findings.StatusSkip:
		why := req.UnknownHint
		if why == "" {
			why = fmt.Sprintf("the %s check was skipped (%s)", req.Check, c.Summary)
		}
		return Unknown, why
	}
	return Met, ""
}

func reqIndex(r *Rules, id string) int {
	for i, q := range r.Requirements {
		if q.ID == id {
			return i
		}
	}
	return len(r.Requirements)
}

func appendNew(ss []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(ss, a) {
			ss = append(ss, a)
		}
	}
	return ss
}

func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func lowerFirst(s string) string {
	if s == "" || strings.HasPrefix(s, "DKIM") || strings.HasPrefix(s, "SPF") || strings.HasPrefix(s, "DMARC") {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// CheckResult is the profile check's result.
func CheckResult(res *Result, found []findings.Finding) findings.CheckResult {
	cr := findings.CheckResult{Name: "profile", Data: res, Findings: found, Status: findings.StatusFromFindings(found)}
	var parts []string
	for _, p := range res.Providers {
		part := fmt.Sprintf("%s: %s", p.Title, map[string]string{"yes": "ready", "no": "not ready", "unknown": "cannot confirm"}[p.Ready])
		// "ready" must not hide what the findings warn about: the
		// recommendations not met and the points that could not be
		// confirmed for this provider.
		notMet, unknown := 0, 0
		for _, v := range p.Verdicts {
			switch {
			case v.Level == Required:
			case v.State == NotMet:
				notMet++
			case v.State == Unknown:
				unknown++
			}
		}
		var extra []string
		if notMet > 0 {
			extra = append(extra, plural(notMet, "recommendation")+" not met")
		}
		if unknown > 0 {
			extra = append(extra, fmt.Sprintf("%d not confirmed", unknown))
		}
		if p.Ready == "yes" && len(extra) > 0 {
			part += " (" + strings.Join(extra, ", ") + ")"
		}
		parts = append(parts, part)
	}
	cr.Summary = strings.Join(parts, "; ")
	return cr
}

// plural writes "1 recommendation", "2 recommendations".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
