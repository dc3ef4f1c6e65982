package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

const rblCLIZone = `
1.2.0.192.zen.spamhaus.org.     60 IN A   127.0.0.2
1.2.0.192.zen.spamhaus.org.     60 IN TXT "Listed by SBL, see https://check.spamhaus.org/sbl/query/SBL999 \027[31m\007"
3.2.0.192.zen.spamhaus.org.     60 IN A   127.255.255.254
6.2.0.192.dnsbl-2.uceprotect.net. 60 IN A 127.0.0.2
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org. 60 IN A 127.0.0.3
shop.example.                   300 IN MX 10 mx.shop.example.
shop.example.                   300 IN TXT "v=spf1 ip4:192.0.2.1 -all"
mx.shop.example.                300 IN A  192.0.2.9
shop.example.dbl.spamhaus.org.  60 IN A   127.0.1.2
`

type rblJSON struct {
	Schema  string `json:"schema"`
	Target  string `json:"target"`
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Summary string `json:"summary"`
	Checked []struct {
		Value   string   `json:"value"`
		Kind    string   `json:"kind"`
		Sources []string `json:"sources"`
	} `json:"checked"`
	Results []struct {
		List     string   `json:"list"`
		ListID   string   `json:"list_id"`
		Zone     string   `json:"zone"`
		Checked  string   `json:"checked"`
		Status   string   `json:"status"`
		Codes    []string `json:"codes"`
		Meanings []string `json:"meanings"`
		TXT      []string `json:"txt"`
		Delist   string   `json:"delist"`
		Reason   string   `json:"reason"`
	} `json:"results"`
	Counts   map[string]int     `json:"counts"`
	Findings []findings.Finding `json:"findings"`
}

func rblJSONRun(t *testing.T, args ...string) (rblJSON, int) {
	t.Helper()
	out, stderr, code := runCLI(t, append(args, "--format", "json")...)
	var doc rblJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: not JSON (%v): %s / %s", args, err, out, stderr)
	}
	if doc.Schema != "deliverdoctor.rbl/v1" {
		t.Errorf("schema %q", doc.Schema)
	}
	return doc, code
}

func TestRBLCommand(t *testing.T) {
	srv := dnstest.Start(t, rblCLIZone)
	srv.Set("7.2.0.192.zen.spamhaus.org", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	r := "--resolver=" + srv.Addr()
	zen := "--dnsbl=zen.spamhaus.org"
	tests := []struct {
		name   string
		args   []string
		code   int
		status string
		result string // status of the first result
	}{
		{"listed", []string{"rbl", "192.0.2.1", r, zen}, 1, "fail", "listed"},
		{"clean", []string{"rbl", "192.0.2.2", r, zen}, 0, "pass", "clean"},
		{"refused", []string{"rbl", "192.0.2.3", r, zen}, 3, "error", "error"},
		{"servfail", []string{"rbl", "192.0.2.7", r, zen}, 3, "error", "error"},
		{"minor", []string{"rbl", "192.0.2.6", r, "--lists=all"}, 0, "warn", ""},
		{"minor fail-on warn", []string{"rbl", "192.0.2.6", r, "--lists=all", "--fail-on=warn"}, 1, "warn", ""},
		{"ipv6", []string{"rbl", "2001:db8::25", r, zen}, 1, "fail", "listed"},
		{"domain", []string{"rbl", "shop.example", r, zen, "--dnsbl=dbl.spamhaus.org"}, 1, "fail", ""},
		{"offline", []string{"rbl", "127.0.0.2", "--offline"}, 0, "skip", "skip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, code := rblJSONRun(t, tt.args...)
			if code != tt.code || doc.Status != tt.status {
				t.Fatalf("exit %d status %s, want %d %s (%s)", code, doc.Status, tt.code, tt.status, doc.Summary)
			}
			if tt.result != "" && (len(doc.Results) == 0 || doc.Results[0].Status != tt.result) {
				t.Errorf("results %+v", doc.Results)
			}
		})
	}
}

