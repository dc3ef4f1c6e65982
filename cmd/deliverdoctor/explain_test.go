package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

const bounceCorpus = "../../internal/bounce/testdata/corpus/eml"

// bounceCLI runs the CLI with stdin.
func bounceCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// TestExplainJSONContract: docs/contracts.md's explain contract
// {"code","meaning","hard","category","action","checks":[...]}.
func TestExplainJSONContract(t *testing.T) {
	out, stderr, code := runCLI(t, "explain", "5.7.26", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Code     string   `json:"code"`
		Meaning  string   `json:"meaning"`
		Hard     *bool    `json:"hard"`
		Category string   `json:"category"`
		Action   string   `json:"action"`
		Checks   []string `json:"checks"`
	}
	json.Unmarshal([]byte(out), &v)
	if v.Code != "5.7.26" || v.Meaning == "" || v.Hard == nil || *v.Hard || v.Category != "policy-related" || v.Action == "" ||
		!slices.Equal(v.Checks, []string{"spf", "dkim", "dmarc"}) {
		t.Errorf("%s", out)
	}
	for _, k := range []string{"code", "meaning", "hard", "category", "action", "checks"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("missing %q", k)
		}
	}
}

func TestExplainInputs(t *testing.T) {
	type want struct {
		code, category, provider string
		hard                     bool
		checks                   []string
		smtpReject               *bool
	}
	yes := true
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  want
	}{
		{"registry 5.7.27", []string{"explain", "5.7.27"}, "", want{"5.7.27", "policy-related", "", false, []string{"mx"}, nil}},
		{"gmail 5.7.27", []string{"explain", "5.7.27", "--provider", "gmail"}, "", want{"5.7.27", "policy-related", "google", false, []string{"spf"}, nil}},
		{"microsoft 5.7.509", []string{"explain", "5.7.509"}, "", want{"5.7.509", "policy-related", "microsoft", false, []string{"dmarc", "spf", "dkim"}, nil}},
		{"5.4.4", []string{"explain", "5.4.4"}, "", want{"5.4.4", "routing-errors", "", false, []string{"mx"}, nil}},
		{"5.7.25", []string{"explain", "5.7.25"}, "", want{"5.7.25", "policy-related", "", false, []string{"ptr"}, nil}},
		{"reply as words", []string{"explain", "550", "5.1.1", "<bob@example.com>:", "User", "unknown"}, "", want{"5.1.1", "bad-mailbox", "", true, []string{}, &yes}},
		{"reply quoted", []string{"explain", "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"}, "", want{"5.7.1", "spam-related", "", false, []string{"rbl"}, &yes}},
		{"stdin multi-line", []string{"explain", "-"}, "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's\n550 5.7.26 DMARC policy. - gsmtp\n", want{"5.7.26", "policy-related", "google", false, []string{"spf", "dkim", "dmarc"}, &yes}},
		{"yahoo TSS04", []string{"explain", "TSS04"}, "", want{"TSS04", "spam-related", "yahoo", false, []string{"rbl", "dmarc"}, nil}},
		{"file", []string{"explain", filepath.Join(bounceCorpus, "rhost-google-03.eml")}, "", want{"5.7.26", "policy-related", "google", false, []string{"spf", "dkim", "dmarc"}, &yes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := bounceCLI(t, tt.stdin, append(tt.args, "--format", "json")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var v struct {
				Code       string   `json:"code"`
				Category   string   `json:"category"`
				Provider   string   `json:"provider"`
				Hard       bool     `json:"hard"`
				Checks     []string `json:"checks"`
				SMTPReject *bool    `json:"smtp_reject"`
			}
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if v.Code != w.code || v.Category != w.category || v.Provider != w.provider || v.Hard != w.hard ||
				!slices.Equal(v.Checks, w.checks) || (w.smtpReject == nil) != (v.SMTPReject == nil) ||
				(w.smtpReject != nil && *w.smtpReject != *v.SMTPReject) {
				t.Errorf("got %s", out)
			}
			// The text form says the same without a crash.
			txt, _, code := bounceCLI(t, tt.stdin, tt.args...)
			if code != 0 || !strings.Contains(txt, w.category) {
				t.Errorf("text: exit %d\n%s", code, txt)
			}
		})
	}
}

