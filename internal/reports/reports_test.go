package reports

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
)

const zoneText = `$TTL 300
example.com.               TXT "v=spf1 ip4:192.0.2.10 ip4:192.0.2.30 include:_spf.esp.example.net -all"
_dmarc.example.com.        TXT "v=DMARC1; p=none; rua=mailto:dmarc@example.com"
_spf.esp.example.net.      TXT "v=spf1 ip4:198.51.100.0/24 -all"
bounce.esp.example.net.    TXT "v=spf1 ip4:198.51.100.0/24 -all"
10.2.0.192.in-addr.arpa.   PTR mail.example.com.
mail.example.com.          A   192.0.2.10
20.100.51.198.in-addr.arpa. PTR o1.esp.example.net.
o1.esp.example.net.        A   198.51.100.20
10.2.0.192.dnsbl.example.  A   127.0.0.2
`

type rowSpec struct {
	ip                   string
	n                    int64
	dkimEval, spfEval    string
	envFrom              string
	spfDomain, spfResult string
	dkimD, dkimS, dkimR  string
}

func aggReport(org, id string, p string, rows ...rowSpec) *dmarcreport.Report {
	a := &dmarcreport.Aggregate{Org: org, ReportID: id, Begin: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		End: time.Date(2026, 11, 1, 23, 59, 59, 0, time.UTC), Policy: dmarcreport.Published{Domain: "example.com", P: p}}
	for _, r := range rows {
		row := dmarcreport.Row{SourceIP: r.ip, Count: r.n, Disposition: "none", DKIM: r.dkimEval, SPF: r.spfEval,
			HeaderFrom: "example.com", EnvelopeFrom: r.envFrom}
		if r.spfDomain != "" {
			row.SPFAuth = []dmarcreport.SPFResult{{Domain: r.spfDomain, Scope: "mfrom", Result: r.spfResult}}
		}
		if r.dkimD != "" {
			row.DKIMAuth = []dmarcreport.DKIMResult{{Domain: r.dkimD, Selector: r.dkimS, Result: r.dkimR}}
		}
		a.Rows = append(a.Rows, row)
	}
	return &dmarcreport.Report{Kind: dmarcreport.KindAggregate, File: id + ".xml", Aggregate: a}
}

func sample() *Builder {
	b := NewBuilder()
	b.Add(aggReport("google.com", "g1", "none",
		rowSpec{"192.0.2.10", 1000, "pass", "pass", "example.com", "example.com", "pass", "example.com", "s1", "pass"},
		rowSpec{"198.51.100.20", 300, "fail", "fail", "bounce.esp.example.net", "bounce.esp.example.net", "pass", "esp.example.net", "esp1", "pass"},
		rowSpec{"203.0.113.5", 40, "pass", "fail", "example.com", "example.com", "fail", "example.com", "s1", "pass"},
		rowSpec{"192.0.2.200", 25, "fail", "fail", "example.com", "example.com", "fail", "", "", ""},
	))
	b.Add(aggReport("yahoo.com", "y1", "none",
		rowSpec{"192.0.2.30", 50, "fail", "fail", "example.com", "example.com", "fail", "", "", ""},
		rowSpec{"192.0.2.10", 200, "pass", "pass", "example.com", "example.com", "pass", "example.com", "s2", "pass"},
	))
	b.Add(&dmarcreport.Report{Kind: dmarcreport.KindTLS, File: "t.json", TLS: &dmarcreport.TLSReport{Org: "Google", ReportID: "t1",
		Policies: []dmarcreport.TLSPolicy{{Type: "sts", Domain: "example.com", OK: 900, Failed: 100, Failures: []dmarcreport.TLSFailure{
			{ResultType: "certificate-expired", ReceivingMX: "mx1.example.com", Count: 80},
			{ResultType: "sts-policy-fetch-error", Count: 20, ReasonCode: "404"},
		}}}}})
	b.AddError(dmarcreport.FileError{File: "broken.xml", Err: dmarcreport.ErrSyntax})
	return b
}