func TestRBLCommandListedDetails(t *testing.T) {
	srv := dnstest.Start(t, rblCLIZone)
	doc, _ := rblJSONRun(t, "rbl", "192.0.2.1", "--resolver", srv.Addr(), "--dnsbl", "zen.spamhaus.org")
	res := doc.Results[0]
	if res.Zone != "zen.spamhaus.org" || res.Codes[0] != "127.0.0.2" || !strings.Contains(res.Meanings[0], "SBL") ||
		res.Delist != "https://check.spamhaus.org/" || !strings.Contains(res.TXT[0], "SBL999") {
		t.Errorf("result %+v", res)
	}
	// Raw reason text in JSON (escaped by the encoder), and the finding with bounce codes.
	if !strings.Contains(res.TXT[0], "\x1b[31m") {
		t.Errorf("TXT not kept raw in data: %q", res.TXT[0])
	}
	f := doc.Findings[0]
	if f.ID != "rbl.listed" || f.Check != "rbl" || len(f.BounceCodes) == 0 || f.BounceCodes[0] != "5.7.1" {
		t.Errorf("finding %+v", f)
	}
}

func TestRBLCommandDomainSources(t *testing.T) {
	srv := dnstest.Start(t, rblCLIZone)
	doc, code := rblJSONRun(t, "rbl", "shop.example", "--resolver", srv.Addr(), "--dnsbl", "zen.spamhaus.org", "--dnsbl", "dbl.spamhaus.org")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	src := map[string]string{}
	for _, c := range doc.Checked {
		src[c.Value] = strings.Join(c.Sources, "; ")
	}
	if src["192.0.2.9"] != "MX mx.shop.example (preference 10)" || src["192.0.2.1"] != "SPF ip4:192.0.2.1" || src["shop.example"] != "the domain checked" {
		t.Errorf("sources %v", src)
	}
	listed := 0
	for _, r := range doc.Results {
		if r.Status == "listed" {
			listed++
		}
	}
	if listed != 2 { // shop.example on DBL, 192.0.2.1 (from SPF) on ZEN
		t.Errorf("%d listed: %+v", listed, doc.Results)
	}
}

func TestRBLCommandText(t *testing.T) {
	srv := dnstest.Start(t, rblCLIZone)
	out, _, code := runCLI(t, "rbl", "192.0.2.1", "--resolver", srv.Addr(), "--dnsbl", "zen.spamhaus.org", "--dnsbl", "bl.spamcop.net")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	for _, want := range []string{"LIST", "CHECKED", "RESULT", "MEANING", "DELIST", "Spamhaus ZEN", "LISTED", "SBL", "https://check.spamhaus.org/", "SpamCop", "clean", "rbl.listed", "5.7.1", `\x1b[31m`} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("a terminal escape from a TXT record reached the output: %q", out)
	}

	out, _, _ = runCLI(t, "rbl", "127.0.0.2", "--offline")
	if !strings.Contains(out, "skipped") || !strings.Contains(out, "--offline") || strings.Contains(out, "clean") || strings.Contains(out, "not listed") {
		t.Errorf("offline must say skipped, never clean:\n%s", out)
	}

	out, _, code = runCLI(t, "rbl", "--show-lists")
	if code != 0 || !strings.Contains(out, "zen.spamhaus.org") || !strings.Contains(out, "KEY.combined.mail.abusix.zone") {
		t.Errorf("--show-lists (exit %d):\n%s", code, out)
	}
}

func TestRBLCommandOtherFormats(t *testing.T) {
	srv := dnstest.Start(t, rblCLIZone)
	for _, f := range []string{"markdown", "html", "csv", "jsonl"} {
		out, stderr, code := runCLI(t, "rbl", "192.0.2.1", "--resolver", srv.Addr(), "--dnsbl", "zen.spamhaus.org", "--format", f)
		if code != 1 || !strings.Contains(out, "192.0.2.1") || strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s: exit %d stderr %q out %q", f, code, stderr, out)
		}
	}
}

func TestRBLUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"rbl"},
		{"rbl", "exa mple.com"},
		{"rbl", "192.0.2.1", "--lists", "some"},
		{"rbl", "192.0.2.1", "--dnsbl", "not a zone"},
		{"rbl", "192.0.2.1", "--dnsbl", "url:bl.example.net"},
		{"rbl", "192.0.2.1", "--list-timeout", "0s"},
		{"rbl", "--show-lists", "192.0.2.1"},
		{"check", "192.0.2.1", "--dnsbl", "not a zone"},
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

func TestCheckRunsRBL(t *testing.T) {
	srv := dnstest.Start(t, rblCLIZone)
	out, _, code := runCLI(t, "check", "192.0.2.1", "--resolver", srv.Addr(), "--checks", "rbl", "--dnsbl", "zen.spamhaus.org", "--format", "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 1 || rep.Status != findings.StatusFail || len(rep.Checks) != 1 || rep.Checks[0].Name != "rbl" || rep.Findings[0].ID != "rbl.listed" {
		t.Errorf("exit %d report %+v", code, rep)
	}
}
