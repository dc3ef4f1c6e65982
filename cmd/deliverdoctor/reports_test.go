package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

const reportSamples = "../../internal/dmarcreport/testdata/dmarc-reports"

// TestReportsJSONContract: the deliverdoctor.reports/v1 fields on the
// real samples, offline.
func TestReportsJSONContract(t *testing.T) {
	out, stderr, code := runCLI(t, "reports", reportSamples, "--offline", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Schema  string           `json:"schema"`
		Reports []map[string]any `json:"reports"`
		Sources []map[string]any `json:"sources"`
		Errors  []map[string]any `json:"errors"`
		Find    []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "deliverdoctor.reports/v1" || doc.Find == nil {
		t.Errorf("schema %q findings %v", doc.Schema, doc.Find)
	}
	kinds := map[string]int{}
	var messages, pass float64
	for _, r := range doc.Reports {
		kinds[r["kind"].(string)]++
		for _, k := range []string{"kind", "file", "org", "report_id", "domain", "begin", "end"} {
			if _, ok := r[k]; !ok {
				t.Errorf("report lacks %q: %v", k, r)
			}
		}
		if r["kind"] == "aggregate" {
			messages += r["messages"].(float64)
			pass += r["dmarc_pass"].(float64)
		}
		if r["kind"] == "tls" {
			if _, ok := r["sessions_ok"]; !ok {
				t.Errorf("tls report lacks sessions_ok")
			}
		}
	}
	// 14 aggregate files, one a duplicate of another (same org and id).
	if kinds["aggregate"] != 13 || kinds["tls"] != 3 || kinds["failure"] != 4 || messages != 138 || pass != 128 {
		t.Errorf("kinds %v messages %v pass %v", kinds, messages, pass)
	}
	if len(doc.Errors) != 3 {
		t.Errorf("errors %v", doc.Errors)
	}
	for _, s := range doc.Sources {
		for _, k := range []string{"domain", "ip", "ptr", "messages", "dmarc_pass", "spf_aligned_pass", "dkim_aligned_pass", "spf_now", "verdict"} {
			if _, ok := s[k]; !ok {
				t.Errorf("source lacks %q", k)
			}
		}
	}
}

func TestReportsJSONLAndCSV(t *testing.T) {
	out, _, code := runCLI(t, "reports", reportSamples+"/aggregate", reportSamples+"/smtp_tls", "--offline", "--format", "jsonl")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	n := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		n[m["kind"].(string)]++
	}
	// 13 distinct aggregate reports with 14 rows; TLS: 2+3+2 failure details.
	if n["aggregate"] != 14 || n["tls"] != 2+3+2 {
		t.Errorf("rows %v", n)
	}
	out, _, _ = runCLI(t, "reports", reportSamples+"/aggregate", "--offline", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 13 || recs[0][1] != "ip" {
		t.Errorf("csv: %v, %d lines, header %v", err, len(recs), recs[0])
	}
}

// TestReportsHostileStrings: a report's strings are escaped in HTML and
// stripped of control characters in text.
func TestReportsHostileStrings(t *testing.T) {
	dir := t.TempDir()
	x := `<feedback><report_metadata><org_name>&lt;script&gt;alert(1)&lt;/script&gt;` + "\x1b[31m" + `</org_name><report_id>1</report_id></report_metadata>
<policy_published><domain>&lt;b&gt;evil.example</domain><p>none</p></policy_published>
<record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>evil.example</header_from><envelope_from>` + "\x1b]0;x\x07" + `evil.example</envelope_from></identifiers></record></feedback>`
	os.WriteFile(filepath.Join(dir, "r.xml"), []byte(x), 0o644)
	out, _, _ := runCLI(t, "reports", dir, "--offline", "--format", "html")
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>evil") || !strings.Contains(out, "&lt;b&gt;evil.example") {
		t.Errorf("html not escaped:\n%s", out)
	}
	out, _, _ = runCLI(t, "reports", dir, "--offline")
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("control characters reach the terminal: %q", out)
	}
}

