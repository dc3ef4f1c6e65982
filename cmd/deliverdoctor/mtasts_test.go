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

// The transport and brand checks run in `check` for a domain, with the
// statuses their records call for, and never reach beyond the test DNS.
func TestCheckTransportChecks(t *testing.T) {
	srv := dnstest.Start(t, `
tp.example.             300 IN MX 10 mx.tp.example.
mx.tp.example.          300 IN A 192.0.2.10
_mta-sts.tp.example.    300 IN TXT "v=STSv1; id=1"
_25._tcp.mx.tp.example. 300 IN TLSA 3 1 1 `+strings.Repeat("ab", 32)+`
_dmarc.tp.example.      300 IN TXT "v=DMARC1; p=reject"
default._bimi.tp.example. 300 IN TXT "v=BIMI1; l=; a=;"
`)
	for _, n := range []string{"tp.example", "mx.tp.example", "_25._tcp.mx.tp.example"} {
		srv.Set(n, dnstest.Behavior{AD: true})
	}
	r := "--resolver=" + srv.Addr()
	want := map[string]string{
		"mta-sts": "warn", // the record exists, mta-sts.tp.example does not
		"tls-rpt": "warn", // MTA-STS and DANE without reports
		"dnssec":  "pass",
		"dane":    "pass",
		"bimi":    "pass", // declined
	}
	out, _, _ := runCLI(t, "check", "tp.example", r, "--checks", "mta-sts,tls-rpt,dnssec,dane,bimi", "--format", "json")
	var rep struct {
		Checks   []struct{ Name, Status string } `json:"checks"`
		Findings []struct{ ID string }           `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]string{}
	for _, c := range rep.Checks {
		got[c.Name] = c.Status
	}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s = %q, want %q\n%s", name, got[name], st, out)
		}
	}
	ids := map[string]bool{}
	for _, f := range rep.Findings {
		ids[f.ID] = true
	}
	for _, id := range []string{"mta-sts.policy-host-missing", "tls-rpt.none", "bimi.declined"} {
		if !ids[id] {
			t.Errorf("missing finding %s", id)
		}
	}
}
