package bounce

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// rfc3464Example is the delivery-status body of RFC 3464 section 10.1's
// example ("Simple DSN"), and the multi-recipient one of 10.2.
const rfc3464Simple = `Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;louisl@larry.slip.umd.edu
Final-Recipient: rfc822;louisl@larry.slip.umd.edu
Action: failed
Status: 4.0.0
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400
`

const rfc3464Multi = `Reporting-MTA: dns; mx.example.net
Arrival-Date: Thu, 7 Jul 1994 17:15:49 -0400

Final-Recipient: rfc822; Kevin.Kalish@gmail.com
Action: failed
Status: 5.0.0 (permanent failure)
Remote-MTA: dns; gmail-smtp-in.l.google.com [64.233.188.26]
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does
  not exist. Please try double-checking the recipient's email address
  for typos. - gsmtp

Original-Recipient: rfc822;postmaster@example.org
Final-Recipient: RFC822; postmaster@example.org
Action: delayed
Status: 4.4.1
Will-Retry-Until: Fri, 8 Jul 1994 17:15:49 -0400
`

func TestParseDSN(t *testing.T) {
	d := ParseDSN([]byte(rfc3464Simple))
	if d.ReportingMTA != "cs.utk.edu" || len(d.Recipients) != 1 {
		t.Fatalf("%+v", d)
	}
	r := d.Recipients[0]
	if r.FinalRecipient != "louisl@larry.slip.umd.edu" || r.OriginalRecipient != "louisl@larry.slip.umd.edu" ||
		r.Action != "failed" || r.Status != "4.0.0" || r.DiagnosticType != "smtp" || r.DiagnosticCode != "426 connection timed out" {
		t.Errorf("%+v", r)
	}

	d = ParseDSN([]byte(rfc3464Multi))
	if len(d.Recipients) != 2 || d.ArrivalDate == "" {
		t.Fatalf("%+v", d)
	}
	a, b := d.Recipients[0], d.Recipients[1]
	if a.Status != "5.0.0" || a.RemoteMTA != "gmail-smtp-in.l.google.com" || !strings.Contains(a.DiagnosticCode, "does not exist. Please") {
		t.Errorf("first: %+v", a)
	}
	if b.Action != "delayed" || b.Status != "4.4.1" || b.WillRetryUntil == "" || b.FinalRecipient != "postmaster@example.org" {
		t.Errorf("second: %+v", b)
	}
	// Blocks without blank lines between them, per-message fields mixed in.
	d = ParseDSN([]byte("Reporting-MTA: dsn; a.example\nAction: failed\nFinal-Recipient: rfc822; x@example.com\nStatus: 5.1.1\nFinal-Recipient: rfc822; y@example.com\nStatus: 5.2.2\n"))
	if len(d.Recipients) != 2 || d.Recipients[0].Status != "5.1.1" || d.Recipients[1].Status != "5.2.2" || d.ReportingMTA != "a.example" {
		t.Errorf("run-together blocks: %+v", d)
	}
	// Exim puts a pipe command in Final-Recipient.
	d = ParseDSN([]byte("Final-Recipient: rfc822;|/usr/bin/x kijitora@example.com /home/x\nAction: failed\nStatus: 5.0.0\n"))
	if len(d.Recipients) != 1 || d.Recipients[0].FinalRecipient != "kijitora@example.com" {
		t.Errorf("pipe recipient: %+v", d.Recipients)
	}
	// Print back and parse again.
	d = ParseDSN([]byte(rfc3464Multi))
	if d2 := ParseDSN([]byte(d.String())); d2.String() != d.String() {
		t.Errorf("round trip:\n%s\n%s", d, d2)
	}
	if d := ParseDSN(nil); len(d.Recipients) != 0 {
		t.Errorf("empty: %+v", d)
	}
}

func FuzzParseDSN(f *testing.F) {
	f.Add([]byte(rfc3464Simple))
	f.Add([]byte(rfc3464Multi))
	f.Add([]byte("Final-Recipient: rfc822; a@b\n Status: 5.1.1\n\n\n:\n\t\n"))
	f.Add([]byte("Final-Recipient: utf-8; \xf0\x9f\x90\x88@example.org\r\nAction: failed\r\nStatus: 5.1.1 (x)\r\n"))
	f.Add([]byte(strings.Repeat("Final-Recipient: rfc822; a@b\n", 50)))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzInput {
			return
		}
		d := ParseDSN(body)
		if len(d.Recipients) > maxDSNRecipients {
			t.Fatalf("%d recipients", len(d.Recipients))
		}
		// What was parsed prints back and parses to the same thing.
		s := d.String()
		d2 := ParseDSN([]byte(s))
		if len(d2.Recipients) != len(d.Recipients) {
			t.Fatalf("round trip lost recipients: %q -> %q", body, s)
		}
		for i := range d.Recipients {
			a, b := d.Recipients[i], d2.Recipients[i]
			if a.FinalRecipient != b.FinalRecipient || a.Action != b.Action || a.Status != b.Status {
				t.Fatalf("round trip changed %+v to %+v", a, b)
			}
		}
	})
}

