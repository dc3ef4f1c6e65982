package bounce

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func parseString(t *testing.T, s string) *Bounce {
	t.Helper()
	done := make(chan *Bounce, 1)
	go func() {
		b, err := Parse(strings.NewReader(s))
		if err != nil {
			t.Errorf("Parse: %v", err)
		}
		done <- b
	}()
	select {
	case b := <-done:
		if b == nil {
			t.Fatal("nil bounce")
		}
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("Parse did not return in 10s")
		return nil
	}
}

func TestPastedReply(t *testing.T) {
	b := parseString(t, "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\n550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.\n550 5.7.26 https://support.google.com/mail/answer/81126 - gsmtp\n")
	if b.Kind != KindReply || len(b.Failures) != 1 {
		t.Fatalf("%+v", b)
	}
	f := b.Failures[0]
	if f.Status != "5.7.26" || f.ReplyCode != 550 || f.Provider != "google" || f.Category != "policy-related" || f.Hard ||
		!f.Permanent || f.Disposition != DispositionFix || !f.SMTPReject() || f.Origin != OriginSMTPReject {
		t.Errorf("%+v", f)
	}
	if f.Entry == nil || f.Entry.Provider != "google" {
		t.Errorf("want Gmail's meaning: %+v", f.Entry)
	}
	for _, c := range []string{"spf", "dkim", "dmarc"} {
		if !slices.Contains(f.Checks, c) {
			t.Errorf("checks %v lack %s", f.Checks, c)
		}
	}

	b = parseString(t, "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes")
	f = b.Failures[0]
	if f.ProviderCode != "TSS04" || f.Category != "spam-related" || f.Permanent || f.Hard || b.SenderIP != "192.0.2.1" || f.DSNAction != "delayed" {
		t.Errorf("TSS04: %+v, ip %s", f, b.SenderIP)
	}

	// A precise code keeps its meaning against boilerplate in the text;
	// a loose one yields to a text that says more.
	for in, want := range map[string]string{
		"550 5.7.26 The MAIL FROM domain has an SPF record with a hard fail policy. To best protect our users from spam and phishing, the message has been blocked.": "policy-related",
		"550 5.7.27 sender address has null MX":                   "policy-related",
		"550 5.7.27 Host does not accept mail":                    "bad-domain", // Sendmail 8.16 for a recipient's null MX
		"550 5.2.1 <x@example.com>... User Unknown":               "bad-mailbox",
		"554 5.7.1 <x@example.com>: Relay access denied":          "relaying-issues",
		"552 sorry, mailbox x@example.org is over quota (#5.1.1)": "quota-issues",
	} {
		if f := parseString(t, in).Failures[0]; f.Category != want {
			t.Errorf("%q: %s, want %s", in, f.Category, want)
		}
	}

	b = parseString(t, "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table")
	f = b.Failures[0]
	if f.Recipient != "bob@example.com" || !f.Hard || f.Disposition != DispositionSuppress || f.SESType != "Permanent" || f.Category != "bad-mailbox" {
		t.Errorf("user unknown: %+v", f)
	}
}

const dsnMessage = `Return-Path: <>
From: MAILER-DAEMON@mx.sender.example (Mail Delivery System)
To: alice@sender.example
Subject: Undelivered Mail Returned to Sender
Date: Thu, 9 Apr 2022 23:34:45 +0900
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.sender.example.

<bob@gmail.com>: host gmail-smtp-in.l.google.com[192.0.2.26] said:
    550-5.7.26 This mail has been blocked because the sender is
    unauthenticated. 550 5.7.26 Gmail requires all senders to authenticate - gsmtp
    (in reply to end of DATA command)

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.sender.example

Final-Recipient: rfc822; bob@gmail.com
Original-Recipient: rfc822;bob@gmail.com
Action: failed
Status: 5.7.26
Remote-MTA: dns; gmail-smtp-in.l.google.com
Diagnostic-Code: smtp; 550-5.7.26 This mail has been blocked because the sender
    is unauthenticated. 550 5.7.26 Gmail requires all senders to authenticate - gsmtp

--BOUNDARY
Content-Type: text/rfc822-headers

Return-Path: <bounces@mail.sender.example>
DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s2024;
	h=from:to; bh=x; b=y
From: Alice <alice@sender.example>
To: bob@gmail.com
Subject: Hello

--BOUNDARY--
`

func TestParseDSNMessage(t *testing.T) {
	b := parseString(t, dsnMessage)
	if b.Kind != KindDSN || b.ReportingMTA != "mx.sender.example" || b.Sender != "alice@sender.example" ||
		b.SenderDomain != "sender.example" || b.MailFrom != "bounces@mail.sender.example" || b.MTA != "postfix" {
		t.Fatalf("%+v", b)
	}
	if len(b.DKIM) != 1 || b.DKIM[0] != (DKIMRef{"sender.example", "s2024"}) {
		t.Errorf("dkim %+v", b.DKIM)
	}
	f := b.Failures[0]
	if f.Recipient != "bob@gmail.com" || f.Status != "5.7.26" || f.Command != "DATA" || f.RemoteMTA != "gmail-smtp-in.l.google.com" ||
		f.Origin != OriginSMTPReject || f.Provider != "google" || f.Category != "policy-related" || f.Hard {
		t.Errorf("%+v", f)
	}
}

