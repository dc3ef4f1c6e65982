package headers

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

const body = "From: Ada Lovelace <ada@example.com>\r\n" +
	"To: Grace <grace@receiver.example>\r\n" +
	"Subject: Analytical engine\r\n" +
	"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
	"Message-ID: <engine-1@example.com>\r\n" +
	"\r\n" +
	"The engine weaves algebraic patterns.\r\n"

type fixture struct {
	key  ed25519.PrivateKey
	zone string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	zone := `example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"
mail.example.com. 300 IN A 192.0.2.10
mail.example.com. 300 IN TXT "v=spf1 a -all"
s1._domainkey.example.com. 300 IN TXT "v=DKIM1; k=ed25519; p=` + base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)) + `"
`
	return &fixture{key: key, zone: zone}
}

// signed returns body signed by d=example.com s=s1.
func (fx *fixture) signed(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	err := msgdkim.Sign(&b, strings.NewReader(body), &msgdkim.SignOptions{Domain: "example.com", Selector: "s1", Signer: fx.key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func trace(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

func analyze(t *testing.T, zone, msg string) (*Analysis, map[string]findings.CheckResult) {
	t.Helper()
	srv := dnstest.Start(t, zone)
	a, err := Analyze(context.Background(), srv.Client(t), []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]findings.CheckResult{}
	for _, c := range a.CheckResults() {
		checks[c.Name] = c
	}
	return a, checks
}

func findingIDs(c findings.CheckResult) []string {
	var ids []string
	for _, f := range c.Findings {
		ids = append(ids, f.ID+"/"+string(f.Severity))
	}
	slices.Sort(ids)
	return ids
}

func finding(c findings.CheckResult, id string) *findings.Finding {
	for i := range c.Findings {
		if c.Findings[i].ID == id {
			return &c.Findings[i]
		}
	}
	return nil
}

func TestGmailStyleAllPass(t *testing.T) {
	fx := newFixture(t)
	msg := trace(
		"Delivered-To: grace@receiver.example",
		"Received: by 2002:a05:7300:5c12:b0:10a:1234:abcd with SMTP id x18csp123456dyb;",
		"        Mon, 23 Nov 2026 02:00:01 -0800 (PST)",
		"Authentication-Results: mx.google.com;",
		"       dkim=pass header.i=@example.com header.s=s1 header.b=AAAAAAAA;",
		"       spf=pass (google.com: domain of bounce@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=bounce@example.com;",
		"       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
		"Received-SPF: pass (google.com: domain of bounce@example.com designates 192.0.2.10 as permitted sender) client-ip=192.0.2.10;",
		"Return-Path: <bounce@example.com>",
		"Received: from mail.example.com (mail.example.com. [192.0.2.10])",
		"        by mx.google.com with ESMTPS id abc.123 for <grace@receiver.example>;",
		"        Mon, 23 Nov 2026 02:00:00 -0800 (PST)",
		"Received: from app.internal (app.internal [10.0.0.5]) by mail.example.com with ESMTP; Mon, 23 Nov 2026 09:59:59 +0000",
	) + fx.signed(t)
	a, checks := analyze(t, fx.zone, msg)
	if a.Receiver != "mx.google.com" || a.ClientIP != "192.0.2.10" || a.ClientIPSource != SourceReceivedSPF || a.HELO != "mail.example.com" || a.ChainIP != "" {
		t.Errorf("receiver %q client %q from %q helo %q chain %q", a.Receiver, a.ClientIP, a.ClientIPSource, a.HELO, a.ChainIP)
	}
	var roles []string
	for _, h := range a.Received {
		roles = append(roles, h.Role)
	}
	if !slices.Equal(roles, []string{"receiver", "border", "sender"}) {
		t.Errorf("roles %v", roles)
	}
	if a.ReturnPath != "bounce@example.com" || a.SPF.Result != spf.ResultPass || a.SPF.Domain != "example.com" {
		t.Errorf("spf %+v", a.SPF)
	}
	if len(a.DKIM.Passing()) != 1 || a.DMARC.Verdict.Result != dmarc.ResultPass {
		t.Errorf("dkim %v dmarc %v", a.DKIM.Passing(), a.DMARC.Verdict.Result)
	}
	for _, name := range []string{"spf", "dkim", "dmarc"} {
		if c := checks[name]; c.Status != findings.StatusPass {
			t.Errorf("%s: %s %v", name, c.Status, findingIDs(c))
		}
	}
	if s := a.ReceiverDMARC(); s == nil || s.Result != "pass" || s.Detail != "example.com p=reject" {
		t.Errorf("receiver dmarc %+v", s)
	}
	if s := a.ReceiverDKIM(); len(s) != 1 || s[0].Detail != "d=example.com s=s1" {
		t.Errorf("receiver dkim %+v", s)
	}
	if !strings.Contains(checks["spf"].Summary, "receiver saw pass") {
		t.Errorf("spf summary %q", checks["spf"].Summary)
	}
}

func TestMicrosoftStyleBodyChanged(t *testing.T) {
	fx := newFixture(t)
	// Exchange Online writes no authserv-id and no Received-SPF here; its
	// internal hops use public IPv6 addresses inside its own domain.
	msg := trace(
		"Received: from AM6PR0102MB3456.eurprd01.prod.outlook.com (2603:10a6:209:2d::13) by AM6PR0102MB1234.eurprd01.prod.outlook.com with HTTPS; Mon, 23 Nov 2026 10:00:02 +0000",
		"Received: from AM6EUR05FT012.eop-eur05.prod.protection.outlook.com (2603:10a6:20b:3c::11) by AM6PR0102MB3456.eurprd01.prod.outlook.com (2603:10a6:209:2d::13) with Microsoft SMTP Server; Mon, 23 Nov 2026 10:00:01 +0000",
		"Authentication-Results: spf=pass (sender IP is 192.0.2.20) smtp.mailfrom=example.com; dkim=fail (body hash did not verify) header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100",
		"Received: from mail.example.com (192.0.2.20) by AM6EUR05FT012.mail.protection.outlook.com (10.233.240.90) with Microsoft SMTP Server id 15.20.1; Mon, 23 Nov 2026 10:00:00 +0000",
		"Return-Path: bounce@example.com",
	) + strings.Replace(fx.signed(t), "algebraic", "algebraical", 1)
	a, checks := analyze(t, fx.zone, msg)
	if a.ClientIP != "192.0.2.20" || a.ClientIPSource != SourceAuthResults || a.Receiver != "am6pr0102mb1234.eurprd01.prod.outlook.com" {
		t.Errorf("client %q from %q receiver %q", a.ClientIP, a.ClientIPSource, a.Receiver)
	}
	if a.HELO != "mail.example.com" {
		t.Errorf("helo %q", a.HELO)
	}
	f := finding(checks["dkim"], "dkim.body-hash-mismatch")
	if f == nil || !slices.ContainsFunc(f.Evidence, func(s string) bool { return strings.Contains(s, "the receiver recorded fail") }) {
		t.Fatalf("dkim findings %+v", checks["dkim"].Findings)
	}
	// SPF passes and aligns, so DMARC passes and the DKIM failure is a
	// failure of DKIM alone.
	if checks["dmarc"].Status != findings.StatusPass || checks["spf"].Status != findings.StatusPass || checks["dkim"].Status != findings.StatusFail {
		t.Errorf("statuses spf %s dkim %s dmarc %s", checks["spf"].Status, checks["dkim"].Status, checks["dmarc"].Status)
	}
}

func TestReceivedChainOnly(t *testing.T) {
	fx := newFixture(t)
	msg := trace(
		"Received: from mx.receiver.example (mx.receiver.example [10.1.1.1]) by store.receiver.example with LMTP; Mon, 23 Nov 2026 10:00:03 +0000",
		"Received: from localhost (localhost [127.0.0.1]) by mx.receiver.example (Postfix) with ESMTP id AAA; Mon, 23 Nov 2026 10:00:02 +0000",
		"Received: from relay.receiver.example (relay.receiver.example [203.0.113.5]) by mx.receiver.example (Postfix) with ESMTP id BBB; Mon, 23 Nov 2026 10:00:01 +0000",
		"Received: from outbound.example.net (outbound.example.net [198.51.100.7]) by relay.receiver.example (Postfix) with ESMTPS id CCC; Mon, 23 Nov 2026 10:00:00 +0000",
		"Received: from forged.example (forged.example [192.0.2.10]) by outbound.example.net; Mon, 23 Nov 2026 09:00:00 +0000",
		"Return-Path: <bounce@example.com>",
	) + fx.signed(t)
	a, checks := analyze(t, fx.zone, msg)
	if a.ClientIP != "198.51.100.7" || a.ClientIPSource != SourceReceived || a.HELO != "outbound.example.net" {
		t.Errorf("client %q from %q helo %q", a.ClientIP, a.ClientIPSource, a.HELO)
	}
	var roles []string
	for _, h := range a.Received {
		roles = append(roles, h.Role)
	}
	if !slices.Equal(roles, []string{"receiver", "receiver", "receiver", "border", "sender"}) {
		t.Errorf("roles %v", roles)
	}
	// 198.51.100.7 is not in example.com's SPF: fail. DKIM passes and
	// aligns, so DMARC passes anyway.
	if got := findingIDs(checks["spf"]); !slices.Equal(got, []string{"spf.fail/fail"}) {
		t.Errorf("spf findings %v", got)
	}
	if f := finding(checks["spf"], "spf.fail"); f == nil || len(f.BounceCodes) == 0 || !strings.Contains(f.Evidence[0], "198.51.100.7 (from received)") {
		t.Errorf("spf finding %+v", f)
	}
	if checks["dmarc"].Status != findings.StatusPass {
		t.Errorf("dmarc %s %v", checks["dmarc"].Status, findingIDs(checks["dmarc"]))
	}
}

func TestDMARCRejectAndReceiverComparison(t *testing.T) {
	fx := newFixture(t)
	// Unsigned, sent from an IP outside the SPF record, p=reject: the
	// receiver rejected (it recorded dmarc=fail) and so do we.
	msg := trace(
		"Authentication-Results: mx.receiver.example;",
		"  spf=pass smtp.mailfrom=bounce@example.com;",
		"  dkim=none;",
		"  dmarc=fail (p=REJECT) header.from=example.com",
		"Received-SPF: pass client-ip=198.51.100.99; envelope-from=bounce@example.com; helo=rogue.example.net",
		"Received: from rogue.example.net (rogue.example.net [198.51.100.99]) by mx.receiver.example; Mon, 23 Nov 2026 10:00:00 +0000",
		"Return-Path: <bounce@example.com>",
		// A forged result from the sending side, below the receiver's:
		"Authentication-Results: mx.receiver.example; dmarc=pass header.from=example.com",
	) + body
	a, checks := analyze(t, fx.zone, msg)
	if a.ReceiverDMARC().Result != "fail" {
		t.Fatalf("the receiver's own (topmost) result must be used: %+v", a.ReceiverDMARC())
	}
	f := finding(checks["dmarc"], "dmarc.message-fail")
	if f == nil || f.Severity != findings.SeverityFail || len(f.BounceCodes) == 0 {
		t.Fatalf("dmarc findings %+v", checks["dmarc"].Findings)
	}
	if !slices.ContainsFunc(f.Evidence, func(s string) bool { return strings.Contains(s, "recorded fail") && strings.Contains(s, "p=reject") }) {
		t.Errorf("receiver line missing: %v", f.Evidence)
	}
	// The receiver recorded SPF pass; now it fails: the record changed.
	sf := finding(checks["spf"], "spf.fail")
	if sf == nil || !strings.Contains(sf.Detail, "changed since") {
		t.Errorf("spf finding %+v", sf)
	}
	if !slices.Contains(findingIDs(checks["dkim"]), "dkim.unsigned/fail") {
		t.Errorf("dkim %v", findingIDs(checks["dkim"]))
	}
}

func TestReceiverFailsNowPasses(t *testing.T) {
	fx := newFixture(t)
	msg := trace(
		"Authentication-Results: mx.receiver.example; spf=softfail smtp.mailfrom=bounce@example.com; dkim=temperror header.d=example.com header.s=s1; dmarc=fail header.from=example.com",
		"Received: from mail.example.com (mail.example.com [192.0.2.10]) by mx.receiver.example; Mon, 23 Nov 2026 10:00:00 +0000",
		"Return-Path: <bounce@example.com>",
	) + fx.signed(t)
	_, checks := analyze(t, fx.zone, msg)
	for check, id := range map[string]string{"spf": "spf.receiver-fail/warn", "dkim": "dkim.receiver-fail/warn", "dmarc": "dmarc.receiver-fail/warn"} {
		if got := findingIDs(checks[check]); !slices.Contains(got, id) {
			t.Errorf("%s: %v lacks %s", check, got, id)
		}
		if checks[check].Status != findings.StatusWarn {
			t.Errorf("%s status %s", check, checks[check].Status)
		}
	}
}

func TestNullSenderUsesHELO(t *testing.T) {
	fx := newFixture(t)
	msg := trace(
		"Received: from mail.example.com (mail.example.com [192.0.2.10]) by mx.receiver.example; Mon, 23 Nov 2026 10:00:00 +0000",
		"Return-Path: <>",
	) + fx.signed(t)
	a, _ := analyze(t, fx.zone, msg)
	if !a.NullSender || a.SPF == nil || a.SPF.Domain != "mail.example.com" || a.SPF.Result != spf.ResultPass {
		t.Errorf("null sender: %+v / %+v", a, a.SPF)
	}
}

func TestGmailToGmailBorder(t *testing.T) {
	a := &Analysis{Receiver: "mx.google.com"}
	for i, v := range []string{
		"by 2002:a05:7300:5c12:b0:10a:1234:abcd with SMTP id x; Mon, 23 Nov 2026 02:00:01 -0800 (PST)",
		"from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a; Mon, 23 Nov 2026 02:00:00 -0800 (PST)",
		"by 2002:a17:906:1234::1 with SMTP id y; Mon, 23 Nov 2026 02:00:00 -0800 (PST)",
	} {
		h := ParseReceived(v)
		h.Index = i + 1
		a.Received = append(a.Received, h)
	}
	a.findClient()
	if a.ClientIP != "209.85.220.41" || a.ClientIPSource != SourceReceived || a.Received[1].Role != "border" || a.Received[2].Role != "sender" {
		t.Errorf("client %q roles %+v", a.ClientIP, a.Received)
	}
}

func TestNoTraceHeaders(t *testing.T) {
	fx := newFixture(t)
	a, checks := analyze(t, fx.zone, fx.signed(t))
	if a.ClientIP != "" || a.SPF != nil {
		t.Errorf("client %q", a.ClientIP)
	}
	if c := checks["spf"]; c.Status != findings.StatusSkip || !slices.Equal(findingIDs(c), []string{"spf.no-client-ip/info"}) {
		t.Errorf("spf %s %v", c.Status, findingIDs(c))
	}
	// DKIM alone aligns: DMARC passes without SPF.
	if checks["dmarc"].Status != findings.StatusPass || checks["dkim"].Status != findings.StatusPass {
		t.Errorf("dkim %s dmarc %s", checks["dkim"].Status, checks["dmarc"].Status)
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	srv := dnstest.Start(t, "")
	if _, err := Analyze(context.Background(), srv.Client(t), []byte("\r\n\r\njust a body")); err == nil {
		t.Error("a body without header must be refused")
	}
	// Hostile header values do not break the analysis.
	msg := "Received: from \x1b[2J ([999.1.1.1]) by (((\r\nAuthentication-Results: ;;;=;\r\nReceived-SPF: \r\nFrom: <>\r\n\r\nx"
	a, err := Analyze(context.Background(), srv.Client(t), []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	cs := a.CheckResults()
	if len(cs) != 3 {
		t.Fatalf("%d checks", len(cs))
	}
	if a.FromDomain != "" || cs[2].Status != findings.StatusFail {
		t.Errorf("from %q dmarc %s", a.FromDomain, cs[2].Status)
	}
	_ = dkim.NoPassCodes()
}
