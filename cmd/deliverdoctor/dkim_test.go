package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

const exampleZone = "../../examples/example.com.zone"

func decodeReport(t *testing.T, out string) report.Report {
	t.Helper()
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return rep
}

func findingIDs(rep report.Report) []string {
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestDKIMCommand(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		status findings.Status
		ids    []string
	}{
		{[]string{"dkim", "example.com", "--selector", "s1"}, 0, findings.StatusPass, nil},
		// The whole key name, as DNS consoles show it, means the selector.
		{[]string{"dkim", "example.com", "--selector", "s1._domainkey.example.com"}, 0, findings.StatusPass, nil},
		{[]string{"dkim", "example.com"}, 0, findings.StatusPass, nil},
		{[]string{"dkim", "Example.COM", "--selector", "s1", "--selector", "nosuch"}, 1, findings.StatusFail, []string{"dkim.no-key"}},
		{[]string{"dkim", "elsewhere.example", "--selector", "s1"}, 0, findings.StatusSkip, nil},
		{[]string{"check", "example.com", "--selector", "s1", "--checks", "dkim"}, 0, findings.StatusPass, nil},
		{[]string{"check", "example.com", "--selector", "s1._domainkey.example.com", "--checks", "dkim"}, 0, findings.StatusPass, nil},
		{[]string{"check", "example.com", "--selector", "gone", "--checks", "dkim"}, 1, findings.StatusFail, []string{"dkim.no-key"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append(tt.args, "--zone", exampleZone, "--offline", "--format", "json")
			out, stderr, code := runCLI(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr)
			}
			rep := decodeReport(t, out)
			if rep.Status != tt.status || !slices.Equal(findingIDs(rep), tt.ids) {
				t.Errorf("status %s findings %v", rep.Status, findingIDs(rep))
			}
			if len(rep.Checks) != 1 || rep.Checks[0].Name != "dkim" {
				t.Fatalf("checks %+v", rep.Checks)
			}
			if rep.DNS == nil || rep.DNS.Sent != 0 {
				t.Errorf("offline run sent DNS packets: %+v", rep.DNS)
			}
		})
	}
	out, _, code := runCLI(t, "dkim", "example.com", "--zone", exampleZone, "--offline", "--no-color")
	if code != 0 || !strings.Contains(out, "SELECTOR") || !strings.Contains(out, "rsa 2048-bit") || !strings.Contains(out, "keys: s1") {
		t.Errorf("text output:\n%s", out)
	}
	for _, args := range [][]string{{"dkim"}, {"dkim", "not a domain"}, {"dkim", "example.com", "--selector", "a b"}, {"dkim", "192.0.2.1"},
		{"dkim", "example.com", "--selector", "s1._domainkey.other.example"}} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// signedMessage returns a message signed with a fresh Ed25519 key for
// d=example.com s=cli, and the zone text publishing the key.
func signedMessage(t *testing.T) (string, string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: Ada <ada@example.com>\r\nTo: grace@example.org\r\nSubject: hello\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHello.\r\n"
	var b bytes.Buffer
	if err := msgdkim.Sign(&b, strings.NewReader(msg), &msgdkim.SignOptions{Domain: "example.com", Selector: "cli", Signer: key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed}); err != nil {
		t.Fatal(err)
	}
	zone := `cli._domainkey.example.com. 300 IN TXT "v=DKIM1; k=ed25519; p=` + base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)) + `"` + "\n"
	return b.String(), zone
}

func TestDKIMVerifyCommand(t *testing.T) {
	msg, zone := signedMessage(t)
	srv := dnstest.Start(t, zone+"evil._domainkey.example.com. 300 IN TXT \"v=DKIM1; p=\\027[31mowned\"\n")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.eml", msg)
	bad := write("bad.eml", strings.Replace(msg, "Hello.", "Hello!", 1))
	evil := write("evil.eml", strings.Replace(strings.Replace(msg, "s=cli", "s=evil", 1), "From: Ada", "From: \x1b[2JAda", 1))
	r := "--resolver=" + srv.Addr()

	out, stderr, code := runCLI(t, "dkim", "verify", good, r, "--format", "json")
	if code != 0 {
		t.Fatalf("good: exit %d %s", code, stderr)
	}
	rep := decodeReport(t, out)
	if rep.Kind != "message" || rep.Status != findings.StatusPass {
		t.Errorf("good: %+v", rep)
	}
	var data struct {
		FromDomain string `json:"from_domain"`
		Signatures []struct {
			Domain, Selector, Algorithm, Result string
			Headers                             []string
			AuthorDomain                        bool `json:"author_domain"`
		}
	}
	raw, _ := json.Marshal(rep.Checks[0].Data)
	if err := json.Unmarshal(raw, &data); err != nil || len(data.Signatures) != 1 {
		t.Fatalf("data %s: %v", raw, err)
	}
	if s := data.Signatures[0]; s.Domain != "example.com" || s.Selector != "cli" || s.Algorithm != "ed25519-sha256" || s.Result != "pass" || !s.AuthorDomain || data.FromDomain != "example.com" {
		t.Errorf("signature %+v", data)
	}

	out, _, code = runCLI(t, "dkim", "verify", bad, r, "--format", "json")
	if rep := decodeReport(t, out); code != 1 || !slices.Contains(findingIDs(rep), "dkim.body-hash-mismatch") {
		t.Errorf("bad: exit %d findings %v", code, findingIDs(rep))
	}

	// Standard input, text output.
	var outb, errb bytes.Buffer
	code = run([]string{"dkim", "verify", "-", r, "--no-color"}, &IO{In: strings.NewReader(msg), Out: &outb, Err: &errb})
	if code != 0 || !strings.Contains(outb.String(), "ed25519-sha256") || !strings.Contains(outb.String(), "PASS") {
		t.Errorf("stdin: exit %d\n%s%s", code, outb.String(), errb.String())
	}

	// Hostile strings from the message and from DNS stay inert.
	out, _, _ = runCLI(t, "dkim", "verify", evil, r, "--no-color")
	if strings.ContainsAny(out, "\x1b") {
		t.Errorf("escape reached the terminal: %q", out)
	}

	// Offline with no zone for the key: not checked, not failed.
	out, _, code = runCLI(t, "dkim", "verify", good, "--offline", "--format", "json")
	if rep := decodeReport(t, out); code != 0 || rep.Status != findings.StatusSkip {
		t.Errorf("offline: exit %d status %s", code, rep.Status)
	}

	for _, args := range [][]string{
		{"dkim", "verify", filepath.Join(dir, "nonexistent.eml")},
		{"dkim", "verify", write("empty.eml", "")},
		{"dkim", "verify", write("body.eml", "\r\n\r\nno header")},
	} {
		_, stderr, code := runCLI(t, append(args, "--offline")...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "deliverdoctor: ") {
			t.Errorf("%v: exit %d stderr %q", args, code, stderr)
		}
	}
}
