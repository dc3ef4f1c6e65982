package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// runCLI runs the command with fake streams and returns stdout, stderr and
// the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

const cliZone = `
good.example.   300 IN MX 10 mx.good.example.
mx.good.example. 300 IN A 203.0.114.10
nomail.example. 300 IN TXT "v=spf1 -all"
nullmx.example. 300 IN MX 0 .
evil.example.   300 IN MX 10 mx.good.example.
evil.example.   300 IN TXT "\027[2J\027[31mowned\027]0;title\007"
`

func init() {
	// A check used only by these tests: it shows the domain's TXT records
	// as evidence, the way SPF and DMARC findings do.
	check.Register(check.Checker{
		Name: "test-txt",
		Applies: func(t target.Target, o *check.Options) bool {
			return len(o.Only) > 0 && o.Only[0] == "test-txt"
		},
		Run: func(ctx context.Context, t target.Target, env *check.Env) findings.CheckResult {
			txt, _, err := dnsx.LookupTXT(ctx, env.Resolver, t.Name)
			if err != nil {
				return check.ErrorResult("test-txt", "could not look up TXT", err, "TXT of "+t.Name)
			}
			return findings.CheckResult{Status: findings.StatusWarn, Summary: strings.Join(txt, " "),
				Findings: []findings.Finding{{ID: "test-txt.shown", Severity: findings.SeverityWarn, Title: "TXT", Evidence: txt}}}
		},
	})
}