func TestOriginRemoteBounce(t *testing.T) {
	// The recipient's own server accepted the message, then bounced it.
	msg := strings.NewReplacer("mx.sender.example", "mail.recipient.example", "bob@gmail.com", "bob@recipient.example",
		"Remote-MTA: dns; gmail-smtp-in.l.google.com\n", "", "Diagnostic-Code: smtp; 550-5.7.26 This mail has been blocked because the sender\n    is unauthenticated. 550 5.7.26 Gmail requires all senders to authenticate - gsmtp",
		"Diagnostic-Code: x-unix; maildrop: maildir over quota").Replace(dsnMessage)
	msg = strings.Replace(msg, "Status: 5.7.26", "Status: 5.2.2", 1)
	b := parseString(t, msg)
	f := b.Failures[0]
	if f.Origin != OriginRemoteBounce || f.Category != "quota-issues" || f.Hard || f.Disposition != DispositionRetry {
		t.Errorf("%+v", f)
	}
	if !strings.Contains(OriginText(f.Origin), "backscatter") {
		t.Errorf("origin text: %s", OriginText(f.Origin))
	}
}

func TestParseSESNotification(t *testing.T) {
	msg := `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"nobody@example.org","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2024-01-01T00:00:00.000Z","reportingMTA":"dsn; a8-1.smtp-out.amazonses.com"},"mail":{"source":"news@sender.example","commonHeaders":{"from":["News <news@sender.example>"],"subject":"Hi"}}}`
	env := fmt.Sprintf(`{"Type":"Notification","Message":%q}`, msg)
	for _, in := range []string{msg, env} {
		b := parseString(t, in)
		if b.Kind != KindSES || b.SenderDomain != "sender.example" || len(b.Failures) != 1 {
			t.Fatalf("%+v", b)
		}
		f := b.Failures[0]
		if f.Recipient != "nobody@example.org" || f.Status != "5.1.1" || !f.Hard || f.SESType != "Permanent" || f.SESSubtype != "General" || f.Category != "bad-mailbox" {
			t.Errorf("%+v", f)
		}
	}
	b := parseString(t, `{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","bouncedRecipients":[{"emailAddress":"full@example.org"}]},"mail":{"source":"a@b.example"}}`)
	if f := b.Failures[0]; f.Category != "quota-issues" || f.Hard || f.SESSubtype != "MailboxFull" || f.By != "ses" {
		t.Errorf("SES type decides without a code: %+v", f)
	}
	b = parseString(t, `{"notificationType":"Complaint","complaint":{},"mail":{"source":"a@b.example"}}`)
	if b.Kind != KindNotBounce || len(b.Failures) != 0 {
		t.Errorf("complaint: %+v", b)
	}
}

func TestParseNonStandard(t *testing.T) {
	qmail := "From: MAILER-DAEMON@mx.example.net\nTo: alice@sender.example\nSubject: failure notice\n\n" +
		"Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n" +
		"This is a permanent error; I've given up. Sorry it didn't work out.\n\n<bob@example.org>:\n" +
		"192.0.2.25 does not like recipient.\nRemote host said: 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown\nGiving up on 192.0.2.25.\n\n" +
		"--- Below this line is a copy of the message.\n\nReturn-Path: <alice@sender.example>\nFrom: Alice <alice@sender.example>\nTo: bob@example.org\nSubject: x\n\nbody\n"
	b := parseString(t, qmail)
	if b.Kind != KindText || b.MTA != "qmail" || len(b.Failures) != 1 || b.SenderDomain != "sender.example" {
		t.Fatalf("%+v", b)
	}
	if f := b.Failures[0]; f.Recipient != "bob@example.org" || f.Status != "5.1.1" || f.ReplyCode != 550 || !f.Hard || f.Origin != OriginSMTPReject {
		t.Errorf("%+v", f)
	}
	// Not a bounce at all.
	b = parseString(t, "From: a@example.com\nTo: b@example.com\nSubject: lunch?\n\nSee you at noon.\n")
	if b.Kind != KindUnknown || len(b.Failures) != 0 {
		t.Errorf("plain mail: %+v", b)
	}
}

