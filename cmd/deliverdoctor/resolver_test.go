package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// TestMalformedResolverIsUsageError: a bad --resolver or --resolver-ca is
// exit 2 with one line, before any DNS work (issue 22, friction).
func TestMalformedResolverIsUsageError(t *testing.T) {
	for _, r := range []string{"127.0.0.1#", "127.0.0.1#port", "1.2.3.4:abc", "a b", "ftp://1.2.3.4", "tls://", "https:///dns-query", "1.2.3.4:0", "1.2.3.4:70000"} {
		_, stderr, code := runCLI(t, "check", "example.com", "--resolver", r)
		if code != 2 || !strings.HasPrefix(stderr, "deliverdoctor: --resolver") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("--resolver %q: exit %d, stderr %q", r, code, stderr)
		}
	}
	_, stderr, code := runCLI(t, "check", "example.com", "--resolver", "tls://127.0.0.1", "--resolver-ca", "/nonexistent.pem")
	if code != 2 || !strings.Contains(stderr, "--resolver-ca") {
		t.Errorf("--resolver-ca: exit %d, stderr %q", code, stderr)
	}
}

// TestResolverHashPort: dig's HOST#PORT works like HOST:PORT.
func TestResolverHashPort(t *testing.T) {
	srv := dnstest.Start(t, cliZone)
	out, stderr, code := runCLI(t, "check", "good.example", "--checks", "mx", "--resolver", strings.Replace(srv.Addr(), ":", "#", 1), "--format", "json")
	if code == 2 || code == 3 || !strings.Contains(out, "mx.good.example") {
		t.Fatalf("exit %d, stderr %q, out %s", code, stderr, out)
	}
}

// TestZoneOverLiveDNS is issue 22.1: a file holding only the new SPF and
// _dmarc records is laid over the live DNS; MX and the DKIM key still come
// from the resolver, and the report says which answers came from the file.
func TestZoneOverLiveDNS(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	live := `
overlay.example.      300 IN MX 10 mx.overlay.example.
mx.overlay.example.   300 IN A 203.0.114.20
overlay.example.      300 IN TXT "v=spf1 ip4:203.0.114.99 -all"
s1._domainkey.overlay.example. 300 IN TXT "v=DKIM1; k=ed25519; p=` + base64.StdEncoding.EncodeToString(pub) + `"
`
	srv := dnstest.Start(t, live)
	file := filepath.Join(t.TempDir(), "new-records.zone")
	if err := os.WriteFile(file, []byte(`$ORIGIN overlay.example.
@      300 IN TXT "v=spf1 ip4:203.0.114.20 -all"
_dmarc 300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@overlay.example"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, _ := runCLI(t, "check", "overlay.example", "--zone", file, "--resolver", srv.Addr(),
		"--checks", "mx,spf,dkim,dmarc", "--selector", "s1", "--format", "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\nstderr %s\n%s", err, stderr, out)
	}
	for _, c := range rep.Checks {
		if (c.Name == "mx" || c.Name == "dkim") && c.Status != findings.StatusPass {
			t.Errorf("%s: %s %q, want pass from live DNS", c.Name, c.Status, c.Summary)
		}
	}
	if !strings.Contains(out, "203.0.114.20 -all") || strings.Contains(out, "203.0.114.99") {
		t.Errorf("the file's SPF should replace the live one:\n%s", out)
	}
	if rep.DNS == nil || !slices.Contains(rep.DNS.FromZone, "overlay.example TXT") || !slices.Contains(rep.DNS.FromZone, "_dmarc.overlay.example TXT") ||
		slices.Contains(rep.DNS.FromZone, "overlay.example MX") {
		t.Errorf("from_zone = %+v", rep.DNS)
	}
	if srv.Count("overlay.example", 15) == 0 || srv.Count("s1._domainkey.overlay.example", 16) == 0 {
		t.Error("MX and the DKIM key were not asked of the live DNS")
	}
}

// TestFailedQuestionsInReport: a SERVFAIL shows in the report as the
// question that failed, and a CNAME loop is a permanent failure (exit 1,
// not 3).
func TestFailedQuestionsInReport(t *testing.T) {
	srv := dnstest.Start(t, cliZone+`
loop.example. 300 IN CNAME loop2.example.
loop2.example. 300 IN CNAME loop.example.
`)
	srv.Set("_dmarc.good.example", dnstest.Behavior{Rcode: 2})
	out, _, code := runCLI(t, "check", "good.example", "--checks", "dmarc", "--resolver", srv.Addr(), "--format", "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 3 || rep.DNS == nil || !slices.Contains(rep.DNS.Failed, "_dmarc.good.example TXT SERVFAIL") {
		t.Errorf("exit %d, dns %+v", code, rep.DNS)
	}
	out, _, code = runCLI(t, "mx", "loop.example", "--resolver", srv.Addr(), "--format", "json")
	if code != 1 || !strings.Contains(out, "mx.cname-loop") {
		t.Errorf("CNAME loop: exit %d\n%s", code, out)
	}
}
