package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/batch"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

// batchZone makes n domains: most with an MX, every 10th with a null MX.
func batchZone(n int) (zone string, names []string) {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d := fmt.Sprintf("d%04d.example", i)
		names = append(names, d)
		if i%10 == 0 {
			fmt.Fprintf(&b, "%s 300 IN MX 0 .\n", d)
			continue
		}
		fmt.Fprintf(&b, "%s 300 IN MX 10 mx.%s\nmx.%s 300 IN A 203.0.114.%d\n", d, d, d, i%250+1)
	}
	return b.String(), names
}

func runCLIIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func jsonlTargets(t *testing.T, out string) []string {
	t.Helper()
	var targets []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r report.Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line is not a report: %v: %s", err, sc.Text())
		}
		targets = append(targets, r.Target)
	}
	sort.Strings(targets)
	return targets
}

func TestBatch1000(t *testing.T) {
	zone, names := batchZone(1000)
	srv := dnstest.Start(t, zone)
	input := "# customers\n" + strings.Join(names, "\n") + "\nd0001.example # duplicate\n\nnot a domain\n"
	out, stderr, code := runCLIIn(t, input, "check", "--input", "-", "--resolver", srv.Addr(), "--checks", "mx", "--format", "jsonl", "-j", "64")
	if code != 1 {
		t.Errorf("exit %d, want 1 (failures outrank the invalid input line)", code)
	}
	if !strings.Contains(stderr, "line 1004") || !strings.Contains(stderr, "summary: 1000 targets, 100 fail, 900 pass") ||
		!strings.Contains(stderr, "dns "+srv.Addr()+": ") || !strings.Contains(stderr, " timed out, ") {
		t.Errorf("stderr: %s", stderr)
	}
	got := jsonlTargets(t, out)
	if len(got) != 1000 {
		t.Fatalf("%d reports, want 1000", len(got))
	}
	for i, n := range names {
		if got[i] != n {
			t.Fatalf("report %d is %s, want %s", i, got[i], n)
		}
	}
	// Every (name, type) needed was asked: MX for each domain, A+AAAA for
	// each MX host. Under heavy load a UDP answer can miss the timeout and
	// be retried; that is a retry, not a second question, so count distinct
	// questions (TestCoalescing in dnsx proves one packet per question).
	distinct := map[string]bool{}
	for _, q := range srv.Queries() {
		distinct[fmt.Sprintf("%s/%d", q.Name, q.Type)] = true
	}
	if want := 1000 + 900*2; len(distinct) != want {
		t.Errorf("server saw %d distinct questions, want %d", len(distinct), want)
	}
	if extra := srv.Total() - len(distinct); extra > 0 {
		t.Logf("%d retries under load", extra)
	}
}

func TestShardsSplitDeterministically(t *testing.T) {
	zone, names := batchZone(200)
	srv := dnstest.Start(t, zone)
	input := strings.Join(names, "\n")
	var all []string
	for i := 0; i < 3; i++ {
		out, stderr, _ := runCLIIn(t, input, "check", "--input", "-", "--resolver", srv.Addr(), "--checks", "mx", "--format", "jsonl", "--shard", fmt.Sprintf("%d/3", i))
		if stderr == "" {
			t.Error("no summary")
		}
		part := jsonlTargets(t, out)
		if len(part) < 40 || len(part) > 95 {
			t.Errorf("shard %d has %d targets: badly balanced", i, len(part))
		}
		// The same shard of a reordered list is the same set.
		rev := append([]string(nil), names...)
		sort.Sort(sort.Reverse(sort.StringSlice(rev)))
		out2, _, _ := runCLIIn(t, strings.Join(rev, "\n"), "check", "--input", "-", "--resolver", srv.Addr(), "--checks", "mx", "--format", "jsonl", "--shard", fmt.Sprintf("%d/3", i))
		if strings.Join(jsonlTargets(t, out2), ",") != strings.Join(part, ",") {
			t.Errorf("shard %d depends on input order", i)
		}
		all = append(all, part...)
	}
	sort.Strings(all)
	if strings.Join(all, ",") != strings.Join(names, ",") {
		t.Errorf("shards do not cover the list exactly once (%d targets)", len(all))
	}
	for _, bad := range []string{"3/3", "x/2", "1", "-1/2", "0/0"} {
		if _, _, code := runCLIIn(t, "", "check", "a.example", "--shard", bad); code != 2 {
			t.Errorf("--shard %s: exit %d", bad, code)
		}
	}
}

