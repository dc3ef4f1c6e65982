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
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

func TestHeadersCommand(t *testing.T) {
	msg, zone := signedMessage(t)
	zone += `example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"
`
	srv := dnstest.Start(t, zone)
	r := "--resolver=" + srv.Addr()
	received := "Authentication-Results: mx.receiver.example; spf=pass smtp.mailfrom=bounce@example.com; dkim=pass header.d=example.com header.s=cli; dmarc=pass header.from=example.com\r\n" +
		"Received: from mail.example.com (mail.example.com [192.0.2.10]) by mx.receiver.example (Postfix) with ESMTPS id A; Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
		"Return-Path: <bounce@example.com>\r\n"
	dir := t.TempDir()
	good := filepath.Join(dir, "good.eml")
	if err := os.WriteFile(good, []byte(received+msg), 0o600); err != nil {
		t.Fatal(err)
	}
	rogue := filepath.Join(dir, "rogue.eml")
	if err := os.WriteFile(rogue, []byte(strings.Replace(received, "192.0.2.10", "198.51.100.9", 1)+strings.Replace(msg, "Hello.", "Hello!", 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runCLI(t, "headers", good, r, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	rep := decodeReport(t, out)
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+"="+string(c.Status))
	}
	if rep.Kind != "message" || !slices.Equal(names, []string{"spf=pass", "dkim=pass", "dmarc=pass"}) {
		t.Errorf("kind %s checks %v", rep.Kind, names)
	}
	var spfData struct {
		Receiver struct{ Result, Source string } `json:"receiver"`
		Computed struct{ Result, Domain string } `json:"computed"`
		ClientIP string                          `json:"client_ip"`
		IPSource string                          `json:"client_ip_source"`
		Received []struct{ IP, Role string }     `json:"received"`
	}
	raw, _ := json.Marshal(rep.Checks[0].Data)
	if err := json.Unmarshal(raw, &spfData); err != nil {
		t.Fatal(err)
	}
	if spfData.Receiver.Result != "pass" || spfData.Computed.Result != "pass" || spfData.ClientIP != "192.0.2.10" || spfData.IPSource != "received" || spfData.Received[0].Role != "border" {
		t.Errorf("spf data %s", raw)
	}

	// From an unauthorised IP with a modified body: SPF fails, DKIM
	// fails, DMARC p=reject fails, each with its bounce codes.
	out, _, code = runCLI(t, "headers", rogue, r, "--format", "json")
	rep = decodeReport(t, out)
	if code != 1 || rep.Status != findings.StatusFail {
		t.Fatalf("rogue: exit %d status %s", code, rep.Status)
	}
	ids := findingIDs(rep)
	for _, want := range []string{"spf.fail", "dkim.body-hash-mismatch", "dmarc.message-fail"} {
		if !slices.Contains(ids, want) {
			t.Errorf("rogue findings %v lack %s", ids, want)
		}
	}
	for _, f := range rep.Findings {
		if f.Severity == findings.SeverityFail && len(f.BounceCodes) == 0 {
			t.Errorf("%s has no bounce codes", f.ID)
		}
	}

	// Text from standard input: the overview tables come first.
	var outb, errb bytes.Buffer
	code = run([]string{"headers", "-", r, "--no-color"}, &IO{In: strings.NewReader(received + msg), Out: &outb, Err: &errb})
	text := outb.String()
	if code != 0 || !strings.Contains(text, "RECEIVER SAW") || !strings.Contains(text, "border") || !strings.Contains(text, "Client:") {
		t.Errorf("text: exit %d\n%s%s", code, text, errb.String())
	}

	// Offline without zones: nothing can be evaluated, nothing fails.
	out, _, code = runCLI(t, "headers", good, "--offline", "--format", "json")
	if rep := decodeReport(t, out); code != 0 || rep.Status != findings.StatusSkip {
		t.Errorf("offline: exit %d status %s %v", code, rep.Status, findingIDs(rep))
	}

	_, stderr, code = runCLI(t, "headers", filepath.Join(dir, "missing.eml"))
	if code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("missing file: exit %d %q", code, stderr)
	}
}
