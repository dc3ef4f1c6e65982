package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

const spfZone = `
spf.example.      300 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.spf.example ~all"
_spf.spf.example. 300 IN TXT "v=spf1 ip6:2001:db8::/32 -all"
hard.example.     300 IN TXT "v=spf1 ip4:192.0.2.1 -all exp=why.hard.example"
why.hard.example. 300 IN TXT "%{i} is not a server of %{d}"
perm.example.     300 IN TXT "v=spf1 a:bad"
loop.example.     300 IN TXT "v=spf1 include:loop.example -all"
`

func TestSPFEvalJSONContract(t *testing.T) {
	srv := dnstest.Start(t, spfZone)
	srv.Set("tmp.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	r := "--resolver=" + srv.Addr()
	tests := []struct {
		domain, ip, result, mech, expl string
		code                           int
	}{
		{"spf.example", "192.0.2.7", "pass", "ip4:192.0.2.0/24", "", 0},
		{"spf.example", "2001:db8::5", "pass", "include:_spf.spf.example", "", 0},
		{"spf.example", "198.51.100.1", "softfail", "~all", "", 1},
		{"hard.example", "198.51.100.1", "fail", "-all", "198.51.100.1 is not a server of hard.example", 1},
		{"perm.example", "198.51.100.1", "permerror", "", "", 1},
		{"nothing.example", "198.51.100.1", "none", "", "", 0},
		{"tmp.example", "198.51.100.1", "temperror", "", "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.domain+"/"+tt.ip, func(t *testing.T) {
			out, stderr, code := runCLI(t, "spf", tt.domain, "--ip", tt.ip, r, "--format", "json", "--timeout", "300ms")
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %s)", code, tt.code, stderr)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for _, k := range []string{"domain", "ip", "result", "mechanism", "explanation", "lookups", "void_lookups"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("missing field %q in %s", k, out)
				}
			}
			var got struct {
				Domain, IP, Result, Mechanism, Explanation string
				Lookups                                    int
				VoidLookups                                int `json:"void_lookups"`
			}
			json.Unmarshal([]byte(out), &got)
			if got.Domain != tt.domain || got.IP != tt.ip || got.Result != tt.result || got.Mechanism != tt.mech || got.Explanation != tt.expl {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestSPFLintCommand(t *testing.T) {
	srv := dnstest.Start(t, spfZone)
	r := "--resolver=" + srv.Addr()
	out, _, code := runCLI(t, "spf", "spf.example", r)
	if code != 0 || !strings.Contains(out, "include:_spf.spf.example  [1 lookup]") || !strings.Contains(out, "1/10 lookups") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	out, _, code = runCLI(t, "spf", "loop.example", r, "--format", "json")
	var doc struct {
		Domain   string
		Lookups  int
		Status   string
		Tree     struct{ Children []struct{ Status string } }
		Findings []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if code != 1 || doc.Status != "fail" || len(doc.Tree.Children) != 1 || doc.Tree.Children[0].Status != "loop" {
		t.Errorf("exit %d: %+v", code, doc)
	}
	found := false
	for _, f := range doc.Findings {
		found = found || f.ID == "spf.include-loop"
	}
	if !found {
		t.Errorf("no spf.include-loop in %+v", doc.Findings)
	}
	// The README demo: offline, from the example zone.
	out, stderr, code := runCLI(t, "spf", "example.com", "--zone", "../../examples/example.com.zone", "--offline")
	if code != 0 || !strings.Contains(out, "v=spf1 mx include:_spf.example.com ~all") {
		t.Errorf("example zone: exit %d %s\n%s", code, stderr, out)
	}
	out, _, _ = runCLI(t, "spf", "example.com", "--zone", "../../examples/example.com.zone", "--offline", "--ip", "192.0.2.25", "-v")
	if !strings.Contains(out, "PASS") || !strings.Contains(out, "Evaluation:") {
		t.Errorf("offline --ip:\n%s", out)
	}
}

func TestSPFUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"spf"},
		{"spf", "exa mple.com"},
		{"spf", "example.com", "--ip", "300.1.1.1"},
		{"spf", "example.com", "--mail-from", "a@example.com"},
		{"spf", "example.com", "--ip", "192.0.2.1", "--mail-from", "nodomain"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestSPFInCheck(t *testing.T) {
	srv := dnstest.Start(t, spfZone)
	out, _, code := runCLI(t, "check", "hard.example", "--resolver", srv.Addr(), "--checks", "spf", "--ip", "198.51.100.1", "--format", "json")
	if code != 1 || !strings.Contains(out, `"spf.fail"`) || !strings.Contains(out, `"evaluation"`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestSPFTreeText: the include tree the spf command draws from the spf
// check's data (each record with its cost, each lookup with what it
// found), and the root's total counted as the lookup evidence counts it.
func TestSPFTreeText(t *testing.T) {
	srv := dnstest.Start(t, `
tree.example.       300 IN TXT "v=spf1 mx include:_spf.tree.example a:gone.tree.example ~all"
tree.example.       300 IN MX 10 mx.tree.example.
mx.tree.example.    300 IN A 192.0.2.1
_spf.tree.example.  300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
deep.example.       300 IN TXT "v=spf1 include:a.deep.example mx -all"
deep.example.       300 IN MX 10 mx.tree.example.
a.deep.example.     300 IN TXT "v=spf1 include:b.deep.example a:mx.tree.example -all"
b.deep.example.     300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
`)
	out, stderr, _ := runCLI(t, "spf", "tree.example", "--resolver", srv.Addr())
	want := `tree.example  [3 lookups, 1 void]
│   v=spf1 mx include:_spf.tree.example a:gone.tree.example ~all
├── mx  → 1 MX host(s): mx.tree.example
├── include:_spf.tree.example  [1 lookup]
│       v=spf1 ip4:192.0.2.0/24 -all
└── a:gone.tree.example  → gone.tree.example has no A or AAAA records (NXDOMAIN)  (void)
`
	if !strings.Contains(out, want) {
		t.Errorf("tree:\n%s%s\nwant:\n%s", out, stderr, want)
	}
	out, _, _ = runCLI(t, "spf", "deep.example", "--resolver", srv.Addr())
	if !strings.Contains(out, "deep.example  [4 lookups]") || !strings.Contains(out, "include:a.deep.example  [3 lookups]") {
		t.Errorf("tree:\n%s", out)
	}
}
