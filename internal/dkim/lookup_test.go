package dkim

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// lintZone publishes one selector per problem under example.com.
func lintZone(t *testing.T) string {
	t.Helper()
	k2048, k1024, k512 := rsaKey(t, 2048), rsaKey(t, 1024), rsaKey(t, 512)
	edRaw := base64.StdEncoding.EncodeToString(ed25519Key().Public().(ed25519.PublicKey))
	return zoneTXT("good._domainkey.example.com", rsaRecord(t, k2048, "")) +
		zoneTXT("short._domainkey.example.com", rsaRecord(t, k1024, "")) +
		zoneTXT("weak._domainkey.example.com", rsaRecord(t, k512, "")) +
		zoneTXT("ed._domainkey.example.com", edRecord(ed25519Key())) +
		zoneTXT("revoked._domainkey.example.com", "v=DKIM1; k=rsa; p=") +
		zoneTXT("testing._domainkey.example.com", rsaRecord(t, k2048, "t=y; ")) +
		zoneTXT("sha1._domainkey.example.com", rsaRecord(t, k2048, "h=sha1; ")) +
		zoneTXT("service._domainkey.example.com", rsaRecord(t, k2048, "s=tlsrpt; ")) +
		zoneTXT("badb64._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIBIjANBgkq hkiG9w0B AQEFAA\"OCAQ8A") +
		zoneTXT("edasrsa._domainkey.example.com", "v=DKIM1; p="+edRaw) +
		zoneTXT("syntax._domainkey.example.com", "v=DKIM2; k=rsa; p="+spki(t, &k2048.PublicKey)) +
		zoneTXT("multi._domainkey.example.com", rsaRecord(t, k2048, "")) +
		zoneTXT("multi._domainkey.example.com", rsaRecord(t, k1024, "")) +
		zoneTXT("spf._domainkey.example.com", "v=spf1 -all") +
		"esp._domainkey.example.com. 300 IN CNAME esp.domainkey.u42.wl.esp.example.\n" +
		zoneTXT("esp.domainkey.u42.wl.esp.example", rsaRecord(t, k2048, "")) +
		"gone._domainkey.example.com. 300 IN CNAME gone.dkim.esp.example.\n" +
		"example.com. 300 IN MX 10 mx.example.com.\n"
}

func ids(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"/"+string(f.Severity))
	}
	slices.Sort(out)
	return out
}

func TestDiscoverSelectors(t *testing.T) {
	srv := dnstest.Start(t, lintZone(t))
	srv.Set("flaky._domainkey.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)
	ctx := context.Background()
	tests := []struct {
		selector string
		status   KeyStatus
		ids      []string // expected finding IDs/severities
	}{
		{"good", KeyStatusOK, nil},
		{"short", KeyStatusOK, []string{"dkim.short-key/warn"}},
		{"weak", KeyStatusOK, []string{"dkim.weak-key/fail"}},
		{"ed", KeyStatusOK, []string{"dkim.ed25519/info"}},
		{"revoked", KeyStatusRevoked, []string{"dkim.revoked/fail"}},
		{"testing", KeyStatusOK, []string{"dkim.testing/warn"}},
		{"sha1", KeyStatusOK, []string{"dkim.sha1/fail"}},
		{"service", KeyStatusOK, []string{"dkim.service/fail"}},
		{"badb64", KeyStatusInvalid, []string{"dkim.bad-key/fail"}},
		{"edasrsa", KeyStatusInvalid, []string{"dkim.bad-key/fail"}},
		{"syntax", KeyStatusInvalid, []string{"dkim.syntax/fail"}},
		{"multi", KeyStatusMultiple, []string{"dkim.multiple-records/fail"}},
		{"spf", KeyStatusNotKey, []string{"dkim.not-a-key/fail"}},
		{"esp", KeyStatusOK, nil},
		{"gone", KeyStatusMissing, []string{"dkim.no-key/fail"}},
		{"missing", KeyStatusMissing, []string{"dkim.no-key/fail"}},
		{"flaky", KeyStatusError, []string{"dkim.dns-error/error"}},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			d := Discover(ctx, c, "example.com", []string{tt.selector})
			if len(d.Keys) != 1 {
				t.Fatalf("keys %+v", d.Keys)
			}
			kr := d.Keys[0]
			if kr.Status != tt.status {
				t.Errorf("status %s, want %s (%s)", kr.Status, tt.status, kr.Error)
			}
			if got := ids(d.Findings); !slices.Equal(got, tt.ids) {
				t.Errorf("findings %v, want %v", got, tt.ids)
				for _, f := range d.Findings {
					t.Logf("%s: %s", f.ID, f.Title)
				}
			}
			for _, f := range d.Findings {
				if f.Severity == findings.SeverityFail && (len(f.BounceCodes) == 0 || f.Fix == "") {
					t.Errorf("%s: a failure needs bounce codes and a fix: %+v", f.ID, f)
				}
				if f.Check != "dkim" || len(f.Refs) == 0 {
					t.Errorf("%s: check %q refs %v", f.ID, f.Check, f.Refs)
				}
			}
			want := findings.StatusFromFindings(d.Findings)
			if got := d.CheckResult().Status; got != want {
				t.Errorf("check status %s, want %s", got, want)
			}
		})
	}
}

