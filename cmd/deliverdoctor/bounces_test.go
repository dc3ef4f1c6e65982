package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBouncesJSONLContract: one object per failed recipient with docs/contracts.md's
// fields and types.
func TestBouncesJSONLContract(t *testing.T) {
	out, stderr, code := runCLI(t, "bounces", bounceCorpus, "--format", "jsonl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fields := []string{"file", "recipient", "action", "status", "reply_code", "hard", "category", "ses_type", "ses_subtype", "smtp_command", "remote_mta", "diagnostic"}
	categories := []string{"bad-configuration", "bad-connection", "bad-domain", "bad-mailbox", "content-related", "inactive-mailbox", "message-expired",
		"no-answer-from-host", "other", "policy-related", "protocol-errors", "quota-issues", "relaying-issues", "routing-errors", "spam-related", "virus-related"}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	hard := 0
	for sc.Scan() {
		n++
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		for _, f := range fields {
			if _, ok := m[f]; !ok {
				t.Fatalf("line %d lacks %q: %s", n, f, sc.Text())
			}
		}
		var r bounceRecord
		json.Unmarshal(sc.Bytes(), &r)
		if string(m["hard"]) != "true" && string(m["hard"]) != "false" {
			t.Errorf("hard is not a boolean: %s", m["hard"])
		}
		if !slices.Contains(categories, r.Category) {
			t.Errorf("category %q", r.Category)
		}
		if !slices.Contains([]string{"suppress", "retry", "fix-setup"}, r.Action) {
			t.Errorf("action %q", r.Action)
		}
		if r.Status != "" && !enhancedCode.MatchString(r.Status) {
			t.Errorf("status %q", r.Status)
		}
		if r.Hard {
			hard++
			if r.Action != "suppress" || r.SESType != "Permanent" {
				t.Errorf("hard but %s %s", r.Action, r.SESType)
			}
		}
	}
	if n < 140 || hard < 40 {
		t.Errorf("%d records, %d hard", n, hard)
	}
}

func TestBouncesSummary(t *testing.T) {
	dir := t.TempDir()
	sup := filepath.Join(dir, "suppress.csv")
	out, stderr, code := runCLI(t, "bounces", bounceCorpus, "--sent", "200", "--suppress-out", sup, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s bouncesSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Messages != 138 || s.Bounces < 130 || s.NotBounces < 2 || s.Recipients == 0 || s.BounceRate == nil || s.RateWarning == "" {
		t.Errorf("%+v", s)
	}
	total := 0
	for _, n := range s.ByCategory {
		total += n
	}
	if total != s.Failures || s.Hard+s.Soft+s.Delayed != s.Failures || len(s.ByDomain) == 0 {
		t.Errorf("totals do not add up: %+v", s)
	}
	// Above 20% is a warning: exit 1 with --fail-on warn. The corpus
	// (parsed once above) is not needed for that: two hard bounces in a
	// file of their own, out of 5 sent (40%) or 100,000.
	two := filepath.Join(dir, "two.eml")
	if err := os.WriteFile(two, []byte("From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n<bob@example.org>:\n550 5.1.1 user unknown\n\n<carol@example.org>:\n550 5.1.1 user unknown\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, "bounces", two, "--sent", "5", "--fail-on", "warn"); code != 1 {
		t.Errorf("rate warning with --fail-on warn: exit %d %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "bounces", two, "--sent", "100000", "--fail-on", "warn"); code != 0 {
		t.Errorf("low rate: exit %d %s", code, stderr)
	}
	fh, err := os.Open(sup)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 30 || strings.Join(rows[0], ",") != "address,status,category,reason,date" {
		t.Fatalf("suppression list: %d rows, header %v", len(rows), rows[0])
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if seen[r[0]] {
			t.Errorf("duplicate %s", r[0])
		}
		seen[r[0]] = true
		if !slices.Contains([]string{"bad-mailbox", "bad-domain", "inactive-mailbox"}, r[2]) {
			t.Errorf("not a hard category: %v", r)
		}
	}
}

func TestBouncesFormats(t *testing.T) {
	var csvOut string
	for _, f := range []string{"text", "csv", "markdown"} {
		out, stderr, code := runCLI(t, "bounces", bounceCorpus, "--format", f)
		if code != 0 || !strings.Contains(out, "bad-mailbox") {
			t.Errorf("%s: exit %d %s", f, code, stderr)
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s: control characters in output", f)
		}
		if f == "csv" {
			csvOut = out
		}
	}
	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil || len(rows) < 140 || rows[0][0] != "file" || rows[0][2] != "action" {
		t.Errorf("csv: %v %d rows", err, len(rows))
	}
	// stdin, an mbox, and hostile text stays inert.
	mbox := "From MAILER-DAEMON Thu Jan  1 00:00:00 2025\nFrom: MAILER-DAEMON@x.example\nSubject: failure notice\n\n<bob@example.org>:\n550 5.1.1 \x1b]0;owned\x07 | user unknown\n\n" +
		"From MAILER-DAEMON Thu Jan  1 00:00:01 2025\nFrom: MAILER-DAEMON@x.example\nSubject: failure notice\n\n<carol@example.org>:\n552 5.2.2 mailbox full\n"
	for _, f := range []string{"text", "markdown", "csv"} {
		out, stderr, code := bounceCLI(t, mbox, "bounces", "-", "--format", f)
		if code != 0 || !strings.Contains(out, "bob@example.org") || !strings.Contains(out, "carol@example.org") {
			t.Errorf("stdin mbox %s: exit %d %s\n%s", f, code, stderr, out)
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s: escape sequence reached the output: %q", f, out)
		}
	}
	for _, args := range [][]string{
		{"bounces"},
		{"bounces", "/no/such/dir"},
		{"bounces", bounceCorpus, "--format", "html"},
		{"bounces", bounceCorpus, "--sent", "-1"},
	} {
		if _, stderr, code := runCLI(t, args...); code != 2 || !strings.HasPrefix(stderr, "deliverdoctor: ") {
			t.Errorf("%v: exit %d %q", args, code, stderr)
		}
	}
}

// A bounce over 16 MB is read as far as the parts that matter, and input
// that cannot be read ends in exit 2 (issue 23 item 8: the hard bounce
// was lost with exit 0).
func TestBouncesLargeAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	var big strings.Builder
	big.WriteString("From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n" +
		"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; Gone.User@Example.NET\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n\n" +
		"--B\nContent-Type: message/rfc822\n\nFrom: a@example.org\nSubject: big\n\n")
	line := strings.Repeat("QUJD", 19) + "\n"
	for big.Len() < 17<<20 {
		big.WriteString(line)
	}
	big.WriteString("--B--\n")
	os.WriteFile(filepath.Join(dir, "big.eml"), []byte(big.String()), 0o600)
	sup := filepath.Join(dir, "suppress.csv")
	out, stderr, code := runCLI(t, "bounces", filepath.Join(dir, "big.eml"), "--format", "jsonl", "--suppress-out", sup)
	if code != 0 || !strings.Contains(out, `"recipient":"Gone.User@Example.NET"`) || !strings.Contains(out, `"hard":true`) {
		t.Fatalf("exit %d, out %q, stderr %q", code, out, stderr)
	}
	// The suppression list is written with jsonl too, the local part as it was.
	csvData, _ := os.ReadFile(sup)
	if !strings.Contains(string(csvData), "Gone.User@example.net,5.1.1") {
		t.Errorf("suppression list: %q", csvData)
	}

	// Not a bounce and over the limit: unreadable, exit 2, said on stderr.
	os.Remove(sup)
	os.WriteFile(filepath.Join(dir, "junk.eml"), []byte("Subject: hi\n\n"+strings.Repeat("x", 17<<20)), 0o600)
	out, stderr, code = runCLI(t, "bounces", dir, "--format", "json")
	if code != 2 || !strings.Contains(stderr, "junk.eml") || !strings.Contains(stderr, "1 of 2 messages could not be read") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var s bouncesSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.Unreadable != 1 || s.Incomplete != 1 || s.Hard != 1 {
		t.Errorf("%v %+v", err, s)
	}
}
