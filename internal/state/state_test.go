package state

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
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

// Two runs (e.g. two --shard processes sharing one file) that loaded the
// same state each keep their own targets: the second save merges into the
// file as the first left it instead of overwriting it.
func TestConcurrentRunsMerge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	now := time.Now()
	a, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Load(path)
	a.Update([]*report.Report{rep("a.example", lookups)}, now)
	b.Update([]*report.Report{rep("b.example", none)}, now)
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	got, _ := Load(path)
	if len(got.Targets) != 2 {
		t.Fatalf("targets after two runs: %v", got.Targets)
	}
	// And under real concurrency, through the lock.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, st, err := Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			st.Update([]*report.Report{rep(fmt.Sprintf("c%d.example", i))}, now)
			if err := f.Store(st); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := Load(path); len(got.Targets) != 22 {
		t.Errorf("%d targets after 20 concurrent runs, want 22", len(got.Targets))
	}
}

// Saving keeps the file's mode and follows a symlink instead of replacing
// it.
func TestSaveKeepsModeAndSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	if err := os.WriteFile(real, []byte(`{"version":1,"targets":{}}`), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(real, 0o640)
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	st, _ := Load(link)
	st.Update([]*report.Report{rep("a.example", lookups)}, time.Now())
	if err := st.Save(link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	fi, err := os.Stat(real)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 (%v)", fi.Mode().Perm(), err)
	}
	if got, _ := Load(real); len(got.Targets) != 1 {
		t.Error("the link's target was not updated")
	}
}

// Open finds every state problem before the run: corrupt, a directory,
// a missing directory, an unwritable directory.
func TestOpenValidatesUpFront(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte("{not json"), 0o600)
	for name, path := range map[string]string{
		"corrupt":     corrupt,
		"directory":   dir,
		"missing dir": filepath.Join(dir, "nope", "state.json"),
		"unwritable":  "/proc/self/deliverdoctor-state.json", // no file can be created there, even by root
	} {
		if _, _, err := Open(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, st, err := Open(filepath.Join(dir, "new.json")); err != nil || len(st.Targets) != 0 {
		t.Errorf("a new file: %v", err)
	}
}