func TestCheckExitCodes(t *testing.T) {
	srv := dnstest.Start(t, cliZone)
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("slow.example", dnstest.Behavior{Drop: true})
	r := "--resolver=" + srv.Addr()
	tests := []struct {
		args   []string
		code   int
		status string
	}{
		{[]string{"check", "good.example", r, "--checks", "mx"}, 0, "pass"},
		{[]string{"check", "nullmx.example", r, "--checks", "mx"}, 1, "fail"},
		{[]string{"check", "nomail.example", r, "--checks", "mx"}, 1, "fail"},
		{[]string{"check", "missing.example", r, "--checks", "mx"}, 1, "fail"},
		{[]string{"check", "servfail.example", r, "--checks", "mx"}, 3, "error"},
		{[]string{"check", "slow.example", r, "--checks", "mx", "--timeout", "100ms"}, 3, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.args[1], func(t *testing.T) {
			out, stderr, code := runCLI(t, append(tt.args, "--format", "json")...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr=%s out=%s", code, tt.code, stderr, out)
			}
			var rep report.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if string(rep.Status) != tt.status {
				t.Errorf("status %s, want %s", rep.Status, tt.status)
			}
			if tt.status == "error" {
				for _, f := range rep.Findings {
					if strings.Contains(f.ID, "nxdomain") || strings.Contains(f.ID, "no-mail-host") {
						t.Errorf("DNS failure reported as missing record: %s", f.ID)
					}
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"check", "exa mple.com"},
		{"check", "https://example.com/"},
		{"check"},
		{"check", "example.com", "--fail-on", "maybe"},
		{"check", "example.com", "--format", "yaml"},
		{"check", "example.com", "--ip", "not-an-ip"},
		{"check", "example.com", "--checks", "nope"},
		{"nosuchcommand"},
		{"check", "example.com", "--zone", "/nonexistent/zone"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "deliverdoctor: ") {
			t.Errorf("%v: want one error line, got %q", args, stderr)
		}
	}
}

func TestFailOnWarn(t *testing.T) {
	_, _, code := runCLI(t, "check", "example.com", "--zone", "../../examples/example.com.zone", "--offline", "--checks", "mx")
	if code != 0 {
		t.Errorf("warn with --fail-on fail: exit %d", code)
	}
	_, _, code = runCLI(t, "check", "example.com", "--zone", "../../examples/example.com.zone", "--offline", "--checks", "mx", "--fail-on", "warn")
	if code != 1 {
		t.Errorf("warn with --fail-on warn: exit %d", code)
	}
}

func TestOfflineZoneSendsNothing(t *testing.T) {
	out, stderr, code := runCLI(t, "check", "example.com", "--zone", "../../examples/example.com.zone", "--offline", "--format", "json")
	if code == 2 || code == 3 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.DNS == nil || rep.DNS.Sent != 0 || rep.DNS.ZoneHits == 0 {
		t.Errorf("dns stats %+v: want zone answers and no packets", rep.DNS)
	}
}

func TestHostileTXTIsInert(t *testing.T) {
	srv := dnstest.Start(t, cliZone)
	out, _, _ := runCLI(t, "check", "evil.example", "--resolver", srv.Addr(), "--checks", "test-txt")
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("terminal escape reached the output: %q", out)
	}
	if !strings.Contains(out, `\x1b[31mowned`) {
		t.Errorf("escaped text not shown: %q", out)
	}
	out, _, _ = runCLI(t, "check", "evil.example", "--resolver", srv.Addr(), "--checks", "test-txt", "--format", "json")
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("raw escape in JSON: %q", out)
	}
}

// TestJSONContract decodes the report into the shape docs/contracts.md documents and
// checks every field.
func TestJSONContract(t *testing.T) {
	srv := dnstest.Start(t, cliZone)
	out, _, _ := runCLI(t, "check", "Bob@NullMX.example", "--resolver", srv.Addr(), "--format", "json")
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	str := func(raw json.RawMessage, field string) string {
		t.Helper()
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s: not a string: %s", field, raw)
		}
		return s
	}
	for _, f := range []string{"schema", "target", "kind", "status", "duration_ms", "checks", "findings"} {
		if _, ok := doc[f]; !ok {
			t.Fatalf("missing field %q", f)
		}
	}
	if s := str(doc["schema"], "schema"); s != "deliverdoctor.report/v1" {
		t.Errorf("schema %q", s)
	}
	if s := str(doc["target"], "target"); s != "nullmx.example" {
		t.Errorf("target %q", s)
	}
	if s := str(doc["kind"], "kind"); s != "domain" {
		t.Errorf("kind %q", s)
	}
	statuses := []string{"pass", "warn", "fail", "error", "skip"}
	if s := str(doc["status"], "status"); !contains(statuses, s) {
		t.Errorf("status %q", s)
	}
	var ms float64
	if err := json.Unmarshal(doc["duration_ms"], &ms); err != nil || ms < 0 {
		t.Errorf("duration_ms %s", doc["duration_ms"])
	}
	var checks []map[string]json.RawMessage
	if err := json.Unmarshal(doc["checks"], &checks); err != nil || len(checks) == 0 {
		t.Fatalf("checks: %v", err)
	}
	names := []string{"mx", "spf", "dkim", "dmarc", "rbl", "relay", "ptr", "smtp", "mta-sts", "tls-rpt", "bimi", "dnssec", "dane", "profile"}
	for _, c := range checks {
		if n := str(c["name"], "checks[].name"); !contains(names, n) {
			t.Errorf("check name %q not in the contract", n)
		}
		if s := str(c["status"], "checks[].status"); !contains(statuses, s) {
			t.Errorf("check status %q", s)
		}
		str(c["summary"], "checks[].summary")
		var data map[string]any
		if err := json.Unmarshal(c["data"], &data); err != nil || data == nil {
			t.Errorf("checks[].data is not an object: %s", c["data"])
		}
	}
	var found []map[string]json.RawMessage
	if err := json.Unmarshal(doc["findings"], &found); err != nil || len(found) == 0 {
		t.Fatalf("findings: %v (%d)", err, len(found))
	}
	for _, f := range found {
		id := str(f["id"], "id")
		if id != strings.ToLower(id) || !strings.Contains(id, ".") {
			t.Errorf("finding id %q is not dotted lower-case", id)
		}
		if c := str(f["check"], "check"); !strings.HasPrefix(id, c+".") {
			t.Errorf("finding %s has check %q", id, c)
		}
		if s := str(f["severity"], "severity"); !contains([]string{"info", "warn", "fail", "error"}, s) {
			t.Errorf("severity %q", s)
		}
		if str(f["title"], "title") == "" {
			t.Error("empty title")
		}
		if raw, ok := f["bounce_codes"]; ok {
			var codes []string
			if err := json.Unmarshal(raw, &codes); err != nil {
				t.Errorf("bounce_codes: %v", err)
			}
			for _, c := range codes {
				if !enhancedCode.MatchString(c) {
					t.Errorf("bounce code %q is not RFC 3463 syntax", c)
				}
			}
		}
		for _, k := range []string{"evidence", "refs"} {
			if raw, ok := f[k]; ok {
				var ss []string
				if err := json.Unmarshal(raw, &ss); err != nil {
					t.Errorf("%s: %v", k, err)
				}
			}
		}
	}
}
