package dmarc

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const lintZone = `
good.test.                 300 IN TXT "v=spf1 -all"
_dmarc.good.test.          300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test,mailto:agg@vendor.test; ruf=mailto:f@reports.good.test"
*._report._dmarc.vendor.test. 300 IN TXT "v=DMARC1"

none.test.                 300 IN TXT "v=spf1 mx -all"
_dmarc.none.test.          300 IN TXT "v=DMARC1; p=none"

norecord.test.             300 IN MX 10 mx.norecord.test.
norecord.test.             300 IN TXT "v=DMARC1; p=reject"
_dmarc.norecord.test.norecord.test. 300 IN TXT "v=DMARC1; p=reject"

multi.test.                300 IN A 192.0.2.1
_dmarc.multi.test.         300 IN TXT "v=DMARC1; p=reject"
_dmarc.multi.test.         300 IN TXT "v=DMARC1; p=none"

badv.test.                 300 IN A 192.0.2.1
_dmarc.badv.test.          300 IN TXT "v=DMARC1 p=reject"

badp.test.                 300 IN A 192.0.2.1
_dmarc.badp.test.          300 IN TXT "v=DMARC1; p=rejected; sp=none"

badpua.test.               300 IN A 192.0.2.1
_dmarc.badpua.test.        300 IN TXT "v=DMARC1; p=rejected; rua=mailto:d@badpua.test"

ext.test.                  300 IN TXT "v=spf1 -all"
_dmarc.ext.test.           300 IN TXT "v=DMARC1; p=quarantine; t=y; sp=none; np=none; rua=mailto:d@other.test, dmarc@ext.test, https://r.ext.test/x; ruf=mailto:f@other.test; pct=20; ri=3600; rf=afrf; foo=bar; aspff=s"

servfail.test.             300 IN A 192.0.2.1

nospf.test.                300 IN A 192.0.2.1
_dmarc.nospf.test.         300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@nospf.test"
`

func analyze(t *testing.T, srv *dnstest.Server, domain string) *Analysis {
	t.Helper()
	return Analyze(context.Background(), patientClient(t, srv), domain)
}

func ids(fs []findings.Finding) map[string]findings.Severity {
	m := map[string]findings.Severity{}
	for _, f := range fs {
		if prev, ok := m[f.ID]; !ok || f.Severity.Status().Rank() > prev.Status().Rank() {
			m[f.ID] = f.Severity
		}
	}
	return m
}

