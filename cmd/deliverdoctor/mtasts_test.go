package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

func TestMTASTSCommand(t *testing.T) {
	srv := dnstest.Start(t, `
sts.example.          300 IN MX 10 mx1.sts.example.
sts.example.          300 IN MX 20 mx2.sts.example.
_mta-sts.sts.example. 300 IN TXT "v=STSv1; id=20240101"
_smtp._tls.sts.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@sts.example"
`)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.txt", "version: STSv1\nmode: enforce\nmx: *.sts.example\nmax_age: 604800\n")
	bad := write("bad.txt", "version: STSv1\nmode: enforce\nmx: mx.old.example\nmax_age: 604800\n")
	r := "--resolver=" + srv.Addr()

	out, _, code := runCLI(t, "mta-sts", "sts.example", r, "--policy", good, "--no-color")
	if code != 0 || !strings.Contains(out, "mx2.sts.example  yes (*.sts.example)") || !strings.Contains(out, "2/2 MX hosts match") {
		t.Fatalf("good policy: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "mta-sts", "sts.example", r, "--policy", bad, "--format", "json")
	if code != 1 {
		t.Fatalf("mismatched enforce policy: exit %d\n%s", code, out)
	}
	var rep struct {
		Status   string                          `json:"status"`
		Checks   []struct{ Name, Status string } `json:"checks"`
		Findings []struct {
			ID          string   `json:"id"`
			Check       string   `json:"check"`
			BounceCodes []string `json:"bounce_codes"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Status != "fail" || len(rep.Checks) != 2 || rep.Checks[0].Name != "mta-sts" || rep.Checks[1].Name != "tls-rpt" ||
		rep.Findings[0].ID != "mta-sts.mx-mismatch" || rep.Findings[0].Check != "mta-sts" || rep.Findings[0].BounceCodes[0] != "4.7.5" {
		t.Fatalf("report: %+v", rep)
	}
	// --offline: the record is checked, the policy not fetched: a skip.
	_, _, code = runCLI(t, "mta-sts", "sts.example", r, "--offline")
	if code != 0 {
		t.Fatalf("--offline: exit %d", code)
	}
	for _, args := range [][]string{
		{"mta-sts", "192.0.2.1"},
		{"mta-sts", "sts.example", "--url", "http://mta-sts.sts.example/x"},
		{"mta-sts", "sts.example", "--policy", filepath.Join(dir, "missing.txt")},
		{"mta-sts", "sts.example", "--policy", good, "--url", "https://x.example/"},
	} {
		if _, errOut, code := runCLI(t, append(args, r)...); code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