func TestExplainErrors(t *testing.T) {
	for _, args := range [][]string{
		{"explain", "hello", "world"},
		{"explain", "no/such/file.eml"},
		{"explain", bounceCorpus},
		{"explain", "5.7.26", "--provider", "hotmail2"},
		{"explain", "5.7.26", "--format", "csv"},
		{"explain", "5.7.26", "--check"}, // no domain
		{"explain", "--list", "nonsense"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "deliverdoctor: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	// A file that is not a bounce.
	dir := t.TempDir()
	p := filepath.Join(dir, "hello.eml")
	os.WriteFile(p, []byte("From: a@example.com\nSubject: hi\n\nlunch?\n"), 0o600)
	if _, stderr, code := runCLI(t, "explain", p); code != 2 || !strings.Contains(stderr, "no bounce data") {
		t.Errorf("not a bounce: exit %d %q", code, stderr)
	}
}

// TestExplainCheck runs the linked checks against the test DNS server: the
// sender domain publishes a null MX, which is exactly what 5.7.27 means.
func TestExplainCheck(t *testing.T) {
	srv := dnstest.Start(t, `
nullmx.example. 300 IN MX 0 .
nullmx.example. 300 IN A 192.0.2.10
good.example. 300 IN MX 10 mx.good.example.
mx.good.example. 300 IN A 192.0.2.20
`)
	out, stderr, code := runCLI(t, "explain", "5.7.27", "--check", "--domain", "nullmx.example", "--resolver", srv.Addr(), "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d (want 1: the mx check fails): %s", code, stderr)
	}
	var v struct {
		Evidence struct {
			Domain    string   `json:"domain"`
			Ran       []string `json:"checks_run"`
			Confirmed []struct {
				ID string `json:"id"`
			} `json:"confirmed"`
			Summary string          `json:"summary"`
			Report  json.RawMessage `json:"report"`
		} `json:"evidence"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	ev := v.Evidence
	if ev.Domain != "nullmx.example" || !slices.Contains(ev.Ran, "mx") || len(ev.Confirmed) == 0 || ev.Confirmed[0].ID != "mx.null-mx" ||
		!strings.Contains(ev.Summary, "and indeed") || len(ev.Report) == 0 {
		t.Errorf("evidence: %s", out)
	}
	// A healthy domain: the checks run and say nothing explains the code.
	txt, _, code := runCLI(t, "explain", "5.7.27", "--check", "--domain", "good.example", "--resolver", srv.Addr())
	if code != 0 || !strings.Contains(txt, "found nothing on good.example") {
		t.Errorf("exit %d\n%s", code, txt)
	}
	// From a bounce: the sender's domain comes from the attached headers.
	msg := "From: MAILER-DAEMON@mx.isp.example\nTo: alice@nullmx.example\nSubject: Undelivered Mail Returned to Sender\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n" +
		"<bob@other.example>: host mx.other.example[192.0.2.30] said: 550 5.7.27 sender address has null MX (in reply to MAIL FROM command)\n\n" +
		"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.isp.example\n\nFinal-Recipient: rfc822; bob@other.example\nAction: failed\nStatus: 5.7.27\n" +
		"Remote-MTA: dns; mx.other.example\nDiagnostic-Code: smtp; 550 5.7.27 sender address has null MX\n\n--B\nContent-Type: text/rfc822-headers\n\nFrom: Alice <alice@nullmx.example>\nTo: bob@other.example\n\n--B--\n"
	txt, stderr, code = bounceCLI(t, msg, "explain", "-", "--check", "--resolver", srv.Addr())
	if code != 1 || !strings.Contains(txt, "5.7.27 - and indeed") || !strings.Contains(txt, "SMTP reject") {
		t.Errorf("bounce --check: exit %d %s\n%s", code, stderr, txt)
	}
}

func TestExplainList(t *testing.T) {
	out, _, code := runCLI(t, "explain", "--list", "dmarc")
	if code != 0 || !strings.Contains(out, "5.7.509") || !strings.Contains(out, "5.7.26") {
		t.Errorf("exit %d\n%s", code, out)
	}
	out, _, _ = runCLI(t, "explain", "--list", "categories")
	if !strings.Contains(out, "virus-related") || !strings.Contains(out, "bad-mailbox") {
		t.Errorf("%s", out)
	}
}

func TestExplainHostileText(t *testing.T) {
	out, _, _ := bounceCLI(t, "550 5.7.1 \x1b[2J\x1b]0;owned\x07 blocked\n", "explain", "-")
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("escape reached the terminal: %q", out)
	}
	out, _, _ = bounceCLI(t, "550 5.7.1 \x1b[2J owned | pipe\n", "explain", "-", "--format", "markdown")
	if strings.ContainsAny(out, "\x1b") || !strings.Contains(out, `owned \| pipe`) {
		t.Fatalf("markdown not escaped: %q", out)
	}
}

// TestExplainReadsTheReply: the replies issue 22 found misread - explain
// goes by the words and the provider's code, not only the enhanced code.
func TestExplainReadsTheReply(t *testing.T) {
	type want struct {
		permanent   bool
		disposition string
		category    string
		checkDomain string // "" when no check is linked
	}
	for in, w := range map[string]want{
		"421 4.7.0 Try again later, closing connection.":                                                          {false, "retry", "policy-related", "sender"},
		"553 5.7.2 [TSS09] All messages from 192.0.2.10 will be permanently deferred; Retrying will NOT succeed.": {true, "fix-setup", "spam-related", "sender"},
		"TSS09": {true, "fix-setup", "spam-related", "sender"},
		"550 5.4.1 Recipient address rejected: Access denied": {true, "suppress", "bad-mailbox", "recipient"},
		"550 5.4.4 Unable to route":                           {true, "retry", "routing-errors", "recipient"},
		"550 Utilisateur inconnu":                             {true, "suppress", "bad-mailbox", ""},
		"550 El usuario no existe":                            {true, "suppress", "bad-mailbox", ""},
	} {
		out, stderr, code := runCLI(t, "explain", in, "--format", "json")
		if code != 0 {
			t.Errorf("%q: exit %d %s", in, code, stderr)
			continue
		}
		var v struct {
			Permanent   bool     `json:"permanent"`
			Disposition string   `json:"disposition"`
			Category    string   `json:"category"`
			Checks      []string `json:"checks"`
			CheckDomain string   `json:"check_domain"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		side := v.CheckDomain
		if len(v.Checks) == 0 {
			side = ""
		}
		if v.Permanent != w.permanent || v.Disposition != w.disposition || v.Category != w.category || side != w.checkDomain {
			t.Errorf("%q: got %+v, want %+v", in, v, w)
		}
	}
}

// TestExplainCheckUsesNamed: --check runs on what the reply names - the
// sending domain the receiver judged, the IP and the blocklist - and on the
// bounce's returned headers when From: is missing.
func TestExplainCheckUsesNamed(t *testing.T) {
	srv := dnstest.Start(t, `
nodmarc.example. 300 IN MX 10 mx.nodmarc.example.
mx.nodmarc.example. 300 IN A 192.0.2.20
nodmarc.example. 300 IN TXT "v=spf1 -all"
49.2.0.192.bl.test.example. 300 IN A 127.0.0.2
49.2.0.192.bl.test.example. 300 IN TXT "listed for testing"
envelope.example. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"
`)
	type evidence struct {
		Evidence struct {
			Domain   string          `json:"domain"`
			Ran      []string        `json:"checks_run"`
			Notes    []string        `json:"notes"`
			IPReport json.RawMessage `json:"ip_report"`
		} `json:"evidence"`
	}
	decode := func(out string) evidence {
		t.Helper()
		var v evidence
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return v
	}
	// Microsoft names the domain that failed DMARC.
	out, stderr, code := runCLI(t, "explain", "550 5.7.509 Access denied, sending domain nodmarc.example does not pass DMARC verification and has a DMARC policy of reject.",
		"--check", "--resolver", srv.Addr(), "--format", "json")
	if code == 2 {
		t.Fatalf("exit 2: %s", stderr)
	}
	if v := decode(out); v.Evidence.Domain != "nodmarc.example" || !slices.Contains(v.Evidence.Ran, "dmarc") {
		t.Errorf("5.7.509: %+v", v.Evidence)
	}
	// Postfix names the IP and the list: that IP is asked on that list.
	out, stderr, code = runCLI(t, "explain", "554 5.7.1 Service unavailable; Client host [192.0.2.49] blocked using bl.test.example",
		"--check", "--domain", "nodmarc.example", "--resolver", srv.Addr(), "--format", "json")
	v := decode(out)
	if code != 1 || !strings.Contains(string(v.Evidence.IPReport), "192.0.2.49") || !strings.Contains(string(v.Evidence.IPReport), "bl.test.example") ||
		!strings.Contains(string(v.Evidence.IPReport), `"fail"`) {
		t.Errorf("blocked using: exit %d %s\n%s", code, stderr, out)
	}
	// A bounce for an SPF failure: SPF judged the envelope sender
	// (Return-Path), not the author's From: domain.
	msg := "From: MAILER-DAEMON@mx.isp.example\nTo: postmaster@isp.example\nSubject: Undelivered Mail Returned to Sender\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nfailed\n\n" +
		"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.isp.example\n\nFinal-Recipient: rfc822; bob@other.example\nAction: failed\nStatus: 5.7.23\n" +
		"Remote-MTA: dns; mx.other.example\nDiagnostic-Code: smtp; 550 5.7.23 SPF validation failed\n\n--B\nContent-Type: text/rfc822-headers\n\nReturn-Path: <bounce-7@envelope.example>\nFrom: Alice <alice@author.example>\nTo: bob@other.example\n\n--B--\n"
	out, stderr, code = bounceCLI(t, msg, "explain", "-", "--check", "--resolver", srv.Addr(), "--format", "json")
	if v := decode(out); code == 2 || v.Evidence.Domain != "envelope.example" || !slices.Equal(v.Evidence.Ran, []string{"spf"}) {
		t.Errorf("Return-Path: exit %d %s %+v", code, stderr, v.Evidence)
	}
}
