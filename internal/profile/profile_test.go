package profile

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

func cr(name string, st findings.Status, ids ...string) findings.CheckResult {
	c := findings.CheckResult{Name: name, Status: st}
	for _, id := range ids {
		c.Findings = append(c.Findings, findings.Finding{ID: id, Severity: findings.SeverityFail, Title: id})
	}
	return c
}

func good() []findings.CheckResult {
	return []findings.CheckResult{
		cr("spf", findings.StatusPass), cr("dkim", findings.StatusPass), cr("dmarc", findings.StatusPass),
		cr("ptr", findings.StatusPass), cr("smtp", findings.StatusPass), cr("rbl", findings.StatusPass),
	}
}

func TestEvaluate(t *testing.T) {
	rules, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ready := func(res *Result) map[string]string {
		m := map[string]string{}
		for _, p := range res.Providers {
			m[p.Provider] = p.Ready
		}
		return m
	}
	res, fs := Evaluate(rules, "bulk", good())
	if r := ready(res); r["gmail"] != "yes" || r["yahoo"] != "yes" || r["microsoft"] != "yes" || len(fs) != 0 {
		t.Fatalf("all good: %v %v", r, fs)
	}

	results := good()
	results[2] = cr("dmarc", findings.StatusFail, "dmarc.no-record")
	res, fs = Evaluate(rules, "bulk", results)
	if r := ready(res); r["gmail"] != "no" || r["microsoft"] != "no" {
		t.Errorf("no DMARC: %v", r)
	}
	var codes []string
	for _, f := range fs {
		if f.ID == "profile.dmarc" {
			codes = f.BounceCodes
			if f.Severity != findings.SeverityFail || !strings.Contains(f.Title, "Gmail, Yahoo, Microsoft") {
				t.Errorf("finding %+v", f)
			}
		}
	}
	if strings.Join(codes, ",") != "5.7.40,4.7.40,4.7.31,5.7.26,5.7.9,5.7.515" {
		t.Errorf("codes %v", codes)
	}

	// PTR missing is required by Gmail, only recommended by Microsoft.
	results = good()
	results[3] = cr("ptr", findings.StatusFail, "ptr.missing")
	res, _ = Evaluate(rules, "bulk", results)
	if r := ready(res); r["gmail"] != "no" || r["microsoft"] != "yes" {
		t.Errorf("ptr: %v", r)
	}

	// The smtp check did not run: TLS cannot be confirmed for Gmail.
	results = good()[:4]
	res, fs = Evaluate(rules, "gmail", results)
	if r := ready(res); r["gmail"] != "unknown" || len(res.Providers) != 1 {
		t.Errorf("no smtp: %v", r)
	}
	if len(fs) != 2 || !strings.Contains(fs[0].Detail+fs[1].Detail, "--smtp") {
		t.Errorf("findings %+v", fs)
	}

	// DNS trouble is not "not met".
	results = good()
	results[0] = findings.CheckResult{Name: "spf", Status: findings.StatusError, Summary: "SERVFAIL"}
	res, _ = Evaluate(rules, "yahoo", results)
	if r := ready(res); r["yahoo"] != "unknown" {
		t.Errorf("error: %v", r)
	}
	if got := CheckResult(res, nil).Summary; got != "Yahoo: cannot confirm" {
		t.Errorf("summary %q", got)
	}
}

var enhanced = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)

func TestRulesAreWellFormed(t *testing.T) {
	rules, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	providers := map[string]bool{}
	for _, p := range rules.Providers {
		providers[p.Name] = true
		if rules.Sources[p.Name] == "" || rules.SourceNotes[p.Name] == "" {
			t.Errorf("provider %s has no source", p.Name)
		}
	}
	for _, r := range rules.Requirements {
		for p, codes := range r.Codes {
			if !providers[p] {
				t.Errorf("%s: unknown provider %s", r.ID, p)
			}
			for _, c := range codes {
				if !enhanced.MatchString(c) {
					t.Errorf("%s: bad code %q", r.ID, c)
				}
			}
		}
		for _, id := range append(append([]string{}, r.Blocking...), r.UnknownIf...) {
			if !strings.HasPrefix(id, r.Check+".") && !(r.ID == "alignment") {
				t.Errorf("%s: finding %s is not from check %s", r.ID, id, r.Check)
			}
		}
		if r.Fix == "" {
			t.Errorf("%s: no fix", r.ID)
		}
	}
}

// TestBlockingIDsExist keeps the rules honest: every finding ID a rule
// reads must be one that some check can emit (as the full quoted ID, or as
// its name inside the check's finding helper).
func TestBlockingIDsExist(t *testing.T) {
	rules, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "profile") {
			return err
		}
		b, err := os.ReadFile(path)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	all := src.String()
	for _, r := range rules.Requirements {
		for _, id := range append(append([]string{}, r.Blocking...), r.UnknownIf...) {
			_, name, _ := strings.Cut(id, ".")
			if !strings.Contains(all, `"`+id+`"`) && !strings.Contains(all, `finding("`+name+`"`) {
				t.Errorf("rule %s reads finding %s, which no check emits", r.ID, id)
			}
		}
	}
}

// TestSummaryReflectsWarnings (issue 22): PTR missing is required by Gmail
// but only recommended by Microsoft; Microsoft's "ready" must say so
// instead of reading as if nothing were wrong.
func TestSummaryReflectsWarnings(t *testing.T) {
	rules, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	results := good()
	results[3] = cr("ptr", findings.StatusFail, "ptr.missing")
	res, fs := Evaluate(rules, "bulk", results)
	sum := CheckResult(res, fs).Summary
	if !strings.Contains(sum, "Microsoft (Outlook.com): ready (1 recommendation not met)") || !strings.Contains(sum, "Gmail: not ready") {
		t.Errorf("summary %q", sum)
	}
	// Nothing to confirm or recommend: plain "ready".
	res, fs = Evaluate(rules, "bulk", good())
	if sum := CheckResult(res, fs).Summary; strings.Contains(sum, "ready (") {
		t.Errorf("all good: %q", sum)
	}
}