func TestOnlyOnChange(t *testing.T) {
	srv := dnstest.Start(t, "a.example 300 IN MX 10 mx.a.example\nmx.a.example 300 IN A 203.0.114.1\n")
	statePath := filepath.Join(t.TempDir(), "state.json")
	args := []string{"check", "a.example", "--resolver", srv.Addr(), "--checks", "mx", "--state", statePath, "--only-on-change"}
	out, stderr, code := runCLI(t, args...)
	if code != 0 || out != "" {
		t.Fatalf("first clean run: exit %d out=%q err=%q", code, out, stderr)
	}
	// The domain breaks: its MX host disappears.
	srv2 := dnstest.Start(t, "a.example 300 IN MX 10 mx.a.example\n")
	args[3] = srv2.Addr()
	out, _, code = runCLI(t, args...)
	if code != 1 || !strings.Contains(out, "a.example changed: 1 new, 0 resolved") || !strings.Contains(out, "mx.target-unresolvable") {
		t.Fatalf("change not reported: exit %d out=%s", code, out)
	}
	out, _, code = runCLI(t, args...)
	if code != 0 || out != "" {
		t.Fatalf("unchanged run not silent: exit %d out=%q", code, out)
	}
	args[3] = srv.Addr()
	out, _, code = runCLI(t, args...)
	if code != 1 || !strings.Contains(out, "0 new, 1 resolved") {
		t.Fatalf("fix not reported: exit %d out=%s", code, out)
	}
	b, _ := os.ReadFile(statePath)
	if !json.Valid(b) {
		t.Error("state file is not JSON")
	}
	if _, _, code := runCLI(t, "check", "a.example", "--only-on-change"); code != 2 {
		t.Error("--only-on-change without --state accepted")
	}
	if _, _, code := runCLI(t, "check", "a.example", "--mail-to", "x@example.com"); code != 2 {
		t.Error("--mail-to without --smtp-server accepted")
	}
}

