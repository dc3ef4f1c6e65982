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

const dmarcCLIZone = `
strict.example.          300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.strict.example.   300 IN TXT "v=DMARC1; p=reject; np=reject; rua=mailto:d@strict.example"
mail.strict.example.     300 IN A 192.0.2.10
esp.example.             300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
nodmarc.example.         300 IN TXT "v=spf1 -all"
evil.example.            300 IN A 192.0.2.1
_dmarc.evil.example.     300 IN TXT "v=DMARC1; p=none; rua=mailto:a@evil.example; x=\027[2J\027]0;pwned\007"
servfail.example.        300 IN A 192.0.2.1
nospf.example.           300 IN A 192.0.2.1
_dmarc.nospf.example.    300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@nospf.example"
s1._domainkey.keyed.example. 300 IN TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArcJVlh3fu1ofCgU87H8rTQe78XfTPd0OnYk8hF4SVg8jyRW14YOxnXP3REdata2EMb5N9W/vxziGQ//sxzE5S2QQA8w6QCMi9lWB/2rbGKuONZNOjySlwsdJVK9ebz1Z9tLRkofFI36sr6xYpy/jE4pyVqTMyeU+L042WYERWgui2EAd13gmVIyaB9+ldgwBMXwTfaDbap9cdUprEtKlSblLNPjV8sNsrI+1EaOQmHK1uq9+2HLo33ywev0IHUSJnjHGmcuMu4zpsxnvrSTpGU+RqTvk8dfBiL2B9XXWn2fY4v7ApdqSdWtpu/6Hb2pcz4FHCXM/NBhfnFN9nBDzsQIDAQAB"
_dmarc.keyed.example.    300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@keyed.example"
keyed.example.           300 IN A 192.0.2.1
`

func TestDMARCOfflineExampleZone(t *testing.T) {
	out, stderr, code := runCLI(t, "dmarc", "example.com", "--zone", "../../examples/example.com.zone", "--offline")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"_dmarc.example.com", "v=DMARC1; p=none", "tree walk", "dmarc.policy-none", "not asked (--offline)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, _, code = runCLI(t, "dmarc", "example.com", "--zone", "../../examples/example.com.zone", "--offline", "--fail-on", "warn")
	if code != 1 {
		t.Errorf("--fail-on warn: exit %d", code)
	}
}

func TestDMARCJSONContract(t *testing.T) {
	srv := dnstest.Start(t, dmarcCLIZone)
	out, stderr, code := runCLI(t, "dmarc", "Mail.Strict.Example", "--resolver", srv.Addr(), "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stderr, out)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"domain", "record", "found_at", "walk", "policy", "subdomain_policy", "nonexistent_policy", "org_domain", "findings", "status"} {
		if _, ok := doc[f]; !ok {
			t.Errorf("missing field %q", f)
		}
	}
	var got struct {
		Domain, Record, FoundAt, Policy, OrgDomain string
		SubdomainPolicy, NonexistentPolicy         string
		Walk                                       []struct{ Name, Status string }
		Findings                                   []findings.Finding
	}
	dec := map[string]any{}
	_ = json.Unmarshal([]byte(out), &dec)
	_ = json.Unmarshal([]byte(out), &got)
	got.FoundAt, _ = dec["found_at"].(string)
	got.OrgDomain, _ = dec["org_domain"].(string)
	got.SubdomainPolicy, _ = dec["subdomain_policy"].(string)
	got.NonexistentPolicy, _ = dec["nonexistent_policy"].(string)
	if got.Domain != "mail.strict.example" || got.FoundAt != "strict.example" || got.Policy != "reject" || got.OrgDomain != "strict.example" ||
		got.SubdomainPolicy != "reject" || got.NonexistentPolicy != "reject" {
		t.Errorf("got %+v", got)
	}
	if len(got.Walk) != 3 || got.Walk[0].Name != "_dmarc.mail.strict.example" || got.Walk[1].Status != "record" {
		t.Errorf("walk %+v", got.Walk)
	}
	for _, f := range got.Findings {
		for _, c := range f.BounceCodes {
			if !enhancedCode.MatchString(c) {
				t.Errorf("%s: bad bounce code %q", f.ID, c)
			}
		}
	}
}

