package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

const demoReport = "../../internal/reports/testdata/demo/google.com!example.com!1730419200!1730505599.xml"

// mailOf decodes a received message into its subject, its text and html
// parts and its attachment (nil without one).
type mailOf struct {
	subject, text, html string
	attach              []byte
	attachName          string
}

func readMail(t *testing.T, data []byte) mailOf {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var m mailOf
	m.subject, _ = r.Header.Subject()
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			if ct == "text/html" {
				m.html = string(b)
			} else {
				m.text = string(b)
			}
		case *mail.AttachmentHeader:
			m.attach = b
			m.attachName, _ = h.Filename()
		}
	}
	return m
}

// failingRecord is an aggregate report from another receiver with one more
// source of the ESP (authorised by SPF, not aligned): a new failing source.
func failingRecord(ip string) string {
	return `<feedback><report_metadata><org_name>Yahoo</org_name><report_id>y-` + ip + `</report_id>
<date_range><begin>1730419200</begin><end>1730505599</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>none</p></policy_published>
<record><row><source_ip>` + ip + `</source_ip><count>25</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>example.com</header_from><envelope_from>bounce.mailer.example.net</envelope_from></identifiers>
<auth_results><dkim><domain>mailer.example.net</domain><selector>m1</selector><result>pass</result></dkim>
<spf><domain>bounce.mailer.example.net</domain><result>pass</result></spf></auth_results></record></feedback>`
}

// TestReportsMailOnlyOnChange: the weekly cron digest. The first run mails
// the reports' own rendering and records the findings; the same input again
// is silent; one more failing source is mailed as the change.
func TestReportsMailOnlyOnChange(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(demoReport)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "google.xml"), b, 0o644)
	statePath := filepath.Join(t.TempDir(), "state.json")
	sink := smtptest.StartSink(t, nil, nil)
	args := []string{"reports", dir, "--offline",
		"--zone", "../../internal/reports/testdata/demo-zones/example.com.zone",
		"--zone", "../../internal/reports/testdata/demo-zones/example.net.zone",
		"--state", statePath, "--only-on-change",
		"--mail-to", "postmaster@example.com", "--smtp-server", sink.Addr.String(), "--smtp-tls", "none", "--report-from", "dd@example.com"}

	out, stderr, code := runCLI(t, args...)
	if code != 1 || !strings.Contains(out, "+ reports:example.com [fail] 198.51.100.20 sends as example.com and fails DMARC") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, stderr)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages after the first run", len(msgs))
	}
	m := readMail(t, msgs[0].Data)
	t.Logf("demo: a %d-byte message", len(msgs[0].Data))
	if m.subject != "deliverdoctor reports: example.com changed: 2 new, 0 resolved" {
		t.Errorf("subject %q", m.subject)
	}
	for _, want := range []string{"What changed since the last run", "198.51.100.20", "Set a custom MAIL FROM (return-path) domain under example.com"} {
		if !strings.Contains(m.text, want) || !strings.Contains(m.html, want) {
			t.Errorf("mail lacks %q:\ntext:\n%s\nhtml:\n%s", want, m.text, m.html)
		}
	}
	if !strings.Contains(m.html, "<h1 style=\"font-size:20px\">DMARC and TLS reports</h1>") || m.attach != nil {
		t.Errorf("html part is not the reports rendering, or an attachment for a small report:\n%s", m.html)
	}
	if st, err := os.ReadFile(statePath); err != nil || !strings.Contains(string(st), `"reports:example.com"`) {
		t.Fatalf("state: %v\n%s", err, st)
	}

	// The same reports again: nothing printed, nothing mailed, exit 0.
	out, stderr, code = runCLI(t, args...)
	if code != 0 || out != "" || len(sink.Messages()) != 1 {
		t.Fatalf("unchanged run: exit %d, %d messages\n%s\n%s", code, len(sink.Messages()), out, stderr)
	}

	// Next week: one more failing source of the ESP.
	os.WriteFile(filepath.Join(dir, "yahoo.xml"), []byte(failingRecord("198.51.100.21")), 0o644)
	out, stderr, code = runCLI(t, args...)
	if code != 1 || !strings.Contains(out, "+ reports:example.com [fail] 198.51.100.21 sends as example.com and fails DMARC") ||
		strings.Contains(out, "+ reports:example.com [fail] 198.51.100.20") {
		t.Fatalf("new failing source: exit %d\n%s\n%s", code, out, stderr)
	}
	msgs = sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages after the change", len(msgs))
	}
	m = readMail(t, msgs[1].Data)
	if m.subject != "deliverdoctor reports: example.com changed: 1 new, 0 resolved" || !strings.Contains(m.text, "+ [fail] 198.51.100.21 sends as example.com") {
		t.Errorf("change mail: %q\n%s", m.subject, m.text)
	}

	// The source is fixed (its report gone from the input): resolved.
	os.Remove(filepath.Join(dir, "yahoo.xml"))
	out, _, code = runCLI(t, args...)
	if code != 1 || !strings.Contains(out, "- reports:example.com resolved: 198.51.100.21 sends as example.com and fails DMARC") {
		t.Fatalf("fixed source: exit %d\n%s", code, out)
	}
}