func TestDiscoverDetails(t *testing.T) {
	srv := dnstest.Start(t, lintZone(t))
	c := srv.Client(t)
	ctx := context.Background()

	d := Discover(ctx, c, "Example.COM.", []string{"esp", "ESP", "good", "gone"})
	if d.Checked != 3 || d.SelectorsFrom != "flag" {
		t.Errorf("checked %d from %s", d.Checked, d.SelectorsFrom)
	}
	esp := d.Keys[0]
	if esp.Selector != "esp" || !slices.Equal(esp.CNAMEs, []string{"esp.domainkey.u42.wl.esp.example."}) ||
		esp.Chain() != "esp._domainkey.example.com → esp.domainkey.u42.wl.esp.example" {
		t.Errorf("CNAME chain: %+v %q", esp, esp.Chain())
	}
	var gone findings.Finding
	for _, f := range d.Findings {
		if strings.Contains(f.Title, "gone._domainkey") {
			gone = f
		}
	}
	if !strings.Contains(gone.Title, "CNAME to gone.dkim.esp.example") || !strings.Contains(gone.Fix, "Activate DKIM") {
		t.Errorf("dangling CNAME finding: %+v", gone)
	}
	if got := d.CheckResult().Summary; got != "keys: esp (rsa 2048-bit), good (rsa 2048-bit)" {
		t.Errorf("summary %q", got)
	}

	// The sha1 fix gives the corrected record.
	d = Discover(ctx, c, "example.com", []string{"sha1"})
	if f := d.Findings[0]; !strings.Contains(f.Fix, `"v=DKIM1; k=rsa; h=sha256; p=MIIB`) {
		t.Errorf("sha1 fix %q", f.Fix)
	}
	// Each name is asked once, even when given twice.
	if n, once := srv.AskedOnce(c, "esp._domainkey.example.com", dns.TypeTXT); !once {
		t.Errorf("esp asked %d times", n)
	}
}

