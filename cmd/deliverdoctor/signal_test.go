package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// TestMain lets the test binary play deliverdoctor in a subprocess, so
// signal tests send real signals to a real process.
func TestMain(m *testing.M) {
	if os.Getenv("DELIVERDOCTOR_TEST_AS_CLI") == "1" {
		os.Exit(run(os.Args[1:], newStdIO()))
	}
	os.Exit(m.Run())
}

// cliProcess starts the CLI as a subprocess with args.
func cliProcess(t *testing.T, stdin string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DELIVERDOCTOR_TEST_AS_CLI=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb // read only after Wait
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &out, &errb
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// waitForLines waits until path has at least n complete lines.
func waitForLines(t *testing.T, path string, n int) {
	t.Helper()
	for i := 0; i < 600; i++ {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte("\n")) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never had %d lines", path, n)
}

// readReports parses a jsonl file; every line must be a complete report.
func readReports(t *testing.T, path string) []report.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var reps []report.Report
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r report.Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Schema == "" {
			t.Fatalf("not a complete report: %v: %q", err, sc.Text())
		}
		reps = append(reps, r)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends in a torn line", path)
	}
	return reps
}

// A signal stops a batch cleanly: no new target, the ones in flight finish
// or write nothing (never a made-up error report), complete lines only, a
// summary, and 130 for SIGINT, 143 for SIGTERM.
func TestBatchSignals(t *testing.T) {
	t.Parallel() // waits on DNS timeouts or a grace period; servers and files of its own
	zone, names := batchZone(300)
	srv := dnstest.Start(t, zone)
	// The first targets are answered at once, so a report is written; the
	// server never answers for the others, and their questions (3 × the 5 s
	// --timeout) outlast the 2 s grace, so the targets in flight at the
	// signal are cut off.
	const fast = 4
	for _, n := range names[fast:] {
		srv.Set(n, dnstest.Behavior{Drop: true})
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel() // separate processes and output files; one server
			outFile := filepath.Join(t.TempDir(), "out.jsonl")
			cmd, stdout, stderr := cliProcess(t, strings.Join(names, "\n"), "check", "--input", "-", "--resolver", srv.Addr(),
				"--checks", "mx", "--timeout", "5s", "-j", "16", "--output", outFile)
			waitForLines(t, outFile, 1)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			code := exitCode(cmd.Wait())
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, stderr)
			}
			reps := readReports(t, outFile)
			if len(reps) == 0 || len(reps) > fast {
				t.Fatalf("%d reports, want 1 to %d: the signal did not stop the run", len(reps), fast)
			}
			for _, r := range reps {
				if r.Status == findings.StatusError {
					t.Errorf("%s written as error: a target cut off must write nothing", r.Target)
				}
			}
			if !strings.Contains(stdout.String(), "summary: ") || !strings.Contains(stdout.String(), "interrupted") {
				t.Errorf("no summary: stdout %q stderr %q", stdout, stderr)
			}
		})
	}
}

// --resume after a kill: the targets complete in the output are skipped,
// the rest appended; the union is a full run's, with no duplicates, and a
// torn last line (SIGKILL during a write) is cut off.
func TestBatchResume(t *testing.T) {
	t.Parallel() // waits on DNS timeouts or a grace period; servers and files of its own
	zone, names := batchZone(120)
	srv := dnstest.Start(t, zone)
	// The first dozen targets are answered, the others not (until the
	// resume): the kill after ten reports always finds the run unfinished.
	const answered = 12
	for _, n := range names[answered:] {
		srv.Set(n, dnstest.Behavior{Drop: true})
	}
	outFile := filepath.Join(t.TempDir(), "out.jsonl")
	input := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(input, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--input", input, "--resolver", srv.Addr(), "--checks", "mx", "-j", "4", "--output", outFile}
	cmd, _, _ := cliProcess(t, "", args...)
	waitForLines(t, outFile, 10)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	first := readReports(t, outFile)
	if len(first) >= len(names) {
		t.Fatalf("the run finished before the kill (%d reports)", len(first))
	}
	// A torn line, as a SIGKILL in the middle of a write leaves.
	f, _ := os.OpenFile(outFile, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, `{"schema":"deliverdoctor.report/v1","target":"%s","sta`, names[len(names)-1])
	f.Close()

	for _, n := range names[answered:] {
		srv.Set(n, dnstest.Behavior{})
	}
	srv.ResetLog()
	out, stderr, code := runCLI(t, append(args, "--resume")...)
	if code != 1 {
		t.Errorf("resume: exit %d (100-fail targets exist): %s %s", code, out, stderr)
	}
	if !strings.Contains(out, fmt.Sprintf("summary: 120 targets, 12 fail, 108 pass (%d from the earlier run)", len(first))) {
		t.Errorf("summary: %s", out)
	}
	all := readReports(t, outFile)
	var got []string
	for _, r := range all {
		got = append(got, r.Target)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("union of the runs is not the list once (%d reports)", len(got))
	}
	// The resumed run asked only about the targets it had not done.
	for _, r := range first {
		if n := srv.Count(r.Target, dns.TypeMX); n != 0 {
			t.Errorf("%s asked again (%d times) although complete", r.Target, n)
		}
	}
	// Nothing left: resuming again checks nothing and keeps the file.
	out, _, _ = runCLI(t, append(args, "--resume")...)
	if !strings.Contains(out, "summary: 120 targets") || len(readReports(t, outFile)) != 120 {
		t.Errorf("second resume: %s", out)
	}
	if _, _, code := runCLI(t, "check", "a.example", "--resume"); code != 2 {
		t.Errorf("--resume without --output: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "notreports")
	os.WriteFile(bad, []byte("hello\n"), 0o644)
	if _, stderr, code := runCLI(t, "check", "a.example", "--output", bad, "--resume"); code != 2 || !strings.Contains(stderr, "not a deliverdoctor report") {
		t.Errorf("resume into a foreign file: exit %d %s", code, stderr)
	}
}
