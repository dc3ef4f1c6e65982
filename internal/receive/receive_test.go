package receive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

type fixture struct {
	key  ed25519.PrivateKey
	dns  *dnstest.Server
	opts Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	zone := `example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"
s1._domainkey.example.com. 300 IN TXT "v=DKIM1; k=ed25519; p=` + pub + `"
mail.example.com. 300 IN A 192.0.2.25
25.2.0.192.in-addr.arpa. 300 IN PTR mail.example.com.
7.100.51.198.in-addr.arpa. 300 IN PTR other.example.net.
other.example.net. 300 IN A 198.51.100.7
quarantine.example. 300 IN TXT "v=spf1 -all"
_dmarc.quarantine.example. 300 IN TXT "v=DMARC1; p=quarantine"
s1._domainkey.quarantine.example. 300 IN TXT "v=DKIM1; k=ed25519; p=` + pub + `"
nodmarc.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
s1._domainkey.nodmarc.example. 300 IN TXT "v=DKIM1; k=ed25519; p=` + pub + `"
27.2.0.192.in-addr.arpa. 300 IN PTR listed.example.com.
listed.example.com. 300 IN A 192.0.2.27
27.2.0.192.bl.test. 300 IN A 127.0.0.2
badlinks.example.dbl.test. 300 IN A 127.0.1.2
`
	srv := dnstest.Start(t, zone)
	lists, err := rbl.Default().Resolve([]string{"ip:bl.test", "domain:dbl.test"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{key: key, dns: srv, opts: Options{Lists: lists, RBLTimeout: 2 * time.Second}}
}

func header(from string, extra ...string) string {
	h := "From: Ada <ada@" + from + ">\r\nTo: grace@mx.test.example\r\nSubject: engines\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <m1@" + from + ">\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h
}

const textBody = "\r\nThe engine weaves algebraic patterns.\r\n"

func (fx *fixture) sign(t *testing.T, domain, msg string) string {
	t.Helper()
	var b bytes.Buffer
	err := msgdkim.Sign(&b, strings.NewReader(msg), &msgdkim.SignOptions{Domain: domain, Selector: "s1", Signer: fx.key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"}})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func (fx *fixture) eval(t *testing.T, msg string, env Envelope) *Report {
	t.Helper()
	if env.HELO == "" {
		env.HELO = "mail.example.com"
	}
	if env.TLS == (TLSInfo{}) {
		env.TLS = TLSInfo{Used: true, Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep := Evaluate(ctx, []byte(msg), env, fx.dns.Client(t), fx.opts)
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func verdict(t *testing.T, rep *Report, provider string) Verdict {
	t.Helper()
	for _, v := range rep.Verdicts {
		if v.Provider == provider {
			return v
		}
	}
	t.Fatalf("no verdict for %s", provider)
	return Verdict{}
}

func checkStatus(rep *Report, name string) findings.Status {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return "absent"
}

func hasFinding(rep *Report, id string) bool {
	return slices.ContainsFunc(rep.Findings, func(f findings.Finding) bool { return f.ID == id })
}

func expect(t *testing.T, rep *Report, want map[string][2]string) {
	t.Helper()
	for p, w := range want {
		v := verdict(t, rep, p)
		code := ""
		if len(v.Codes) > 0 {
			code = v.Codes[0]
		}
		if v.Outcome != w[0] || code != w[1] {
			t.Errorf("%s: got %s %q (%s), want %s %q; reasons %+v", p, v.Outcome, code, v.Reply, w[0], w[1], v.Reasons)
		}
	}
}

func TestVerdicts(t *testing.T) {
	fx := newFixture(t)
	signedOK := fx.sign(t, "example.com", header("example.com")+textBody)
	tests := []struct {
		name   string
		msg    string
		env    Envelope
		want   map[string][2]string
		checks map[string]findings.Status
		ids    []string
	}{
		{name: "signed, aligned, from an authorised IP with FCrDNS", msg: signedOK,
			env:    Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@example.com"},
			want:   map[string][2]string{"gmail": {"accept", ""}, "yahoo": {"accept", ""}, "microsoft": {"accept", ""}},
			checks: map[string]findings.Status{"spf": "pass", "dkim": "pass", "dmarc": "pass", "ptr": "pass", "rbl": "pass", "tls": "pass", "bulk": "pass"}},
		{name: "unsigned from an unauthorised IP: DMARC reject", msg: header("example.com") + textBody,
			env:  Envelope{ClientIP: "198.51.100.7", MailFrom: "bounce@example.com", HELO: "other.example.net"},
			want: map[string][2]string{"gmail": {"reject", "5.7.26"}, "yahoo": {"reject", "5.7.9"}, "microsoft": {"reject", "5.7.509"}},
			ids:  []string{"dmarc.message-fail", "spf.fail"}},
		{name: "broken signature, SPF aligned: DMARC passes on SPF", msg: strings.Replace(signedOK, "algebraic", "arithmetic", 1),
			env:    Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@example.com"},
			want:   map[string][2]string{"gmail": {"accept", ""}, "yahoo": {"accept", ""}, "microsoft": {"accept", ""}},
			checks: map[string]findings.Status{"dkim": "fail", "dmarc": "pass"}},
		{name: "DMARC quarantine: spam folder", msg: header("quarantine.example") + textBody,
			env:  Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@quarantine.example"},
			want: map[string][2]string{"gmail": {"reject", "5.7.26"}, "yahoo": {"reject", "5.7.9"}, "microsoft": {"spam", ""}}},
		{name: "no PTR: Gmail 5.7.25", msg: signedOK,
			env:  Envelope{ClientIP: "192.0.2.30", MailFrom: "bounce@example.com"},
			want: map[string][2]string{"gmail": {"reject", "5.7.25"}, "yahoo": {"spam", ""}, "microsoft": {"spam", ""}},
			ids:  []string{"ptr.missing"}},
		{name: "bulk without one-click unsubscribe", msg: fx.sign(t, "example.com", header("example.com", "List-Unsubscribe: <mailto:unsub@example.com>")+textBody),
			env:  Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@example.com"},
			want: map[string][2]string{"gmail": {"spam", ""}, "yahoo": {"spam", ""}, "microsoft": {"accept", ""}},
			ids:  []string{"bulk.no-one-click"}},
		{name: "bulk with one-click unsubscribe", msg: fx.sign(t, "example.com", header("example.com", "List-Unsubscribe: <https://example.com/u?id=1>, <mailto:unsub@example.com>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click")+textBody),
			env:    Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@example.com"},
			want:   map[string][2]string{"gmail": {"accept", ""}, "yahoo": {"accept", ""}, "microsoft": {"accept", ""}},
			checks: map[string]findings.Status{"bulk": "pass"}},
		{name: "bulk from a domain without DMARC: 5.7.515", msg: fx.sign(t, "nodmarc.example", header("nodmarc.example", "List-Unsubscribe: <https://nodmarc.example/u>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click")+textBody),
			env:  Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@nodmarc.example"},
			want: map[string][2]string{"gmail": {"reject", "5.7.26"}, "yahoo": {"reject", "5.7.9"}, "microsoft": {"reject", "5.7.515"}}},
		{name: "client IP on a blocklist", msg: signedOK,
			env:    Envelope{ClientIP: "192.0.2.27", MailFrom: "bounce@example.com"},
			want:   map[string][2]string{"gmail": {"spam", ""}, "yahoo": {"reject", "5.7.1"}, "microsoft": {"reject", "5.7.1"}},
			checks: map[string]findings.Status{"rbl": "fail"}},
		{name: "no From", msg: "To: grace@mx.test.example\r\nSubject: x\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <a@b.example>\r\n" + textBody,
			env:  Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@example.com"},
			want: map[string][2]string{"gmail": {"reject", "5.7.1"}, "yahoo": {"reject", "5.7.9"}, "microsoft": {"reject", "5.7.512"}},
			ids:  []string{"bulk.no-from"}},
		{name: "no Message-ID, no TLS, HTML only, bare LF", msg: fx.sign(t, "example.com", "From: Ada <ada@example.com>\nDate: "+time.Now().Format(time.RFC1123Z)+"\nMIME-Version: 1.0\nContent-Type: text/html\n\n<a href=\"https://badlinks.example/x\">x</a>\n"),
			env:    Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@example.com", TLS: TLSInfo{Used: false, Version: "-"}},
			want:   map[string][2]string{"gmail": {"reject", "5.7.1"}, "yahoo": {"spam", ""}, "microsoft": {"spam", ""}},
			ids:    []string{"bulk.no-message-id", "bulk.html-only", "bulk.bare-lf"},
			checks: map[string]findings.Status{"rbl": "fail"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env.TLS.Version == "-" {
				env.TLS = TLSInfo{}
				env.HELO = "mail.example.com"
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				rep := Evaluate(ctx, []byte(tc.msg), env, fx.dns.Client(t), fx.opts)
				assertCase(t, rep, tc.want, tc.checks, tc.ids)
				if checkStatus(rep, "tls") != findings.StatusWarn {
					t.Errorf("tls: %s, want warn", checkStatus(rep, "tls"))
				}
				return
			}
			assertCase(t, fx.eval(t, tc.msg, env), tc.want, tc.checks, tc.ids)
		})
	}
}

func assertCase(t *testing.T, rep *Report, want map[string][2]string, checks map[string]findings.Status, ids []string) {
	t.Helper()
	expect(t, rep, want)
	for name, st := range checks {
		if got := checkStatus(rep, name); got != st {
			t.Errorf("check %s: %s, want %s", name, got, st)
		}
	}
	for _, id := range ids {
		if !hasFinding(rep, id) {
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.ID)
			}
			t.Errorf("no finding %s; have %v", id, got)
		}
	}
	if testing.Verbose() {
		for _, f := range rep.Findings {
			t.Logf("%s %s: %s", f.Severity, f.ID, f.Title)
		}
	}
	for _, v := range rep.Verdicts {
		for _, r := range v.Reasons {
			if r.Outcome != OutcomeAccept && r.Fix == "" {
				t.Errorf("%s: reason %+v has no fix", v.Provider, r)
			}
		}
	}
	if rep.Kind != "message" || rep.Schema != report.Schema {
		t.Errorf("kind %q schema %q", rep.Kind, rep.Schema)
	}
}

// A DNS failure is never "no record": DMARC is temperror and every
// provider defers (4xx), none rejects for good.
func TestVerdictDNSFailure(t *testing.T) {
	fx := newFixture(t)
	fx.dns.Set("_dmarc.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	rep := fx.eval(t, header("example.com")+textBody, Envelope{ClientIP: "192.0.2.25", MailFrom: "bounce@example.com"})
	for _, v := range rep.Verdicts {
		if v.Outcome != OutcomeReject || !v.Temporary || v.SMTPCode/100 != 4 || len(v.Codes) == 0 || v.Codes[0] != "4.7.0" {
			t.Errorf("%s: %+v, want a temporary 4.7.0 deferral", v.Provider, v)
		}
	}
	if st := checkStatus(rep, "dmarc"); st != findings.StatusError {
		t.Errorf("dmarc check %s, want error", st)
	}
}