func TestDiscoverBuiltin(t *testing.T) {
	zone := lintZone(t) +
		zoneTXT("google._domainkey.signs.example", rsaRecord(t, rsaKey(t, 2048), "")) +
		zoneTXT("selector2._domainkey.signs.example", "v=DKIM1; p=") +
		"selector1._domainkey.m365.example. 300 IN CNAME selector1-m365-example._domainkey.tenant.onmicrosoft.example.\n" +
		zoneTXT("selector1-m365-example._domainkey.tenant.onmicrosoft.example", rsaRecord(t, rsaKey(t, 2048), "")) +
		"selector2._domainkey.m365.example. 300 IN CNAME selector2-m365-example._domainkey.tenant.onmicrosoft.example.\n" +
		zoneTXT("*.wild.example", "v=spf1 -all") +
		zoneTXT("nothing.example", "v=spf1 -all")
	srv := dnstest.Start(t, zone)
	c := srv.Client(t)
	ctx := context.Background()
	n := len(KnownSelectors())
	if n < 40 {
		t.Fatalf("only %d built-in selectors", n)
	}

	d := Discover(ctx, c, "signs.example", nil)
	if d.SelectorsFrom != "builtin" || d.Checked != n || len(d.NotFound) != n-2 {
		t.Errorf("from %s checked %d not found %d", d.SelectorsFrom, d.Checked, len(d.NotFound))
	}
	// A revoked built-in selector is a note (retiring keys is correct),
	// not a failure.
	if got := ids(d.Findings); !slices.Equal(got, []string{"dkim.revoked/info"}) {
		t.Errorf("findings %v", got)
	}
	if st := d.CheckResult().Status; st != findings.StatusPass {
		t.Errorf("status %s", st)
	}
	if d.Keys[0].Selector != "google" || d.Keys[0].UsedBy == "" {
		t.Errorf("first key %+v", d.Keys[0])
	}

	// Microsoft 365: selector1 delegated and working, selector2 dangling.
	d = Discover(ctx, c, "m365.example", nil)
	if got := ids(d.Findings); !slices.Equal(got, []string{"dkim.dangling-cname/warn"}) {
		t.Errorf("m365 findings %v", got)
	}
	if len(d.Usable()) != 1 || d.Usable()[0].Selector != "selector1" {
		t.Errorf("usable %+v", d.Usable())
	}

	// Nothing found (a wildcard TXT is not a key): warn, never fail. A
	// client each, so nothing.example's counters are its own.
	var retried int64
	for _, dom := range []string{"nothing.example", "wild.example"} {
		c := srv.Client(t)
		d = Discover(ctx, c, dom, nil)
		if dom == "nothing.example" {
			retried = c.Stats().Servers[0].Retried
		}
		if got := ids(d.Findings); !slices.Equal(got, []string{"dkim.no-selector-found/warn"}) {
			t.Errorf("%s findings %v", dom, got)
		}
		if !strings.Contains(d.Findings[0].Title, "common selectors") {
			t.Errorf("title %q", d.Findings[0].Title)
		}
	}
	// Every built-in name was asked exactly once per domain. dnstest cannot
	// tell a retransmission from a new question (the client gives each
	// packet an ID of its own), so packets beyond one a name must be the
	// client's own retransmissions or retries (a loaded machine causes
	// some), never a second lookup.
	var extra int64
	for _, ks := range KnownSelectors() {
		got := srv.Count(ks.Selector+"._domainkey.nothing.example", dns.TypeTXT)
		if got < 1 {
			t.Errorf("%s not asked", ks.Selector)
		}
		extra += int64(got - 1)
	}
	if extra > retried {
		t.Errorf("%d packets beyond one a selector, but the client resent only %d: a selector was looked up twice", extra, retried)
	}
}

func TestDiscoverDNSFailureIsNotMissing(t *testing.T) {
	srv := dnstest.Start(t, "")
	for _, ks := range KnownSelectors() {
		srv.Set(ks.Selector+"._domainkey.down.example", dnstest.Behavior{Drop: true})
	}
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 100_000_000, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := Discover(context.Background(), c, "down.example", nil)
	got := ids(d.Findings)
	if !slices.Equal(got, []string{"dkim.dns-error/error"}) {
		t.Fatalf("findings %v", got)
	}
	if d.CheckResult().Status != findings.StatusError {
		t.Errorf("status %s", d.CheckResult().Status)
	}
}