// TestReportsMailLarge: a report with more sources than the mail's budget
// holds mails the sources with the most mail and attaches the whole json.
func TestReportsMailLarge(t *testing.T) {
	dir := t.TempDir()
	var x strings.Builder
	x.WriteString(`<feedback><report_metadata><org_name>big</org_name><report_id>1</report_id><date_range><begin>1730419200</begin><end>1730505599</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>none</p></policy_published>`)
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&x, `<record><row><source_ip>10.0.%d.%d</source_ip><count>%d</count><policy_evaluated><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>example.com</header_from></identifiers><auth_results><spf><domain>example.com</domain><result>fail</result></spf></auth_results></record>`, i/200, i%200, 1000-i)
	}
	x.WriteString(`</feedback>`)
	os.WriteFile(filepath.Join(dir, "big.xml"), []byte(x.String()), 0o644)
	sink := smtptest.StartSink(t, nil, nil)
	_, stderr, code := runCLI(t, "reports", dir, "--offline",
		"--mail-to", "postmaster@example.com", "--smtp-server", sink.Addr.String(), "--smtp-tls", "none", "--report-from", "dd@example.com")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 || len(msgs[0].Data) > 100<<10 {
		t.Fatalf("%d messages, %d bytes", len(msgs), len(msgs[0].Data))
	}
	m := readMail(t, msgs[0].Data)
	t.Logf("600 sources: a %d-byte message, text %d, html %d, attachment %d bytes", len(msgs[0].Data), len(m.text), len(m.html), len(m.attach))
	if !strings.Contains(m.text, "10.0.0.0 ") || strings.Contains(m.text, "10.0.2.199 ") || !strings.Contains(m.text, "sources with the most mail of 600") {
		t.Errorf("text part:\n%s", m.text)
	}
	if m.attachName != "reports.json.gz" {
		t.Fatalf("attachment %q", m.attachName)
	}
	zr, err := gzip.NewReader(bytes.NewReader(m.attach))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sources []json.RawMessage `json:"sources"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil || len(doc.Sources) != 600 {
		t.Errorf("attachment: %v, %d sources", err, len(doc.Sources))
	}
}

// TestReportsMailUsage: mail and state problems stop the run before any
// report is read.
func TestReportsMailUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "state.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	for _, args := range [][]string{
		{"--only-on-change"},
		{"--mail-to", "x@example.com"},
		{"--state", bad},
		{"--state", filepath.Join(dir, "s.json"), "--only-on-change", "--format", "jsonl"},
	} {
		_, stderr, code := runCLI(t, append([]string{"reports", demoReport, "--offline"}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d %s", args, code, stderr)
		}
	}
}

// A digest that could not be mailed leaves the state as it was, so the next
// run reports the change again.
func TestReportsMailFailureKeepsState(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	_, stderr, code := runCLI(t, "reports", demoReport, "--offline", "--zone", "../../internal/reports/testdata/demo-zones/example.com.zone",
		"--zone", "../../internal/reports/testdata/demo-zones/example.net.zone", "--state", statePath, "--only-on-change",
		"--mail-to", "postmaster@example.com", "--smtp-server", closedPort(t), "--smtp-tls", "none", "--report-from", "dd@example.com")
	if code != 3 || !strings.Contains(stderr, "state file was not updated") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Errorf("state written although the mail failed: %v", err)
	}
}