func TestSTSPolicyMX(t *testing.T) {
	pats := stsMXPatterns([]string{"version: STSv1", "mode: enforce", "MX: *.mail.example.com", "mx: mx.example.com.", "max_age: 86400"})
	tests := map[string]bool{"mx1.mail.example.com": true, "a.b.mail.example.com": false, "mail.example.com": false, "MX.example.com.": true, "mx2.example.com": false}
	for host, want := range tests {
		if got := stsMatch(pats, host); got != want {
			t.Errorf("%s: %v, want %v (%v)", host, got, want, pats)
		}
	}
	b := NewBuilder()
	b.Add(&dmarcreport.Report{Kind: dmarcreport.KindTLS, TLS: &dmarcreport.TLSReport{Org: "G", ReportID: "1", Policies: []dmarcreport.TLSPolicy{{
		Type: "sts", Domain: "example.com", Strings: []string{"mx: *.mail.example.com"}, OK: 10, Failed: 2,
		Failures: []dmarcreport.TLSFailure{{ResultType: "validation-failure", ReceivingMX: "backup.example.com", Count: 2}}}}}})
	doc := b.Finish(context.Background(), Options{})
	if !doc.TLS[0].Failures[0].NotInPolicy || !strings.Contains(strings.Join(doc.Findings[0].Evidence, " "), "do not list this host") {
		t.Errorf("%+v %+v", doc.TLS[0].Failures[0], doc.Findings)
	}
}

func bySource(doc *Document) map[string]*Source {
	m := map[string]*Source{}
	for _, s := range doc.Sources {
		m[s.IP] = s
	}
	return m
}

func TestJoinAndVerdicts(t *testing.T) {
	srv := dnstest.Start(t, zoneText)
	lists, err := rbl.Default().Resolve([]string{"ip:dnsbl.example"})
	if err != nil {
		t.Fatal(err)
	}
	doc := sample().Finish(context.Background(), Options{Resolver: srv.Client(t), Lists: lists})
	src := bySource(doc)
	tests := []struct {
		ip      string
		verdict Verdict
		spfNow  string
		ptr     string
		fix     string
	}{
		{"192.0.2.10", VerdictAligned, "pass", "mail.example.com", ""},
		{"198.51.100.20", VerdictFailing, "pass", "o1.esp.example.net", "ign with d=example.com"},
		{"203.0.113.5", VerdictForwarded, "fail", "", ""},
		{"192.0.2.200", VerdictUnknown, "fail", "", ""},
		{"192.0.2.30", VerdictAligned, "pass", "", ""}, // fixed since the report
	}
	for _, tt := range tests {
		s := src[tt.ip]
		if s == nil {
			t.Fatalf("no source %s", tt.ip)
		}
		if s.Verdict != tt.verdict || s.SPFNow != tt.spfNow || s.PTR != tt.ptr || !strings.Contains(s.Fix, tt.fix) {
			t.Errorf("%s: verdict %s spf_now %s ptr %q fix %q (%s)", tt.ip, s.Verdict, s.SPFNow, s.PTR, s.Fix, s.Reason)
		}
	}
	if s := src["192.0.2.10"]; s.Messages != 1200 || s.DMARCPass != 1200 || len(s.Listed) != 1 {
		t.Errorf("192.0.2.10 totals %d/%d listed %v", s.Messages, s.DMARCPass, s.Listed)
	}
	if s := src["198.51.100.20"]; !strings.Contains(s.Fix, "custom MAIL FROM") || s.SPFNowPolicy != "pass" {
		t.Errorf("ESP fix %q spf_now_policy %q", s.Fix, s.SPFNowPolicy)
	}
	// Each question once per run, however many sources need it.
	if n := srv.Count("example.com", dns.TypeTXT); n != 1 {
		t.Errorf("example.com TXT asked %d times", n)
	}
	if n := srv.Count("_spf.esp.example.net", dns.TypeTXT); n != 1 {
		t.Errorf("_spf.esp.example.net TXT asked %d times", n)
	}
	d := doc.Domains[0]
	if d.Ready || d.LegitimateFailing != 300 || d.Next != "quarantine" || d.PolicyNow != "none" || d.FixFirst[0] != "198.51.100.20" {
		t.Errorf("readiness %+v", d)
	}
	ids := map[string]int{}
	for _, f := range doc.Findings {
		ids[f.ID]++
	}
	for _, id := range []string{"reports.source-failing", "reports.policy-not-ready", "reports.unknown-sources", "reports.forwarded", "reports.tls-failures"} {
		if ids[id] != 1 {
			t.Errorf("finding %s: %d times (%v)", id, ids[id], ids)
		}
	}
	listed := false
	for id := range ids {
		if strings.HasPrefix(id, "rbl.") {
			listed = true
		}
	}
	if !listed {
		t.Errorf("no blocklist finding for the listed own source: %v", ids)
	}
	for _, f := range doc.Findings {
		if f.ID == "reports.source-failing" && strings.Join(f.BounceCodes, " ") == "" {
			t.Errorf("no bounce codes on %s", f.ID)
		}
	}
	if doc.Status != "fail" {
		t.Errorf("status %s", doc.Status)
	}
	tls := doc.TLS[0]
	if tls.FailureRate != 10 || len(tls.Failures) != 2 || tls.Failures[0].MX != "mx1.example.com" || tls.Failures[0].RatePercent != 8 {
		t.Errorf("tls %+v", tls)
	}
	if len(doc.Selectors) != 3 || doc.Selectors[0].Selector != "s1" || doc.Selectors[0].Messages != 1040 {
		t.Errorf("selectors %+v", doc.Selectors)
	}
}

