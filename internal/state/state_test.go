package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

func rep(target string, fs ...findings.Finding) *report.Report {
	r := &report.Report{Target: target, Checks: []findings.CheckResult{{Name: "spf", Status: findings.StatusFromFindings(fs), Findings: fs}}}
	r.Finalize(nil)
	return r
}

var (
	lookups   = findings.Finding{ID: "spf.too-many-lookups", Severity: findings.SeverityFail, Title: "SPF needs 14 DNS lookups"}
	lookups15 = findings.Finding{ID: "spf.too-many-lookups", Severity: findings.SeverityFail, Title: "SPF needs 15 DNS lookups"}
	none      = findings.Finding{ID: "dmarc.policy-none", Severity: findings.SeverityWarn, Title: "p=none"}
	info      = findings.Finding{ID: "dmarc.legacy-tag", Severity: findings.SeverityInfo, Title: "pct"}
)

func TestUpdateAndPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	now := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	run := func(reports ...*report.Report) []Change {
		t.Helper()
		st, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		ch := st.Update(reports, now)
		if err := st.Save(path); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	if ch := run(rep("a.example", lookups, info), rep("b.example")); len(ch) != 1 || ch[0].Target != "a.example" || !ch[0].New || len(ch[0].Appeared) != 1 {
		t.Fatalf("first run: %+v (clean new targets and info findings are not changes)", ch)
	}
	if ch := run(rep("a.example", lookups, info), rep("b.example")); len(ch) != 0 {
		t.Fatalf("unchanged run reported %+v", ch)
	}
	ch := run(rep("a.example", lookups15, none))
	if len(ch) != 1 || len(ch[0].Appeared) != 2 || len(ch[0].Disappeared) != 1 {
		t.Fatalf("changed run: %+v", ch)
	}
	if got := Summary(ch); got != "a.example changed: 2 new, 1 resolved" {
		t.Errorf("summary %q", got)
	}
	// b.example was not in the last run: it is kept.
	st, _ := Load(path)
	if _, ok := st.Targets["b.example"]; !ok {
		t.Error("target from an earlier run was dropped")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if _, err := Load(bad); err == nil {
		t.Error("garbage state accepted")
	}
	st, err := Load(filepath.Join(dir, "missing.json"))
	if err != nil || len(st.Targets) != 0 {
		t.Errorf("missing file: %v", err)
	}
}
