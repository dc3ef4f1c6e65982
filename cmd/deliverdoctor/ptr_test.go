package main

import (
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

func TestPTRCommand(t *testing.T) {
	out, stderr, code := runCLI(t, "ptr", "192.0.2.25", "--zone", "../../examples/2.0.192.in-addr.arpa.zone",
		"--zone", "../../examples/example.com.zone", "--offline")
	if code != 0 || !strings.Contains(out, "192.0.2.25  mx1.example.com  192.0.2.25  yes") {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	// The brief's end-to-end example: check an IP offline.
	out, _, code = runCLI(t, "check", "192.0.2.25", "--zone", "../../examples/2.0.192.in-addr.arpa.zone",
		"--zone", "../../examples/example.com.zone", "--offline", "--format", "json")
	if st, _ := decodeMXReport(t, out).check("ptr"); st != "pass" || code != 0 {
		t.Errorf("check IP: ptr %s exit %d", st, code)
	}

	srv := dnstest.Start(t, `
7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR 2001-db8-0-0-0-0-0-7.dyn.isp.example.
2001-db8-0-0-0-0-0-7.dyn.isp.example. 300 IN AAAA 2001:db8::7
`)
	out, _, code = runCLI(t, "ptr", "2001:db8::7", "2001:db8::8", "--resolver", srv.Addr(), "--format", "jsonl")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 2 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if r := decodeMXReport(t, lines[0]); !r.has("ptr.generic") || r.Status != "warn" {
		t.Errorf("generic IPv6 PTR: %s", lines[0])
	}
	if r := decodeMXReport(t, lines[1]); !r.has("ptr.missing") || r.Status != "fail" {
		t.Errorf("missing IPv6 PTR: %s", lines[1])
	}
	for _, args := range [][]string{{"ptr", "example.com"}, {"ptr"}, {"ptr", "1.2.3"}} {
		if _, _, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