func TestReportsExitCodes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "junk.xml"), []byte("not a report"), 0o644)
	if _, _, code := runCLI(t, "reports", dir, "--offline"); code != 2 {
		t.Errorf("no readable report: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, "reports", filepath.Join(dir, "missing"), "--offline"); code != 2 {
		t.Errorf("missing path: exit %d, want 2", code)
	}
	if _, stderr, code := runCLI(t, "reports", dir, "--offline", "--format", "prometheus"); code != 2 || !strings.Contains(stderr, "is not supported") {
		t.Errorf("--format prometheus: exit %d %s", code, stderr)
	}
	if _, _, code := runCLI(t, "reports"); code != 2 {
		t.Errorf("no path: exit %d, want 2", code)
	}
}

// TestReportsOnline: the join against a dnstest zone finds a failing
// service (its IP is in SPF, its envelope domain does not align) and
// exits 1.
func TestReportsOnline(t *testing.T) {
	srv := dnstest.Start(t, `$TTL 300
example.com.           TXT "v=spf1 ip4:192.0.2.10 include:_spf.esp.example.net -all"
_dmarc.example.com.    TXT "v=DMARC1; p=none"
_spf.esp.example.net.  TXT "v=spf1 ip4:198.51.100.0/24 -all"
`)
	dir := t.TempDir()
	x := `<feedback><report_metadata><org_name>google.com</org_name><report_id>1</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>none</p></policy_published>
<record><row><source_ip>192.0.2.10</source_ip><count>90</count><policy_evaluated><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
<identifiers><header_from>example.com</header_from><envelope_from>example.com</envelope_from></identifiers>
<auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>
<record><row><source_ip>198.51.100.7</source_ip><count>10</count><policy_evaluated><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>example.com</header_from><envelope_from>bounces.esp.example.net</envelope_from></identifiers>
<auth_results><dkim><domain>esp.example.net</domain><selector>e1</selector><result>pass</result></dkim><spf><domain>bounces.esp.example.net</domain><result>none</result></spf></auth_results></record>
</feedback>`
	os.WriteFile(filepath.Join(dir, "google.xml"), []byte(x), 0o644)
	out, stderr, code := runCLI(t, "reports", dir, "--resolver", srv.Addr(), "--no-rbl", "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	var doc struct {
		Sources []struct {
			IP, Verdict, Fix string
			SPFNow           string `json:"spf_now"`
		} `json:"sources"`
	}
	json.Unmarshal([]byte(out), &doc)
	if len(doc.Sources) != 2 || doc.Sources[0].Verdict != "aligned" || doc.Sources[0].SPFNow != "pass" ||
		doc.Sources[1].Verdict != "failing" || !strings.Contains(doc.Sources[1].Fix, "d=example.com") {
		t.Errorf("sources %+v", doc.Sources)
	}
	// check --selectors-from: the selector seen for example.com is checked.
	out, _, _ = runCLI(t, "check", "example.com", "--checks", "dkim", "--selectors-from", dir, "--resolver", srv.Addr(), "--format", "json")
	if !strings.Contains(out, `"s1._domainkey.example.com"`) || strings.Contains(out, "e1._domainkey") {
		t.Errorf("selectors from reports not checked:\n%s", out)
	}
}

// TestReportsREADMEDemo: the README's example runs as shown (zones laid
// over an offline world).
func TestReportsREADMEDemo(t *testing.T) {
	out, stderr, code := runCLI(t, "reports", "../../internal/reports/testdata/demo",
		"--zone", "../../internal/reports/testdata/demo-zones/example.com.zone",
		"--zone", "../../internal/reports/testdata/demo-zones/example.net.zone", "--offline")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"not ready for p=quarantine: it would lose 412 of 1,630 legitimate messages (25.3%)",
		"198.51.100.20       412       0.0%        bounce.mailer.example.net  mailer.example.net  pass     failing",
		"203.0.113.7         38        100.0%      example.com                example.com         fail     forwarded",
		"Set a custom MAIL FROM (return-path) domain under example.com"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestReportsMarkdownAndStdin: markdown tables, and a gzip report on
// standard input.
func TestReportsMarkdownAndStdin(t *testing.T) {
	out, _, code := runCLI(t, "reports", "../../internal/reports/testdata/demo", "--offline", "--format", "markdown")
	if code != 0 || !strings.Contains(out, "## example.com") || !strings.Contains(out, "| 198.51.100.20 |") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	gz, err := os.ReadFile(reportSamples + "/aggregate/fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLIIn(t, string(gz), "reports", "-", "--offline", "--format", "json")
	if code != 0 || !strings.Contains(out, `"report_id": "102675056"`) {
		t.Errorf("stdin: exit %d %s\n%s", code, stderr, out)
	}
}