func TestAnalyzeFindings(t *testing.T) {
	srv := dnstest.Start(t, lintZone)
	srv.Set("_dmarc.servfail.test", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	tests := []struct {
		domain string
		status findings.Status
		want   map[string]findings.Severity
		absent []string
	}{
		{"good.test", findings.StatusPass, map[string]findings.Severity{}, []string{"dmarc.rua-not-authorized", "dmarc.ruf-not-authorized", "dmarc.cannot-align", "dmarc.no-rua"}},
		{"none.test", findings.StatusWarn, map[string]findings.Severity{"dmarc.policy-none": findings.SeverityWarn, "dmarc.no-rua": findings.SeverityWarn}, nil},
		{"norecord.test", findings.StatusFail, map[string]findings.Severity{"dmarc.no-record": findings.SeverityFail, "dmarc.wrong-name": findings.SeverityWarn}, nil},
		{"multi.test", findings.StatusFail, map[string]findings.Severity{"dmarc.multiple-records": findings.SeverityFail}, []string{"dmarc.no-record"}},
		{"badv.test", findings.StatusFail, map[string]findings.Severity{"dmarc.syntax": findings.SeverityFail, "dmarc.no-record": findings.SeverityFail}, nil},
		{"badp.test", findings.StatusFail, map[string]findings.Severity{"dmarc.syntax": findings.SeverityFail}, []string{"dmarc.policy-none"}},
		{"badpua.test", findings.StatusFail, map[string]findings.Severity{"dmarc.syntax": findings.SeverityFail, "dmarc.policy-none": findings.SeverityWarn}, nil},
		{"ext.test", findings.StatusWarn, map[string]findings.Severity{
			"dmarc.rua-not-authorized": findings.SeverityWarn, "dmarc.ruf-not-authorized": findings.SeverityWarn,
			"dmarc.bad-uri": findings.SeverityWarn, "dmarc.testing": findings.SeverityWarn, "dmarc.weak-subdomain-policy": findings.SeverityWarn,
			"dmarc.legacy-tag": findings.SeverityWarn, "dmarc.unknown-tag": findings.SeverityWarn, "dmarc.rfc7489-differs": findings.SeverityInfo,
		}, nil},
		{"servfail.test", findings.StatusError, map[string]findings.Severity{"dmarc.dns-error": findings.SeverityError}, []string{"dmarc.no-record"}},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			a := analyze(t, srv, tt.domain)
			cr := a.CheckResult()
			got := ids(a.Findings)
			for id, sev := range tt.want {
				s, ok := got[id]
				if !ok {
					t.Errorf("missing %s; got %v", id, got)
				} else if sev != "" && s != sev {
					t.Errorf("%s severity %s, want %s", id, s, sev)
				}
			}
			for _, id := range tt.absent {
				if _, ok := got[id]; ok {
					t.Errorf("unexpected %s", id)
				}
			}
			if cr.Status != tt.status {
				t.Errorf("status %s, want %s; findings %v", cr.Status, tt.status, got)
			}
			for _, f := range a.Findings {
				if f.Title == "" || !strings.HasPrefix(f.ID, "dmarc.") || len(f.Refs) == 0 && f.ID != "dmarc.legacy-tag" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			if _, err := json.Marshal(cr.Data); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAnalyzeReportAuthorisation(t *testing.T) {
	srv := dnstest.Start(t, lintZone)
	a := analyze(t, srv, "good.test")
	want := map[string]Authorization{"vendor.test": "yes", "good.test": "", "reports.good.test": ""}
	for _, d := range a.Reports {
		if d.Authorized != want[d.Host] {
			t.Errorf("%s: authorized %q, want %q (%+v)", d.Host, d.Authorized, want[d.Host], d)
		}
	}
	if n := srv.Count("good.test._report._dmarc.vendor.test", dns.TypeTXT); n != 1 {
		t.Errorf("authorisation asked %d times", n)
	}
	a = analyze(t, srv, "ext.test")
	for _, f := range a.Findings {
		if f.ID == "dmarc.rua-not-authorized" && !strings.Contains(f.Fix, "ext.test._report._dmarc.other.test") {
			t.Errorf("fix %q does not name the record", f.Fix)
		}
	}
}

func TestAnalyzeRFC7489View(t *testing.T) {
	srv := dnstest.Start(t, lintZone)
	a := analyze(t, srv, "ext.test")
	if a.RFC7489 == nil || a.RFC7489.Pct != 20 || a.RFC7489.Policy != PolicyQuarantine {
		t.Fatalf("rfc7489 %+v", a.RFC7489)
	}
	joined := strings.Join(a.RFC7489.Differences, "\n")
	for _, want := range []string{"pct=20", "t=y"} {
		if !strings.Contains(joined, want) {
			t.Errorf("differences lack %q: %s", want, joined)
		}
	}
}

func TestPSLOrganizationalDomain(t *testing.T) {
	for in, want := range map[string]string{"a.b.example.com": "example.com", "example.co.uk": "example.co.uk", "x.example.co.uk": "example.co.uk", "com": "com"} {
		if got := PSLOrganizationalDomain(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestAnalyzeCannotAlign(t *testing.T) {
	srv := dnstest.Start(t, lintZone)
	a := analyze(t, srv, "nospf.test")
	if got := ids(a.Findings)["dmarc.cannot-align"]; got != findings.SeverityWarn {
		t.Fatalf("cannot-align %q; findings %v", got, ids(a.Findings))
	}
	if a.Alignability == nil || len(a.Alignability.SPFDomains) != 0 || a.Alignability.Checked[0] != "nospf.test" {
		t.Errorf("alignability %+v", a.Alignability)
	}
	// No DKIM key either: every message fails; p=reject names the bounces.
	a.AddDKIMKeys(nil, 25)
	var f findings.Finding
	for _, x := range a.Findings {
		if x.ID == "dmarc.cannot-align" {
			f = x
		}
	}
	if !strings.Contains(f.Title, "no DKIM key among 25 selectors") || strings.Join(f.BounceCodes, ",") != "5.7.509,5.7.26,5.7.9" {
		t.Errorf("finding %+v", f)
	}
	if strings.Count(strings.Join(idList(a.Findings), " "), "cannot-align") != 1 {
		t.Errorf("duplicate cannot-align: %v", idList(a.Findings))
	}
	// A DKIM key: DKIM can align, no finding.
	a.AddDKIMKeys([]string{"s1"}, 25)
	if _, ok := ids(a.Findings)["dmarc.cannot-align"]; ok {
		t.Error("cannot-align despite a DKIM key")
	}
	// An SPF record at the domain: no finding.
	if _, ok := ids(analyze(t, srv, "good.test").Findings)["dmarc.cannot-align"]; ok {
		t.Error("cannot-align despite SPF")
	}
}

func idList(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}