// dsnFieldsScanner is dsnFields as it was, on a bufio.Scanner: the
// cut-by-hand version must give the same fields.
func dsnFieldsScanner(body []byte) []dsnField {
	var out []dsnField
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), maxDSNSize)
	last := -1
	for sc.Scan() {
		line := strings.ReplaceAll(strings.TrimRight(sc.Text(), "\r"), "\r", " ")
		if strings.TrimSpace(line) == "" {
			if last >= 0 && out[last].name != "" {
				out = append(out, dsnField{})
				last = len(out) - 1
			}
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last >= 0 && out[last].name != "" {
			if len(out[last].value) < maxFieldLen {
				out[last].value += " " + strings.TrimSpace(line)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(strings.TrimSpace(name)) {
			continue
		}
		out = append(out, dsnField{strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)})
		last = len(out) - 1
	}
	return out
}

var dsnFieldTexts = []string{rfc3464Simple, rfc3464Multi, "", "\n", "\r\n\r\n", "a: b", "A: b\r\r\n c\rd\n\n\nX-Y : z \n\t w",
	"Final-Recipient: rfc822; a@b\n Status: 5.1.1\n\n\n:\n\t\n", "no colon\n: empty name\nbad name: x\nok:\r"}

// dsnFieldLongTexts are lines at the line scanner's limit, made when the
// test runs (4 MB each: not held by every process of the test binary).
func dsnFieldLongTexts() []string {
	return []string{strings.Repeat("x", maxDSNSize), strings.Repeat("x", maxDSNSize-1) + "\n", "Status: 5.0.0\n" + strings.Repeat("y", maxDSNSize-14),
		"Status: 5.0.0\n" + strings.Repeat("y", maxDSNSize-15) + "\n", "a:" + strings.Repeat("x", maxDSNSize-2),
		"Status: 5.0.0\na:" + strings.Repeat("x", maxDSNSize-2) + "\nb: c", "a:" + strings.Repeat("x", maxDSNSize-3) + "\nb: c"}
}

// TestDSNFieldsAgree: dsnFields answers as the line scanner it replaced,
// on RFC examples, edge cases (bare CRs, a line at the scanner's limit)
// and every delivery-status part of the corpus.
func TestDSNFieldsAgree(t *testing.T) {
	texts := append(slices.Clone(dsnFieldTexts), dsnFieldLongTexts()...)
	for _, f := range equivalenceFiles(t) {
		raw, _ := os.ReadFile(f)
		if i := bytes.Index(raw, []byte("Reporting-MTA")); i >= 0 {
			texts = append(texts, string(raw[i:]))
		}
	}
	for _, s := range texts {
		if got, want := dsnFields([]byte(s)), dsnFieldsScanner([]byte(s)); !slices.Equal(got, want) {
			t.Errorf("%.80q: %q, scanner %q", s, got, want)
		}
	}
}

func FuzzDSNFields(f *testing.F) {
	for _, s := range dsnFieldTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzInput {
			return
		}
		if got, want := dsnFields([]byte(s)), dsnFieldsScanner([]byte(s)); !slices.Equal(got, want) {
			t.Errorf("%q: %q, scanner %q", s, got, want)
		}
	})
}

// TestDSNFieldsNotKept: dsnFields reads the body in place, so nothing it
// returns may point into it: overwriting the body afterwards changes no
// field, nor a parsed DSN. Nor does a later ParseDSN (which reuses a
// pooled field list) change an earlier one.
func TestDSNFieldsNotKept(t *testing.T) {
	var kept []*DSN
	var keptText []string
	defer func() {
		for i, d := range kept {
			if !reflect.DeepEqual(d, ParseDSN([]byte(keptText[i]))) {
				t.Errorf("%q: the DSN changed after later parses", keptText[i])
			}
		}
	}()
	for _, s := range append(slices.Clone(dsnFieldTexts), "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; a@b.example\nAction: FAILED\nStatus: 5.1.1 (x)\nX-Other: v\n  folded\n") {
		body := []byte(s)
		fields := dsnFields(body)
		d := ParseDSN(body)
		kept, keptText = append(kept, d), append(keptText, s)
		want, wantDSN := dsnFields([]byte(s)), ParseDSN([]byte(s))
		for i := range body {
			body[i] = '#'
		}
		if !slices.Equal(fields, want) {
			t.Errorf("%q: fields became %q, want %q", s, fields, want)
		}
		if !reflect.DeepEqual(d, wantDSN) {
			t.Errorf("%q: the DSN changed with its body", s)
		}
	}
}