func TestFormatsForBatch(t *testing.T) {
	zone, names := batchZone(5)
	srv := dnstest.Start(t, zone)
	for _, format := range report.Formats() {
		out, _, _ := runCLI(t, append([]string{"check", "--resolver", srv.Addr(), "--checks", "mx", "--format", format}, names...)...)
		for _, n := range names {
			if !strings.Contains(out, n) {
				t.Errorf("%s output lacks %s", format, n)
			}
		}
		if format == "json" {
			// A batch is one documented object, however many targets.
			var doc struct {
				Schema  string          `json:"schema"`
				Reports []report.Report `json:"reports"`
				Summary struct {
					Targets  int            `json:"targets"`
					ByStatus map[string]int `json:"by_status"`
				} `json:"summary"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Reports) != 5 || doc.Schema != BatchSchema || doc.Summary.Targets != 5 {
				t.Errorf("json batch: %v (%d reports, schema %q): %s", err, len(doc.Reports), doc.Schema, out)
			}
		}
	}
}

func TestMailReport(t *testing.T) {
	srv := dnstest.Start(t, "a.example 300 IN MX 0 .\n")
	sink := smtptest.StartSink(t, nil, nil)
	_, stderr, code := runCLI(t, "check", "a.example", "--resolver", srv.Addr(), "--checks", "mx",
		"--mail-to", "admin@example.com,ops@example.com", "--smtp-server", sink.Addr.String(), "--smtp-tls", "none", "--report-from", "dd@example.com")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 2 {
		t.Fatalf("messages: %+v", msgs)
	}
	if !bytes.Contains(msgs[0].Data, []byte("Subject: deliverdoctor: 1 failure on a.example")) || !bytes.Contains(msgs[0].Data, []byte("multipart/alternative")) {
		t.Errorf("message:\n%s", msgs[0].Data)
	}
	// The password never comes from a flag.
	if _, _, code := runCLI(t, "check", "a.example", "--smtp-password", "x"); code != 2 {
		t.Error("--smtp-password flag exists")
	}
}

// A change that could not be mailed is not forgotten: the state file stays
// as it was, so the next run (with the mail server back) reports it again.
func TestOnlyOnChangeMailFailureKeepsState(t *testing.T) {
	srv := dnstest.Start(t, "a.example 300 IN MX 0 .\n")
	statePath := filepath.Join(t.TempDir(), "state.json")
	args := func(server string) []string {
		return []string{"check", "a.example", "--resolver", srv.Addr(), "--checks", "mx", "--state", statePath, "--only-on-change",
			"--mail-to", "admin@example.com", "--smtp-server", server, "--smtp-tls", "none", "--report-from", "dd@example.com"}
	}
	down := closedPort(t)
	_, stderr, code := runCLI(t, args(down)...)
	if code != 3 || !strings.Contains(stderr, "mailing the report") || !strings.Contains(stderr, "state file was not updated") {
		t.Fatalf("mail server down: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatalf("state written although the change was not mailed: %v", err)
	}
	sink := smtptest.StartSink(t, nil, nil)
	out, stderr, code := runCLI(t, args(sink.Addr.String())...)
	if code != 1 || !strings.Contains(out, "a.example changed") {
		t.Fatalf("change lost after a failed mail: exit %d out %q err %q", code, out, stderr)
	}
	if msgs := sink.Messages(); len(msgs) != 1 || !bytes.Contains(msgs[0].Data, []byte("mx.null-mx")) {
		t.Fatalf("messages: %d", len(msgs))
	}
	if _, _, code := runCLI(t, args(sink.Addr.String())...); code != 0 || len(sink.Messages()) != 1 {
		t.Errorf("unchanged run after the mail: exit %d, %d messages", code, len(sink.Messages()))
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A state file that cannot be used stops the run before its first DNS
// question (and before any mail), with exit 2.
func TestStateProblemsUpFront(t *testing.T) {
	srv := dnstest.Start(t, "a.example 300 IN MX 0 .\n")
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte("{"), 0o600)
	for name, path := range map[string]string{
		"corrupt":     corrupt,
		"directory":   dir,
		"missing dir": filepath.Join(dir, "nope", "state.json"),
		"unwritable":  "/proc/self/deliverdoctor-state.json",
	} {
		srv.ResetLog()
		_, stderr, code := runCLI(t, "check", "a.example", "--resolver", srv.Addr(), "--checks", "mx", "--state", path)
		if code != 2 || !strings.Contains(stderr, "--state") || srv.Total() != 0 {
			t.Errorf("%s: exit %d, %d DNS questions, stderr %q", name, code, srv.Total(), stderr)
		}
	}
}

// --smtp-tls none with a user to a host that is not loopback is refused
// before any DNS work: the password would cross the network in clear.
func TestClearTextAuthRefusedUpFront(t *testing.T) {
	srv := dnstest.Start(t, "a.example 300 IN MX 0 .\n")
	var out, errb bytes.Buffer
	code := run([]string{"check", "a.example", "--resolver", srv.Addr(), "--checks", "mx", "--mail-to", "admin@example.com",
		"--smtp-server", "192.0.2.25:25", "--smtp-tls", "none", "--smtp-user", "cron", "--report-from", "dd@example.com"},
		&IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: func(k string) string {
			if k == passwordEnv {
				return "s3cret"
			}
			return ""
		}})
	if code != 2 || !strings.Contains(errb.String(), "in clear") || srv.Total() != 0 {
		t.Errorf("exit %d, %d DNS questions, stderr %q", code, srv.Total(), errb.String())
	}
}

// On a terminal the progress bar stays on screen between reports: after a
// report is written the bar is drawn again (not drawn and cleared at once,
// which left it invisible), and the batch ends with the failing targets
// and the counts.
func TestProgressBarVisible(t *testing.T) {
	var out, errb bytes.Buffer
	app := &App{IO: &IO{Out: &out, Err: &errb, ErrTTY: true, Env: func(string) string { return "" }}, Format: "text", FailOn: "fail"}
	b := &batchRun{app: app, multi: true, total: 3}
	if err := b.start(); err != nil {
		t.Fatal(err)
	}
	shown := func() string {
		s := errb.String()
		if i := strings.LastIndexByte(s, '\r'); i >= 0 {
			s = s[i+1:]
		}
		return strings.TrimSpace(s)
	}
	for i, st := range []findings.Status{findings.StatusPass, findings.StatusFail, findings.StatusError} {
		r := &report.Report{Target: fmt.Sprintf("d%d.example", i), Status: st, Checks: []findings.CheckResult{{Name: "mx", Status: st}}}
		if err := b.emit(r); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			break // the last one completes the bar, which then clears itself
		}
		if got := shown(); !strings.Contains(got, "checking") || !strings.Contains(got, fmt.Sprintf("%d/3", i+1)) {
			t.Fatalf("after report %d the terminal shows %q, want the bar", i+1, got)
		}
	}
	sum := batch.NewSummary(0)
	sum.Add(&report.Report{Target: "d1.example", Status: findings.StatusFail, Checks: []findings.CheckResult{{Name: "mx", Status: findings.StatusFail}}}, findings.StatusFail)
	sum.Add(&report.Report{Target: "d2.example", Status: findings.StatusError, Checks: []findings.CheckResult{{Name: "mx", Status: findings.StatusError}}}, findings.StatusFail)
	if err := b.finish(sum); err != nil {
		t.Fatal(err)
	}
	tail := out.String()[strings.Index(out.String(), "failing targets"):]
	if !strings.HasPrefix(tail, "failing targets (fail first, then error):\n  fail   d1.example  mx\n  error  d2.example  mx\nsummary: 2 targets, 1 fail, 1 error") {
		t.Errorf("end of the batch:\n%s", tail)
	}
}

// An emptied list fails loudly (a cron job must not stay green), and a
// directory given as --input gets a message about directories, not "line 1".
func TestInputFriction(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("# all customers moved away\n\n   \n"), 0o644)
	for _, args := range [][]string{{"--input", empty}, {"--input", "-"}} {
		_, stderr, code := runCLIIn(t, "# nothing\n", append([]string{"check", "--offline"}, args...)...)
		if code != 2 || !strings.Contains(stderr, "has no targets") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	_, stderr, code := runCLI(t, "check", "--offline", "--input", dir)
	if code != 2 || strings.Contains(stderr, "line 1") || !strings.Contains(stderr, "is a directory") {
		t.Errorf("--input DIR: exit %d, stderr %q", code, stderr)
	}
	// One target from --input is still a batch: one documented json shape.
	srv := dnstest.Start(t, "a.example 300 IN MX 0 .\n")
	out, _, _ := runCLIIn(t, "a.example\n", "check", "--input", "-", "--resolver", srv.Addr(), "--checks", "mx", "--format", "json")
	var doc struct {
		Schema  string            `json:"schema"`
		Reports []json.RawMessage `json:"reports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Schema != BatchSchema || len(doc.Reports) != 1 {
		t.Errorf("json batch of one: %v %s", err, out)
	}
	// A single target given as an argument stays the report/v1 object.
	out, _, _ = runCLI(t, "check", "a.example", "--resolver", srv.Addr(), "--checks", "mx", "--format", "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Schema != report.Schema || rep.Target != "a.example" {
		t.Errorf("single target json: %v %s", err, out)
	}
}