// TestHostileInput: deep nesting, huge headers, many parts, garbage and
// oversized input end quickly with an answer or an error, never a hang or a
// panic.
func TestHostileInput(t *testing.T) {
	var deep strings.Builder
	deep.WriteString("From: MAILER-DAEMON@x.example\nSubject: Undelivered\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&deep, "--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n", i, i+1)
	}
	var many strings.Builder
	many.WriteString("From: MAILER-DAEMON@x.example\nContent-Type: multipart/mixed; boundary=\"b\"\n\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&many, "--b\nContent-Type: text/plain\n\n550 5.1.1 <u%d@example.com> unknown\n", i)
	}
	many.WriteString("--b--\n")
	inputs := map[string]string{
		"deep nesting":       deep.String(),
		"many parts":         many.String(),
		"huge header":        "Subject: " + strings.Repeat("A", 3<<20) + "\n\nbody",
		"huge header fields": strings.Repeat("X-A: b\n", 200000) + "\nbody",
		"binary":             string(bytes.Repeat([]byte{0, 0xff, '\n', '\r', 0x1b}, 100000)),
		"unterminated":       "Content-Type: multipart/report; boundary=\"x\"\n\n--x\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nStatus: 5.1.1\n",
		"dsn flood":          "Content-Type: message/delivery-status\n\n" + strings.Repeat("Final-Recipient: rfc822; a@b.example\nStatus: 5.1.1\n\n", 20000),
		"one long line":      "From: MAILER-DAEMON@x.example\nSubject: failure\n\n" + strings.Repeat("550 5.1.1 x@y.example ", 200000),
		"escape sequences":   "From: MAILER-DAEMON@x.example\nSubject: failure\n\n<bob@example.org>:\n550 5.1.1 \x1b[2J\x1b]0;owned\x07 unknown\n",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			b := parseString(t, in) // fails the test if Parse hangs
			if len(b.Failures) > maxDSNRecipients+1 {
				t.Errorf("%d failures", len(b.Failures))
			}
		})
	}
	if _, err := ParseLimit(strings.NewReader(strings.Repeat("x", 2000)), 1000); err == nil {
		t.Error("no error over the size limit")
	}
}

func TestCorpusNotBounces(t *testing.T) {
	for file, kind := range map[string]string{"arf-20.eml": KindNotBounce, "lhost-amazonses-13.eml": KindNotBounce} {
		b := parseWithTimeout(t, corpusDir+"/eml/"+file)
		if b.Kind != kind || b.NotBounce == "" {
			t.Errorf("%s: kind %s (%s)", file, b.Kind, b.NotBounce)
		}
	}
}

// TestGlobalDSN: RFC 6533's message/global-delivery-status carries UTF-8
// addresses (utf-8 address type).
func TestGlobalDSN(t *testing.T) {
	msg := "From: MAILER-DAEMON@mx.example\nTo: a@sender.example\nSubject: Undelivered\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=global-delivery-status; boundary=\"G\"\n\n--G\nContent-Type: text/plain; charset=utf-8\n\nDelivery failed.\n\n" +
		"--G\nContent-Type: message/global-delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: utf-8; 用户@例子.example\n" +
		"Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 unknown user\n\n--G--\n"
	b := parseString(t, msg)
	if b.Kind != KindDSN || len(b.Failures) != 1 || b.Failures[0].Recipient != "用户@例子.example" || !b.Failures[0].Hard {
		t.Errorf("%+v", b.Failures)
	}
}

// Fuzz targets skip inputs above these sizes: each execution must stay
// cheap for the fuzzer to reach 100,000 executions a minute (issue 23 item
// 12); large inputs have their own tests (large_test.go, linear_test.go).
const (
	maxFuzzInput = 32 << 10 // whole messages, DSN bodies
	maxFuzzText  = 4 << 10  // replies and diagnostic texts
)

// FuzzParseBytes: any input gives a Bounce without panicking, and every
// failure is classified into one of the 16 categories.
func FuzzParseBytes(f *testing.F) {
	f.Add([]byte(crash273)) // issue 23 item 1: invalid UTF-8 before DSN fields in a text part
	f.Add([]byte("From: MAILER-DAEMON@x.example\nContent-Type: multipart/report; boundary=b\n\n--b\n\n<a@b.example>: 550 5.1.1 no\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n--b--\n"))
	f.Add([]byte("Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\n\n<a@b.example>: 550 user unknown\n"))
	f.Add([]byte("550-5.7.26 a\n550 5.7.26 b"))
	f.Add([]byte(`{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":"a@b.example"}]}}`))
	f.Add([]byte("From MAILER-DAEMON x\nSubject: failure\n\n<a@b.example>:\n550 5.1.1 unknown\n--- Below this line is a copy of the message.\n\nFrom: c@d.example\n"))
	f.Add([]byte("Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nStatus: 5.2.2\n--x--"))
	cats := map[string]bool{}
	for _, c := range Categories() {
		cats[c.Slug] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return // large inputs: large_test.go and linear_test.go
		}
		// ParseMessage, not ParseBytes: the latter turns a panic into a
		// note, which would hide it from the fuzzer.
		b, err := ParseMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range b.Failures {
			if !cats[x.Category] {
				t.Fatalf("category %q", x.Category)
			}
			if x.Hard && (x.Disposition != DispositionSuppress || !x.Permanent) {
				t.Fatalf("hard but %s, permanent %v", x.Disposition, x.Permanent)
			}
		}
	})
}