func TestLookupErrors(t *testing.T) {
	srv := dnstest.Start(t, lintZone(t))
	srv.Set("flaky._domainkey.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)
	ctx := context.Background()
	for sel, want := range map[string]error{
		"good": nil, "missing": ErrNoKey, "revoked": ErrRevoked, "badb64": ErrBadBase64,
		"multi": ErrMultipleKeys, "spf": ErrNotKey, "flaky": dnsx.ErrTemporary, "bad..sel": dnsx.ErrInvalidName,
	} {
		kr, err := Lookup(ctx, c, sel, "example.com")
		if !errors.Is(err, want) {
			t.Errorf("%s: err %v, want %v", sel, err, want)
		}
		if kr == nil || kr.Selector != strings.ToLower(sel) {
			t.Errorf("%s: result %+v", sel, kr)
		}
	}
}

func TestKnownSelectorsData(t *testing.T) {
	for _, ks := range KnownSelectors() {
		if _, err := dnsx.CanonicalName(KeyName(ks.Selector, "example.com")); err != nil || ks.Selector != strings.ToLower(ks.Selector) {
			t.Errorf("selector %q: %v", ks.Selector, err)
		}
		if ks.UsedBy == "" || ks.Source == "" {
			t.Errorf("%s: no source note", ks.Selector)
		}
	}
	for _, want := range []string{"google", "selector1", "selector2", "k1", "k2", "k3", "mandrill", "mte1", "s1", "s2", "smtpapi", "mailo", "pic", "smtp", "krs", "pm", "zoho", "zmail", "fm1", "fm2", "fm3", "default", "dkim", "mail", "key1"} {
		if _, ok := knownSelector(want); !ok {
			t.Errorf("built-in list lacks %s", want)
		}
	}
}

// TestDiscoverGuessTimeoutIsANote (issue 22.4): one guessed selector that
// times out must not turn a domain with a good key into an error; a
// selector the user named that times out still is one.
func TestDiscoverGuessTimeoutIsANote(t *testing.T) {
	srv := dnstest.Start(t, zoneTXT("s1._domainkey.good.example", rsaRecord(t, rsaKey(t, 2048), "")))
	guess := KnownSelectors()[0].Selector
	srv.Set(guess+"._domainkey.good.example", dnstest.Behavior{Drop: true})
	srv.Set(guess+"._domainkey.nokey.example", dnstest.Behavior{Drop: true})
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 100_000_000, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := Discover(ctx, c, "good.example", nil)
	if got := ids(d.Findings); !slices.Equal(got, []string{"dkim.guess-unanswered/info"}) {
		t.Errorf("findings %v", got)
	}
	if st := d.CheckResult().Status; st != findings.StatusPass {
		t.Errorf("status %s, want pass: s1 has a good key", st)
	}
	// Only guesses answered, none with a key: the usual "no key at the
	// common selectors" warning plus the note, never an error.
	d = Discover(ctx, c, "nokey.example", nil)
	if got := ids(d.Findings); !slices.Equal(got, []string{"dkim.guess-unanswered/info", "dkim.no-selector-found/warn"}) {
		t.Errorf("nokey findings %v", got)
	}
	// The user named the selector: its timeout is an error.
	d = Discover(ctx, c, "good.example", []string{"s1", guess})
	if got := ids(d.Findings); !slices.Contains(got, "dkim.dns-error/error") {
		t.Errorf("named selector findings %v", got)
	}
}

func TestNormalizeSelector(t *testing.T) {
	for in, want := range map[string]string{
		"s1": "s1", " S1 ": "s1", "s1._domainkey.example.com": "s1", "s1._domainkey.example.com.": "s1",
		"s1._domainkey": "s1", "google._domainkey.Example.COM": "google",
	} {
		if got, err := NormalizeSelector(in, "example.com"); err != nil || got != want {
			t.Errorf("NormalizeSelector(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a b", "x@y", "._domainkey.example.com"} {
		if _, err := NormalizeSelector(bad, "example.com"); err == nil {
			t.Errorf("NormalizeSelector(%q): no error", bad)
		}
	}
	_, err := NormalizeSelector("s1._domainkey.other.example", "example.com")
	if err == nil || !strings.Contains(err.Error(), "give the selector alone (s1)") {
		t.Errorf("other domain: %v", err)
	}
}
