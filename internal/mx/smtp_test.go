package mx

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

const smtpZone = `
test.example.       300 IN MX 10 mx.test.example.
mx.test.example.    300 IN A 127.0.0.1
two.example.        300 IN MX 10 mx.test.example.
two.example.        300 IN MX 20 down.test.example.
down.test.example.  300 IN A 127.0.0.2
down.example.       300 IN MX 10 down.test.example.
nullmx.example.     300 IN MX 0 .
`

func probeDomain(t *testing.T, domain string, port int, roots *testpki.CA) *SMTPResult {
	t.Helper()
	return probeDomainTimeout(t, domain, port, roots, 2*time.Second)
}

// silentTimeout is the step timeout for servers that never greet: only
// the timeout can end those probes, so a short one loses no margin.
const silentTimeout = 500 * time.Millisecond

// silent is a server that connects and never says a word; it ends when
// the client goes away (or the server is closed), not after a sleep.
func silent(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
	_, _ = io.Copy(io.Discard, c)
}

func probeDomainTimeout(t *testing.T, domain string, port int, roots *testpki.CA, timeout time.Duration) *SMTPResult {
	t.Helper()
	srv := dnstest.Start(t, smtpZone)
	c := srv.Client(t)
	an := Analyze(context.Background(), c, domain)
	opts := SMTPOptions{Port: port, Probe: smtpprobe.Options{Timeout: timeout, HELO: "probe.deliverdoctor.test"}}
	if roots != nil {
		opts.Probe.Roots = roots.Pool()
	}
	return ProbeMX(context.Background(), an, opts)
}

func TestProbeMX(t *testing.T) {
	ca := testpki.NewCA(t)
	now := time.Now()
	withCert := func(cert tls.Certificate) func(t *testing.T) int {
		return func(t *testing.T) int { return int(smtptest.Start(t, &cert, nil).Addr.Port()) }
	}
	scripted := func(h func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog)) func(t *testing.T) int {
		return func(t *testing.T) int { return int(smtptest.StartScripted(t, h).Addr.Port()) }
	}
	tests := []struct {
		name   string
		domain string
		server func(t *testing.T) int
		status findings.Status
		ids    []string
		sev    findings.Severity // of the first finding, when set
	}{
		{"valid TLS", "test.example", withCert(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})), findings.StatusPass, nil, ""},
		{"no STARTTLS", "test.example", func(t *testing.T) int { return int(smtptest.Start(t, nil, nil).Addr.Port()) },
			findings.StatusWarn, []string{"smtp.no-starttls"}, findings.SeverityWarn},
		{"expired", "test.example", withCert(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotBefore: now.Add(-100 * 24 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})),
			findings.StatusFail, []string{"smtp.cert-expired"}, findings.SeverityFail},
		{"expiring", "test.example", withCert(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotBefore: now.Add(-80 * 24 * time.Hour), NotAfter: now.Add(3 * 24 * time.Hour)})),
			findings.StatusWarn, []string{"smtp.cert-expiring"}, findings.SeverityWarn},
		{"not yet valid", "test.example", withCert(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotBefore: now.Add(48 * time.Hour), NotAfter: now.Add(90 * 24 * time.Hour)})),
			findings.StatusFail, []string{"smtp.cert-not-yet-valid"}, findings.SeverityFail},
		{"wrong name", "test.example", withCert(ca.Issue(t, testpki.Leaf{Names: []string{"other.example"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})),
			findings.StatusWarn, []string{"smtp.cert-name-mismatch"}, findings.SeverityWarn},
		{"self-signed", "test.example", withCert(testpki.SelfSigned(t, "mx.test.example")),
			findings.StatusWarn, []string{"smtp.cert-untrusted"}, findings.SeverityWarn},
		{"one of two down", "two.example", withCert(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})),
			findings.StatusWarn, []string{"smtp.host-unreachable"}, findings.SeverityWarn},
		{"all down", "down.example", withCert(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})),
			findings.StatusError, []string{"smtp.unreachable"}, findings.SeverityError},
		{"554 greeting", "test.example", scripted(func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "554 5.7.1 mx.test.example no service for you\r\n")
			smtptest.ServeCommands(c, r, lg, nil)
		}), findings.StatusFail, []string{"smtp.greeting-refused"}, findings.SeverityFail},
		{"421 greeting", "test.example", scripted(func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			io.WriteString(c, "421 4.3.2 too busy\r\n")
		}), findings.StatusWarn, []string{"smtp.greeting-refused"}, findings.SeverityWarn},
		{"hostile banner", "test.example", scripted(func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			io.WriteString(c, "220 "+strings.Repeat("\x1b[5m", 3000)+"\r\n")
		}), findings.StatusFail, []string{"smtp.protocol-error"}, findings.SeverityFail},
		{"slow banner", "test.example", scripted(silent), findings.StatusError, []string{"smtp.unreachable"}, findings.SeverityError},
		{"broken STARTTLS", "test.example", scripted(func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 mx.test.example ESMTP\r\n")
			smtptest.ReadCommand(r, lg)
			io.WriteString(c, "250-mx.test.example\r\n250 STARTTLS\r\n")
			smtptest.ReadCommand(r, lg)
			io.WriteString(c, "220 2.0.0 go ahead\r\n")
			buf := make([]byte, 1024)
			c.Read(buf)
			io.WriteString(c, "garbage, not TLS\r\n")
		}), findings.StatusFail, []string{"smtp.starttls-failed"}, findings.SeverityFail},
		{"EHLO refused, HELO works", "test.example", scripted(func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 old SMTP\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{"EHLO": "500 5.5.1 unknown command\r\n", "HELO": "250 old\r\n"})
		}), findings.StatusWarn, []string{"smtp.no-esmtp"}, findings.SeverityWarn},
		{"EHLO and HELO refused", "test.example", scripted(func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 picky SMTP\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{"EHLO": "550 5.7.1 no\r\n", "HELO": "550 5.7.1 no\r\n"})
		}), findings.StatusFail, []string{"smtp.hello-refused"}, findings.SeverityFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := tt.server(t)
			timeout := 2 * time.Second
			if tt.name == "slow banner" {
				timeout = silentTimeout
			}
			res := probeDomainTimeout(t, tt.domain, port, ca, timeout)
			cr := res.CheckResult()
			if got := ids(res.Findings); !slices.Equal(got, tt.ids) {
				for _, f := range res.Findings {
					t.Logf("%s: %s %q", f.ID, f.Title, f.Evidence)
				}
				t.Fatalf("findings %q, want %q", got, tt.ids)
			}
			if cr.Status != tt.status {
				t.Errorf("status %s, want %s (%s)", cr.Status, tt.status, cr.Summary)
			}
			if tt.sev != "" && res.Findings[0].Severity != tt.sev {
				t.Errorf("severity %s, want %s", res.Findings[0].Severity, tt.sev)
			}
			for _, f := range res.Findings {
				if f.Check != "smtp" || f.Title == "" || (f.Severity != findings.SeverityInfo && len(f.BounceCodes) == 0) {
					t.Errorf("finding %+v", f)
				}
				if strings.ContainsAny(f.Title+strings.Join(f.Evidence, ""), "\x1b\x00") {
					t.Errorf("unsanitized: %q", f.Title)
				}
			}
		})
	}
}