func TestDMARCWithIP(t *testing.T) {
	srv := dnstest.Start(t, dmarcCLIZone)
	r := "--resolver=" + srv.Addr()
	tests := []struct {
		name        string
		args        []string
		code        int
		result      string
		disposition string
		codes       []string
	}{
		{"spf pass aligned", []string{"--ip", "192.0.2.7", "--mail-from", "bounce@strict.example"}, 0, "pass", "delivered", []string{}},
		{"spf fail, reject", []string{"--ip", "203.0.113.9", "--mail-from", "bounce@strict.example"}, 1, "fail", "bounce", []string{"5.7.509", "5.7.26", "5.7.9"}},
		{"spf pass not aligned", []string{"--ip", "198.51.100.7", "--mail-from", "bounce@esp.example"}, 1, "fail", "bounce", []string{"5.7.509", "5.7.26", "5.7.9"}},
		{"aligned dkim rescues", []string{"--ip", "198.51.100.7", "--mail-from", "bounce@esp.example", "--dkim-domain", "mail.strict.example"}, 0, "pass", "delivered", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runCLI(t, append([]string{"dmarc", "strict.example", r, "--format", "json"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s %s", code, tt.code, stderr, out)
			}
			var got struct {
				Result      string   `json:"result"`
				Disposition string   `json:"disposition"`
				BounceCodes []string `json:"bounce_codes"`
				SPF         *struct{ Result string }
				DKIM        []any `json:"dkim"`
				Alignment   *struct {
					SPF  map[string]any
					DKIM []map[string]any
				}
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.Result != tt.result || got.Disposition != tt.disposition || strings.Join(got.BounceCodes, ",") != strings.Join(tt.codes, ",") {
				t.Errorf("result %s disposition %s codes %v", got.Result, got.Disposition, got.BounceCodes)
			}
			if got.SPF == nil || got.Alignment == nil || got.DKIM == nil || got.BounceCodes == nil {
				t.Errorf("missing spf/alignment/dkim/bounce_codes: %s", out)
			}
		})
	}
	out, _, code := runCLI(t, "dmarc", "strict.example", r, "--ip", "203.0.113.9")
	if code != 1 || !strings.Contains(out, "DMARC FAIL") || !strings.Contains(out, "5.7.509") || !strings.Contains(out, "dmarc.not-aligned") {
		t.Errorf("text exit %d:\n%s", code, out)
	}
}

func TestDMARCExitCodes(t *testing.T) {
	srv := dnstest.Start(t, dmarcCLIZone)
	srv.Set("_dmarc.servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	r := "--resolver=" + srv.Addr()
	out, _, code := runCLI(t, "dmarc", "nodmarc.example", r, "--format", "json")
	if code != 1 || !strings.Contains(out, `"dmarc.no-record"`) || !strings.Contains(out, "5.7.515") {
		t.Errorf("no record: exit %d %s", code, out)
	}
	out, _, code = runCLI(t, "dmarc", "servfail.example", r, "--format", "json")
	if code != 3 || strings.Contains(out, "dmarc.no-record") || !strings.Contains(out, "dmarc.dns-error") {
		t.Errorf("servfail: exit %d %s", code, out)
	}
}

func TestDMARCUsage(t *testing.T) {
	for _, args := range [][]string{
		{"dmarc"},
		{"dmarc", "exa mple.com"},
		{"dmarc", "192.0.2.1"},
		{"dmarc", "example.com", "--ip", "nope"},
		{"dmarc", "example.com", "--mail-from", "a@example.com"},
		{"dmarc", "example.com", "--ip", "192.0.2.1", "--mail-from", "nobody"},
		{"dmarc", "example.com", "--ip", "192.0.2.1", "--dkim-domain", "bad domain"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "deliverdoctor: ") {
			t.Errorf("%v: exit %d stderr %q", args, code, stderr)
		}
	}
}

func TestDMARCHostileRecordIsInert(t *testing.T) {
	srv := dnstest.Start(t, dmarcCLIZone)
	out, _, _ := runCLI(t, "dmarc", "evil.example", "--resolver", srv.Addr(), "-v")
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("terminal escape reached the output: %q", out)
	}
	out, _, _ = runCLI(t, "dmarc", "evil.example", "--resolver", srv.Addr(), "--format", "json")
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("raw escape in JSON")
	}
}

func TestCheckIncludesDMARC(t *testing.T) {
	srv := dnstest.Start(t, dmarcCLIZone)
	out, _, code := runCLI(t, "check", "strict.example", "--resolver", srv.Addr(), "--checks", "dmarc", "--ip", "203.0.113.9", "--mail-from", "x@strict.example", "--format", "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 1 || len(rep.Checks) != 1 || rep.Checks[0].Name != "dmarc" || rep.Checks[0].Status != findings.StatusFail {
		t.Fatalf("exit %d report %+v", code, rep.Checks)
	}
	found := false
	for _, f := range rep.Findings {
		found = found || f.ID == "dmarc.not-aligned" && strings.Join(f.BounceCodes, ",") == "5.7.509,5.7.26,5.7.9"
	}
	if !found {
		t.Errorf("no dmarc.not-aligned with reject codes: %+v", rep.Findings)
	}
}

// TestCheckDMARCCanAlign: the check combines SPF records and the dkim
// package's selector discovery to say whether mail can pass at all.
func TestCheckDMARCCanAlign(t *testing.T) {
	srv := dnstest.Start(t, dmarcCLIZone)
	for _, tt := range []struct {
		domain string
		args   []string
		want   bool
	}{
		{"nospf.example", nil, true},
		{"keyed.example", []string{"--selector", "s1"}, false},
		{"strict.example", nil, false},
	} {
		out, _, _ := runCLI(t, append([]string{"check", tt.domain, "--resolver", srv.Addr(), "--checks", "dmarc", "--format", "json"}, tt.args...)...)
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		got := false
		for _, f := range rep.Findings {
			if f.ID == "dmarc.cannot-align" {
				got = true
				if !strings.Contains(f.Title, "no DKIM key") {
					t.Errorf("%s: title %q does not report the DKIM lookup", tt.domain, f.Title)
				}
			}
		}
		if got != tt.want {
			t.Errorf("%s: cannot-align %v, want %v", tt.domain, got, tt.want)
		}
	}
}
