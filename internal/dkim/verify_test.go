package dkim

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const plainMsg = "From: Ada Lovelace <ada@example.com>\r\n" +
	"To: Grace Hopper <grace@example.org>\r\n" +
	"Subject: Analytical engine\r\n" +
	"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
	"Message-ID: <engine-1@example.com>\r\n" +
	"\r\n" +
	"The engine weaves algebraic patterns.\r\n" +
	"\r\n" +
	"Ada\r\n"

func sign(t testing.TB, msg string, o msgdkim.SignOptions) string {
	t.Helper()
	if o.HeaderKeys == nil {
		o.HeaderKeys = []string{"From", "To", "Subject", "Date", "Message-ID"}
	}
	if o.HeaderCanonicalization == "" {
		o.HeaderCanonicalization, o.BodyCanonicalization = msgdkim.CanonicalizationRelaxed, msgdkim.CanonicalizationRelaxed
	}
	var b bytes.Buffer
	if err := msgdkim.Sign(&b, strings.NewReader(msg), &o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func verifyWith(t testing.TB, c dnsx.Resolver, msg string) *MessageVerification {
	t.Helper()
	m, err := VerifyMessage(context.Background(), c, []byte(msg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func results(m *MessageVerification) []Result {
	var out []Result
	for _, s := range m.Signatures {
		out = append(out, s.Result)
	}
	return out
}

func TestVerifyRFC8463Example(t *testing.T) {
	zone, err := os.ReadFile("testdata/rfc8463-a2.zone")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := os.ReadFile("testdata/rfc8463-a3.eml")
	if err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, string(zone))
	m := verifyWith(t, srv.Client(t), string(msg))
	if got := results(m); !slices.Equal(got, []Result{ResultPass, ResultPass}) {
		t.Fatalf("results %v: %+v %+v", got, m.Signatures[0], m.Signatures[1])
	}
	ed, rs := m.Signatures[0], m.Signatures[1]
	if ed.Algorithm != "ed25519-sha256" || ed.Selector != "brisbane" || rs.Selector != "test" || ed.Key.Key.Type != KeyEd25519 {
		t.Errorf("signatures %+v / %+v", ed, rs)
	}
	if !slices.Equal(ed.Headers, []string{"from", "to", "subject", "date", "message-id", "from", "subject", "date"}) {
		t.Errorf("h= %q", ed.Headers)
	}
	if m.FromDomain != "football.example.com" || !ed.AuthorDomain || ed.SignedAt.Unix() != 1528637909 {
		t.Errorf("from %q author %v t %v", m.FromDomain, ed.AuthorDomain, ed.SignedAt)
	}
	// The RSA key of the example is 1024 bits: passes, with a warning.
	if got := ids(m.Findings); !slices.Contains(got, "dkim.short-key/warn") || slices.ContainsFunc(got, func(s string) bool { return strings.HasSuffix(s, "/fail") }) {
		t.Errorf("findings %v", got)
	}
	if st := m.CheckResult().Status; st != findings.StatusWarn {
		t.Errorf("status %s", st)
	}

	// Tampering: a body change breaks both body hashes, a header change
	// both signatures; an unsigned field may be added.
	tamper := []struct {
		from, to string
		want     Result
		id       string
	}{
		{"hungry", "angry", ResultFail, "dkim.body-hash-mismatch"},
		{"Subject: Is dinner ready?", "Subject: Is lunch ready?", ResultFail, "dkim.signature-mismatch"},
		{"Message-ID:", "X-Mailer: any\r\nMessage-ID:", ResultPass, ""},
	}
	for _, tt := range tamper {
		m := verifyWith(t, srv.Client(t), strings.Replace(string(msg), tt.from, tt.to, 1))
		if got := results(m); !slices.Equal(got, []Result{tt.want, tt.want}) {
			t.Errorf("%s→%s: %v", tt.from, tt.to, got)
		}
		if tt.id != "" && !slices.Contains(ids(m.Findings), tt.id+"/fail") {
			t.Errorf("%s→%s: findings %v", tt.from, tt.to, ids(m.Findings))
		}
	}
}

func TestVerifyRFC6376KeyPair(t *testing.T) {
	// RFC 6376 Appendix A.1's message, signed with Appendix C's key and
	// verified against the key record C.3 publishes.
	msg := "From: Joe SixPack <joe@football.example.com>\r\nTo: Suzie Q <suzie@shopping.example.net>\r\n" +
		"Subject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
		"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n\r\nHi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n"
	signed := sign(t, msg, msgdkim.SignOptions{Domain: "example.com", Selector: "brisbane", Signer: rfc6376Key(t),
		HeaderCanonicalization: msgdkim.CanonicalizationSimple, BodyCanonicalization: msgdkim.CanonicalizationSimple})
	srv := dnstest.Start(t, zoneTXT("brisbane._domainkey.example.com", rfc6376KeyRecord))
	m := verifyWith(t, srv.Client(t), signed)
	if got := results(m); !slices.Equal(got, []Result{ResultPass}) {
		t.Fatalf("%v: %s", got, m.Signatures[0].Reason)
	}
	if m.Signatures[0].AuthorDomain {
		t.Error("d=example.com is not the author domain football.example.com")
	}
	if !slices.Contains(ids(m.Findings), "dkim.not-author-domain/info") {
		t.Errorf("findings %v", ids(m.Findings))
	}
}

// TestVerifyMutations signs messages with generated keys and breaks them
// one way at a time; each must produce its own finding.
func TestVerifyMutations(t *testing.T) {
	k2048, k1024, k512 := rsaKey(t, 2048), rsaKey(t, 1024), rsaKey(t, 512)
	other := rfc6376Key(t)
	ed := ed25519Key()
	zone := zoneTXT("rsa._domainkey.example.com", rsaRecord(t, k2048, "")) +
		zoneTXT("short._domainkey.example.com", rsaRecord(t, k1024, "")) +
		zoneTXT("weak._domainkey.example.com", rsaRecord(t, k512, "")) +
		zoneTXT("ed._domainkey.example.com", edRecord(ed)) +
		zoneTXT("revoked._domainkey.example.com", "v=DKIM1; k=rsa; p=") +
		zoneTXT("rotated._domainkey.example.com", rsaRecord(t, other, "")) +
		zoneTXT("edasrsa._domainkey.example.com", strings.Replace(edRecord(ed), "k=ed25519; ", "", 1)) +
		zoneTXT("sha1only._domainkey.example.com", rsaRecord(t, k2048, "h=sha1; ")) +
		zoneTXT("strict._domainkey.example.com", rsaRecord(t, k2048, "t=s; ")) +
		zoneTXT("testing._domainkey.example.com", rsaRecord(t, k2048, "t=y; ")) +
		zoneTXT("typed._domainkey.example.com", edRecord(ed)) +
		"esp._domainkey.example.com. 300 IN CNAME key.esp.example.\n" +
		zoneTXT("key.esp.example", rsaRecord(t, k2048, ""))
	srv := dnstest.Start(t, zone)
	srv.Set("flaky._domainkey.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)

	o := func(sel string, signer crypto.Signer) msgdkim.SignOptions {
		return msgdkim.SignOptions{Domain: "example.com", Selector: sel, Signer: signer}
	}
	tests := []struct {
		name   string
		msg    string
		result Result
		ids    []string // must all be present
		status findings.Status
	}{
		{"rsa 2048", sign(t, plainMsg, o("rsa", k2048)), ResultPass, nil, findings.StatusPass},
		{"rsa 1024", sign(t, plainMsg, o("short", k1024)), ResultPass, []string{"dkim.short-key/warn"}, findings.StatusWarn},
		{"ed25519", sign(t, plainMsg, o("ed", ed)), ResultPass, nil, findings.StatusPass},
		{"delegated via CNAME", sign(t, plainMsg, o("esp", k2048)), ResultPass, nil, findings.StatusPass},
		{"simple/simple", sign(t, plainMsg, msgdkim.SignOptions{Domain: "example.com", Selector: "rsa", Signer: k2048, HeaderCanonicalization: "simple", BodyCanonicalization: "simple"}), ResultPass, nil, findings.StatusPass},
		{"LF line endings", strings.ReplaceAll(sign(t, plainMsg, o("rsa", k2048)), "\r\n", "\n"), ResultPass, nil, findings.StatusPass},
		{"body changed", strings.Replace(sign(t, plainMsg, o("rsa", k2048)), "algebraic", "algebraical", 1), ResultFail, []string{"dkim.body-hash-mismatch/fail"}, findings.StatusFail},
		{"header changed", strings.Replace(sign(t, plainMsg, o("rsa", k2048)), "Subject: Analytical", "Subject: [list] Analytical", 1), ResultFail, []string{"dkim.signature-mismatch/fail"}, findings.StatusFail},
		{"From changed", strings.Replace(sign(t, plainMsg, o("ed", ed)), "ada@example.com", "eve@example.com", 1), ResultFail, []string{"dkim.signature-mismatch/fail"}, findings.StatusFail},
		{"key rotated in DNS", sign(t, plainMsg, o("rotated", k2048)), ResultFail, []string{"dkim.key-mismatch/fail"}, findings.StatusFail},
		{"key revoked", sign(t, plainMsg, o("revoked", k2048)), ResultPermError, []string{"dkim.revoked/fail"}, findings.StatusFail},
		{"selector missing", sign(t, plainMsg, o("nosuch", k2048)), ResultPermError, []string{"dkim.no-key/fail"}, findings.StatusFail},
		{"key lookup SERVFAIL", sign(t, plainMsg, o("flaky", k2048)), ResultTempError, []string{"dkim.dns-error/error"}, findings.StatusError},
		{"weak 512-bit key", sign(t, plainMsg, o("weak", k512)), ResultPolicy, []string{"dkim.weak-key/fail"}, findings.StatusFail},
		{"Ed25519 key without k=", sign(t, plainMsg, o("edasrsa", ed)), ResultPermError, []string{"dkim.bad-key/fail"}, findings.StatusFail},
		{"key allows only sha1", sign(t, plainMsg, o("sha1only", k2048)), ResultPermError, []string{"dkim.hash-not-allowed/fail"}, findings.StatusFail},
		{"key type mismatch", sign(t, plainMsg, o("typed", k2048)), ResultPermError, []string{"dkim.key-type-mismatch/fail"}, findings.StatusFail},
		{"t=s with i= in a subdomain", sign(t, plainMsg, msgdkim.SignOptions{Domain: "example.com", Selector: "strict", Signer: k2048, Identifier: "ada@news.example.com"}), ResultPermError, []string{"dkim.strict-identity/fail"}, findings.StatusFail},
		{"t=y testing key", sign(t, plainMsg, o("testing", k2048)), ResultPass, []string{"dkim.testing/warn"}, findings.StatusWarn},
		{"i= outside d=", sign(t, plainMsg, msgdkim.SignOptions{Domain: "example.com", Selector: "rsa", Signer: k2048, Identifier: "ada@example.net"}), ResultPermError, []string{"dkim.identity-mismatch/fail"}, findings.StatusFail},
		{"rsa-sha1", strings.Replace(sign(t, plainMsg, o("rsa", k2048)), "a=rsa-sha256", "a=rsa-sha1", 1), ResultPolicy, []string{"dkim.sha1-signature/fail"}, findings.StatusFail},
		{"l= body length", strings.Replace(sign(t, plainMsg, o("rsa", k2048)), " s=rsa;", " l=20; s=rsa;", 1), ResultPolicy, []string{"dkim.length-tag/warn"}, findings.StatusWarn},
		{"From not signed", strings.Replace(sign(t, plainMsg, o("rsa", k2048)), "h=From:To:", "h=To:", 1), ResultPermError, []string{"dkim.from-not-signed/fail"}, findings.StatusFail},
		{"missing b=", strings.Replace(sign(t, plainMsg, o("rsa", k2048)), " b=", " z=", 1), ResultPermError, []string{"dkim.signature-syntax/fail"}, findings.StatusFail},
		{"unsigned", plainMsg, "", []string{"dkim.unsigned/fail"}, findings.StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := verifyWith(t, c, tt.msg)
			var want []Result
			if tt.result != "" {
				want = []Result{tt.result}
			}
			if got := results(m); !slices.Equal(got, want) {
				t.Errorf("results %v, want %v", got, want)
				for _, s := range m.Signatures {
					t.Logf("%s: %s (%s)", s.Label(), s.Reason, s.VerifierError)
				}
			}
			got := ids(m.Findings)
			for _, id := range tt.ids {
				if !slices.Contains(got, id) {
					t.Errorf("findings %v lack %s", got, id)
				}
			}
			if st := m.CheckResult().Status; st != tt.status {
				t.Errorf("status %s, want %s (findings %v)", st, tt.status, got)
			}
			for _, f := range m.Findings {
				if f.Severity == findings.SeverityFail && (f.Fix == "" || len(f.BounceCodes) == 0 || len(f.Refs) == 0) {
					t.Errorf("%s lacks fix, codes or refs: %+v", f.ID, f)
				}
			}
		})
	}
}

func TestVerifyExpired(t *testing.T) {
	k := rsaKey(t, 2048)
	c := dnstest.Start(t, zoneTXT("rsa._domainkey.example.com", rsaRecord(t, k, ""))).Client(t)
	msg := sign(t, plainMsg, msgdkim.SignOptions{Domain: "example.com", Selector: "rsa", Signer: k, Expiration: time.Now().Add(time.Hour)})
	for _, tt := range []struct {
		now    time.Time
		result Result
	}{{time.Now(), ResultPass}, {time.Now().Add(2 * time.Hour), ResultPermError}} {
		m, err := VerifyMessage(context.Background(), c, []byte(msg), &VerifyOptions{Now: func() time.Time { return tt.now }})
		if err != nil {
			t.Fatal(err)
		}
		if got := results(m); !slices.Equal(got, []Result{tt.result}) {
			t.Errorf("at %s: %v", tt.now, got)
		}
		if tt.result == ResultPermError && !slices.Equal(ids(m.Findings), []string{"dkim.expired/fail"}) {
			t.Errorf("findings %v", ids(m.Findings))
		}
	}
}

func TestVerifySeveralSignatures(t *testing.T) {
	k := rsaKey(t, 2048)
	zone := zoneTXT("rsa._domainkey.example.com", rsaRecord(t, k, "")) +
		zoneTXT("esp._domainkey.esp.example", rsaRecord(t, k, ""))
	c := dnstest.Start(t, zone).Client(t)
	espSigned := func(authorSel, espSel string) string {
		m := sign(t, plainMsg, msgdkim.SignOptions{Domain: "example.com", Selector: authorSel, Signer: k})
		return sign(t, m, msgdkim.SignOptions{Domain: "esp.example", Selector: espSel, Signer: k})
	}
	// The author's signature passes, the ESP's key is missing: the
	// ESP's failure cannot cost delivery, so it is a warning.
	m := verifyWith(t, c, espSigned("rsa", "gone"))
	if got := results(m); !slices.Equal(got, []Result{ResultPermError, ResultPass}) {
		t.Fatalf("results %v", got)
	}
	if got := ids(m.Findings); !slices.Equal(got, []string{"dkim.no-key/warn"}) || m.CheckResult().Status != findings.StatusWarn {
		t.Errorf("findings %v status %s", got, m.CheckResult().Status)
	}
	// The ESP's passes, the author's does not: still a failure, and the
	// passing signature is not the author's domain.
	m = verifyWith(t, c, espSigned("gone", "esp"))
	if got := ids(m.Findings); !slices.Equal(got, []string{"dkim.no-key/fail", "dkim.not-author-domain/info"}) {
		t.Errorf("findings %v", got)
	}
	if m.Signatures[0].Label() != "signature 1 (d=esp.example s=esp)" {
		t.Errorf("label %q", m.Signatures[0].Label())
	}
}

func TestVerifyLimits(t *testing.T) {
	k := rsaKey(t, 2048)
	srv := dnstest.Start(t, zoneTXT("rsa._domainkey.example.com", rsaRecord(t, k, "")))
	c := srv.Client(t)
	msg := plainMsg
	for i := 0; i < 20; i++ {
		msg = sign(t, msg, msgdkim.SignOptions{Domain: "example.com", Selector: "rsa", Signer: k})
	}
	m := verifyWith(t, c, msg)
	if len(m.Signatures) != DefaultMaxSignatures || !slices.Contains(ids(m.Findings), "dkim.too-many-signatures/warn") {
		t.Errorf("%d signatures, findings %v", len(m.Signatures), ids(m.Findings))
	}
	if n, once := srv.AskedOnce(c, "rsa._domainkey.example.com", dns.TypeTXT); !once {
		t.Errorf("key asked %d times", n)
	}

	// A header without body, garbage, and an oversized message.
	if _, err := VerifyMessage(context.Background(), c, []byte("From: a@example.com\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=; b="), nil); err != nil {
		t.Errorf("header-only message: %v", err)
	}
	if _, err := VerifyMessage(context.Background(), c, []byte("\r\n\r\nbody only"), nil); err == nil {
		t.Error("a body without header must be refused")
	}
	if _, err := ReadMessage(strings.NewReader(strings.Repeat("x", 2<<20)), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	b, err := ReadMessage(strings.NewReader("From ada@example.com Mon Nov 23 10:00:00 2026\nFrom: ada@example.com\n\nhi\n"), 0)
	if err != nil || !bytes.HasPrefix(b, []byte("From: ")) {
		t.Errorf("mbox separator not dropped: %q %v", b, err)
	}
}

// TestGoMsgauthErrorClasses pins what go-msgauth's IsTempFail and
// IsPermFail see: they use type assertions, so a temporary DNS error is a
// tempfail only through tempLookupError, and a wrapped error is neither.
func TestGoMsgauthErrorClasses(t *testing.T) {
	k := rsaKey(t, 2048)
	msg := sign(t, plainMsg, msgdkim.SignOptions{Domain: "example.com", Selector: "rsa", Signer: k})
	dnsErr := &dnsx.Error{Name: "rsa._domainkey.example.com.", Reason: "SERVFAIL", Err: dnsx.ErrTemporary}
	for _, tt := range []struct {
		name     string
		lookup   func(string) ([]string, error)
		temp     bool
		perm     bool
		contains string
	}{
		{"plain dnsx error", func(string) ([]string, error) { return nil, dnsErr }, false, true, "no key for signature"},
		{"tempLookupError", func(string) ([]string, error) { return nil, tempLookupError{dnsErr} }, true, false, "key unavailable"},
		{"no records", func(string) ([]string, error) { return nil, nil }, false, true, "no valid key found"},
		{"revoked", func(string) ([]string, error) { return []string{"v=DKIM1; p="}, nil }, false, true, "key revoked"},
	} {
		v, err := msgdkim.VerifyWithOptions(strings.NewReader(msg), &msgdkim.VerifyOptions{LookupTXT: tt.lookup})
		if err != nil || len(v) != 1 {
			t.Fatalf("%s: %v", tt.name, err)
		}
		e := v[0].Err
		if msgdkim.IsTempFail(e) != tt.temp || msgdkim.IsPermFail(e) != tt.perm || !strings.Contains(e.Error(), tt.contains) {
			t.Errorf("%s: %v temp=%v perm=%v", tt.name, e, msgdkim.IsTempFail(e), msgdkim.IsPermFail(e))
		}
		if msgdkim.IsTempFail(wrapped(e)) || msgdkim.IsPermFail(wrapped(e)) {
			t.Errorf("%s: the type assertions unexpectedly see through wrapping", tt.name)
		}
	}
	// The messages judge relies on for the cryptographic verdicts.
	bad := strings.Replace(msg, "algebraic", "x", 1)
	v, _ := msgdkim.VerifyWithOptions(strings.NewReader(bad), &msgdkim.VerifyOptions{LookupTXT: func(string) ([]string, error) { return []string{rsaRecord(t, k, "")}, nil }})
	if !strings.Contains(v[0].Err.Error(), "body hash did not verify") {
		t.Errorf("body: %v", v[0].Err)
	}
	bad = strings.Replace(msg, "Subject: A", "Subject: B", 1)
	v, _ = msgdkim.VerifyWithOptions(strings.NewReader(bad), &msgdkim.VerifyOptions{LookupTXT: func(string) ([]string, error) { return []string{rsaRecord(t, k, "")}, nil }})
	if !strings.Contains(v[0].Err.Error(), "signature did not verify") {
		t.Errorf("header: %v", v[0].Err)
	}
}

func wrapped(err error) error { return errors.Join(err) }

func TestParseSignature(t *testing.T) {
	sig, err := ParseSignature("v=1; a=rsa-sha256; c=relaxed; d=Example.COM; s=S1;\r\n\th=From : To; l=100; t=100; x=200; bh=AAAA; b=AA AA")
	if err != nil {
		t.Fatal(err)
	}
	if sig.Domain != "example.com" || sig.Selector != "s1" || sig.Canonicalization != "relaxed/simple" || *sig.BodyLength != 100 ||
		sig.Identifier != "@example.com" || !sig.Signs("to") || sig.KeyAlgorithm() != "rsa" || sig.HashAlgorithm() != "sha256" {
		t.Errorf("%+v", sig)
	}
	for _, bad := range []string{
		"v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA", // no b=
		"v=2; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AAAA; t=200; x=100",
		"v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AAAA; c=fancy",
		"v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AAAA; q=http",
		"v=1; a=rsa-sha256; d=x; s=y; h=from; bh=AAAA; b=AAAA; l=-1",
		"v=1; a=rsa; d=x; s=y; h=from; bh=AAAA; b=AAAA",
		"v=1; v=1",
	} {
		if _, err := ParseSignature(bad); !errors.Is(err, ErrSignatureSyntax) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	msg, _ := os.ReadFile("testdata/rfc8463-a3.eml")
	fields, _, _ := SplitHeader(msg)
	for _, v := range Values(fields, "DKIM-Signature") {
		f.Add(v)
	}
	f.Add("v=1; a=rsa-sha256; d=x; s=y; h=from; bh=; b=; l=99999999999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignature(s)
		if sig == nil {
			t.Fatal("nil signature")
		}
		if err == nil && (sig.Domain == "" && !strings.Contains(s, "d=")) {
			t.Fatalf("%q: no d= but no error", s)
		}
	})
}

func FuzzSplitHeader(f *testing.F) {
	msg, _ := os.ReadFile("testdata/rfc8463-a3.eml")
	f.Add(msg)
	f.Add([]byte("From: a\n b\n\nbody"))
	f.Add([]byte(" leading\r\nX: y\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, body, complete := SplitHeader(b)
		n := 0
		for _, fl := range fields {
			n += len(fl.Raw)
		}
		if complete && n+len(body) > len(b) {
			t.Fatalf("split is longer than the input")
		}
		if !complete && n != len(b) {
			t.Fatalf("incomplete header: fields cover %d of %d bytes", n, len(b))
		}
	})
}