func TestProbeMXSummaryAndSkips(t *testing.T) {
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})
	s := smtptest.Start(t, &cert, nil)
	res := probeDomain(t, "test.example", int(s.Addr.Port()), ca)
	cr := res.CheckResult()
	if cr.Summary != "1 of 1 MX host(s) answered on port "+strconv.Itoa(int(s.Addr.Port()))+", STARTTLS on 1 (TLS 1.3)" {
		t.Errorf("summary %q", cr.Summary)
	}
	if p := res.Hosts[0].Probe(); p == nil || p.TLS == nil || len(p.PeerCertificates) != len(cert.Certificate) {
		t.Errorf("probe %+v", p)
	}
	s.Log.AssertNoData(t)
	for _, d := range []string{"nullmx.example", "missing.example"} {
		if cr := probeDomain(t, d, 1, nil).CheckResult(); cr.Status != findings.StatusSkip {
			t.Errorf("%s: status %s", d, cr.Status)
		}
	}
}

// TestNoGreetingIsNotNoConnection (issue 23.11): a server that takes the
// TCP connection and never greets is "connected, no greeting", not "could
// not connect".
func TestNoGreetingIsNotNoConnection(t *testing.T) {
	ca := testpki.NewCA(t)
	port := int(smtptest.StartScripted(t, silent).Addr.Port())
	res := probeDomainTimeout(t, "test.example", port, ca, silentTimeout)
	if len(res.Findings) != 1 {
		t.Fatalf("findings %q", ids(res.Findings))
	}
	f := res.Findings[0]
	if f.ID != "smtp.unreachable" || strings.Contains(f.Title, "could not connect") || !strings.Contains(f.Title, "none sent a greeting") ||
		!strings.Contains(strings.Join(f.Evidence, "\n"), "connected, no greeting within") {
		t.Errorf("%s: %s %q", f.ID, f.Title, f.Evidence)
	}
}