// TestContract: the field names of deliverdoctor.reports/v1.
func TestContract(t *testing.T) {
	doc := sample().Finish(context.Background(), Options{})
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["schema"] != "deliverdoctor.reports/v1" {
		t.Errorf("schema %v", m["schema"])
	}
	reps := m["reports"].([]any)
	agg := reps[0].(map[string]any)
	for _, k := range []string{"kind", "file", "org", "report_id", "domain", "begin", "end", "messages", "dmarc_pass"} {
		if _, ok := agg[k]; !ok {
			t.Errorf("aggregate report lacks %q", k)
		}
	}
	if agg["messages"].(float64) != 1365 || agg["dmarc_pass"].(float64) != 1040 || agg["begin"] != "2026-11-01T00:00:00Z" || agg["end"] != "2026-11-01T23:59:59Z" {
		t.Errorf("aggregate %v", agg)
	}
	tls := reps[2].(map[string]any)
	if tls["kind"] != "tls" || tls["sessions_ok"].(float64) != 900 || tls["sessions_failed"].(float64) != 100 {
		t.Errorf("tls %v", tls)
	}
	src := m["sources"].([]any)[0].(map[string]any)
	for _, k := range []string{"domain", "ip", "ptr", "messages", "dmarc_pass", "spf_aligned_pass", "dkim_aligned_pass", "spf_now", "verdict"} {
		if _, ok := src[k]; !ok {
			t.Errorf("source lacks %q", k)
		}
	}
	e := m["errors"].([]any)[0].(map[string]any)
	if e["file"] != "broken.xml" || e["error"] == "" {
		t.Errorf("errors %v", e)
	}
	if _, ok := m["findings"].([]any); !ok {
		t.Errorf("findings not a list")
	}
}

// TestOffline: verdicts from the reports alone, no DNS.
func TestOffline(t *testing.T) {
	doc := sample().Finish(context.Background(), Options{})
	src := bySource(doc)
	want := map[string]Verdict{"192.0.2.10": VerdictAligned, "203.0.113.5": VerdictForwarded, "192.0.2.200": VerdictUnknown,
		"198.51.100.20": VerdictUnknown, "192.0.2.30": VerdictUnknown}
	for ip, v := range want {
		if src[ip].Verdict != v || src[ip].SPFNow != "skip" {
			t.Errorf("%s: %s, spf_now %q (%s)", ip, src[ip].Verdict, src[ip].SPFNow, src[ip].Reason)
		}
	}
	if !doc.Offline || len(doc.Notes) == 0 {
		t.Errorf("offline not said")
	}
}

// TestDNSFailureIsNotAVerdict: SERVFAIL gives a dns-error finding, never
// "not authorised".
func TestDNSFailureIsNotAVerdict(t *testing.T) {
	srv := dnstest.Start(t, zoneText)
	srv.Set("broken.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	b := NewBuilder()
	b.Add(aggReport("google.com", "g1", "none", rowSpec{"192.0.2.77", 5, "fail", "fail", "broken.example", "broken.example", "pass", "", "", ""}))
	doc := b.Finish(context.Background(), Options{Resolver: srv.Client(t)})
	s := doc.Sources[0]
	if s.SPFNow != "temperror" || s.DNSError == "" {
		t.Fatalf("spf_now %s dns_error %q", s.SPFNow, s.DNSError)
	}
	found := false
	for _, f := range doc.Findings {
		if f.ID == "reports.dns-error" {
			found = true
		}
	}
	if !found {
		t.Errorf("no dns-error finding: %+v", doc.Findings)
	}
}
