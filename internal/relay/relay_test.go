package relay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

// probeGuard bounds every probe in these tests. It is a hang guard, not a
// speed limit: a probe that runs into it ignored its own step timeout, and
// the test fails saying so.
const probeGuard = 30 * time.Second

func probeAt(t *testing.T, ap netip.AddrPort, mod func(*Options)) *Result {
	t.Helper()
	o := Options{Host: "mx.test", Addrs: []netip.Addr{ap.Addr()}, Port: int(ap.Port()), HELO: "probe.example", Timeout: 2 * time.Second}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeGuard)
	defer cancel()
	r := Probe(ctx, o)
	if ctx.Err() != nil {
		t.Fatalf("the probe ran into the test's %s hang guard: its %s step timeout did not end it (verdict %s, %s)", probeGuard, o.Timeout, r.Verdict, r.Reason)
	}
	return r
}

func findingIDs(r *Result) []string {
	var ids []string
	for _, f := range r.Findings() {
		ids = append(ids, f.ID)
	}
	return ids
}

func hasID(r *Result, id string) bool {
	for _, x := range findingIDs(r) {
		if x == id {
			return true
		}
	}
	return false
}

func localPolicy() *policy {
	return &policy{local: []string{"mx.test", "[127.0.0.1]"}, users: map[string]bool{"postmaster": true}}
}

func TestOpenRelay(t *testing.T) {
	p := &policy{open: true}
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictOpen {
		t.Fatalf("verdict %s (%s), want open; attempts %+v", r.Verdict, r.Reason, r.Attempts)
	}
	// Stops at the first relayed variant: one attempt, no RSET, a QUIT.
	if len(r.Attempts) != 1 || r.Attempts[0].Variant != "null-sender" || !r.Attempts[0].Accepted {
		t.Errorf("attempts %+v: want just the accepted null-sender", r.Attempts)
	}
	a := r.Attempts[0]
	if a.MailFrom != "<>" || a.RcptTo != "<relay-test@example.net>" || a.Code != 250 || a.Outcome != OutcomeRelayed || a.Stage != "rcpt" {
		t.Errorf("attempt %+v", a)
	}
	if tp.Count("RSET") != 0 || tp.Count("QUIT") != 1 {
		t.Errorf("wire: %q", tp.Lines())
	}
	if len(r.Untested) != len(Plan(Variants(), Params{Local: "mx.test", Server: "mx.test", Literal: "[127.0.0.1]", External: "example.net"}))-1 {
		t.Errorf("untested %v", r.Untested)
	}
	if r.Status() != findings.StatusFail || !hasID(r, "relay.open") {
		t.Errorf("status %s findings %v", r.Status(), findingIDs(r))
	}
	f := r.Findings()[0]
	for _, want := range []string{"5.7.1", "5.7.606"} {
		if !strings.Contains(strings.Join(f.BounceCodes, ","), want) {
			t.Errorf("bounce codes %v lack %s", f.BounceCodes, want)
		}
	}
	for _, want := range []string{"smtpd_relay_restrictions", "mynetworks", "relay_from_hosts", "acl_smtp_rcpt", "ms-Exch-SMTP-Accept-Any-Recipient", "RemoteIPRanges"} {
		if !strings.Contains(f.Fix, want) {
			t.Errorf("fix lacks %s", want)
		}
	}
	if r.ServerName != "mx.test" || r.Greeting != "EHLO" || r.HELOName != "probe.example" || r.IP != "127.0.0.1" {
		t.Errorf("session facts: %+v", r)
	}
}

func TestOpenRelayAllVariants(t *testing.T) {
	ap, tp := startMTA(t, &policy{open: true})
	r := probeAt(t, ap, func(o *Options) { o.AllVariants = true })
	tp.AssertNoData(t)
	if r.Verdict != VerdictOpen {
		t.Fatalf("verdict %s", r.Verdict)
	}
	steps := Plan(Variants(), Params{Sender: SenderLocal, User: UserLocal, External: "example.net", Local: "mx.test", Server: "mx.test", Literal: "[127.0.0.1]"})
	tricks := 0
	for _, s := range steps {
		if s.Kind == KindTrick {
			tricks++
		}
	}
	// go-smtp answers 501 to the domain-less forms (bang path, quoted
	// address without @domain); every other variant is accepted.
	if len(r.Untested) != 0 || tp.Count("MAIL") != len(steps) || tp.Count("RSET") != len(steps)-1 {
		t.Errorf("untested %v; MAIL %d RSET %d for %d steps", r.Untested, tp.Count("MAIL"), tp.Count("RSET"), len(steps))
	}
	if tp.Count("RCPT") > len(steps)+tricks {
		t.Errorf("more RCPTs than variants and controls: %d", tp.Count("RCPT"))
	}
	if r.Commands > maxCommands {
		t.Errorf("%d commands", r.Commands)
	}
	// Every RCPT argument went on the wire verbatim.
	wire := strings.Join(tp.Lines(), "\n")
	for _, s := range steps {
		if !strings.Contains(wire, "RCPT TO:"+s.RcptTo+"\n") && !strings.HasSuffix(wire, "RCPT TO:"+s.RcptTo) {
			t.Errorf("RCPT TO:%s not on the wire verbatim", s.RcptTo)
		}
	}
}

func TestClosedRelay(t *testing.T) {
	p := localPolicy()
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictClosed {
		t.Fatalf("verdict %s (%s %s)", r.Verdict, r.Failure, r.Reason)
	}
	steps := Plan(Variants(), Params{Sender: SenderLocal, User: UserLocal, External: "example.net", Local: "mx.test", Server: "mx.test", Literal: "[127.0.0.1]"})
	if len(r.Attempts) != len(steps) {
		t.Errorf("%d attempts for %d variants", len(r.Attempts), len(steps))
	}
	for _, a := range r.Attempts {
		if a.Accepted || a.Outcome != OutcomeRefused || a.Code/100 != 5 {
			t.Errorf("attempt %+v", a)
		}
	}
	if a := r.Attempts[0]; a.Code != 554 || a.EnhancedCode != "5.7.1" || a.Text != "Relay access denied" {
		t.Errorf("first attempt %+v", a)
	}
	if tp.Count("RSET") != len(steps)-1 || tp.Count("QUIT") != 1 {
		t.Errorf("RSET %d QUIT %d", tp.Count("RSET"), tp.Count("QUIT"))
	}
	if r.Status() != findings.StatusPass || !hasID(r, "relay.closed") {
		t.Errorf("status %s %v", r.Status(), findingIDs(r))
	}
}

// A server that takes any RCPT and refuses only at DATA is counted as open:
// the probe never reaches DATA, and the RCPT reply is the relay decision.
func TestAcceptThenRejectAtData(t *testing.T) {
	p := &policy{open: true, dataReply: &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied at end of data"}}
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, func(o *Options) { o.AllVariants = true })
	tp.AssertNoData(t)
	if len(p.seen("data")) != 0 {
		t.Fatal("backend saw DATA")
	}
	if r.Verdict != VerdictOpen {
		t.Fatalf("verdict %s", r.Verdict)
	}
	f := r.Findings()[0]
	if !strings.Contains(f.Detail, "refuse only at DATA") {
		t.Errorf("detail does not explain accept-then-reject: %s", f.Detail)
	}
}

func TestGreylisting(t *testing.T) {
	ap, tp := startMTA(t, &policy{greylist: true})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictUnknown || r.Failure != "deferred" {
		t.Fatalf("verdict %s failure %s reason %s", r.Verdict, r.Failure, r.Reason)
	}
	if r.Attempts[0].Outcome != OutcomeDeferred || r.Attempts[0].Code != 450 || r.Attempts[0].EnhancedCode != "4.2.0" {
		t.Errorf("attempt %+v", r.Attempts[0])
	}
	if r.Status() != findings.StatusError || !hasID(r, "relay.unknown") {
		t.Errorf("status %s %v", r.Status(), findingIDs(r))
	}
	if f := r.Findings()[0]; !strings.Contains(f.Title, "greylisting") || !strings.Contains(f.Fix, "again") {
		t.Errorf("finding %+v", f)
	}
}

// Greylisting on some variants only: the foreign ones decide.
func TestGreylistedSenderKeepsUnknown(t *testing.T) {
	p := localPolicy()
	p.mailErr = map[string]error{"deliverdoctor-probe@mx.test": &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try later"}}
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictUnknown || r.Failure != "deferred" || !strings.Contains(r.Reason, "local-sender") {
		t.Fatalf("verdict %s failure %s reason %s", r.Verdict, r.Failure, r.Reason)
	}
}

func TestTarpit(t *testing.T) {
	// The tarpit outlasts the test's hang guard: only the 1s step timeout
	// can end the probe (probeAt fails the test otherwise).
	ap, tp := startMTA(t, &policy{open: true, rcptDelay: 2 * probeGuard})
	r := probeAt(t, ap, func(o *Options) { o.Timeout = time.Second })
	tp.AssertNoData(t)
	if r.Verdict != VerdictUnknown || r.Failure != "timeout" {
		t.Fatalf("verdict %s failure %s", r.Verdict, r.Failure)
	}
	if r.Attempts[0].Outcome != OutcomeFailed || !strings.Contains(r.Attempts[0].Error, "timeout") {
		t.Errorf("attempt %+v", r.Attempts[0])
	}
	if len(r.Untested) == 0 {
		t.Error("variants after the timeout should be untested")
	}
	if !strings.Contains(r.Findings()[0].Fix, "--probe-timeout") {
		t.Errorf("fix %q", r.Findings()[0].Fix)
	}
}

func TestPercentHackOnly(t *testing.T) {
	p := localPolicy()
	p.percentHack = true
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictOpen {
		t.Fatalf("verdict %s (%s); attempts %+v", r.Verdict, r.Reason, r.Attempts)
	}
	var relayed, control *Attempt
	for i, a := range r.Attempts {
		if a.Outcome == OutcomeRelayed {
			relayed = &r.Attempts[i]
		}
		if a.Kind == KindControl {
			control = &r.Attempts[i]
		}
	}
	if relayed == nil || relayed.Variant != "percent-hack-literal" || relayed.RcptTo != "<relay-test%example.net@[127.0.0.1]>" {
		t.Fatalf("relayed %+v", relayed)
	}
	if control == nil || control.Outcome != OutcomeRefused || control.ControlFor != "percent-hack-literal" || !strings.HasPrefix(control.RcptTo, "<no-such-user-") || !strings.HasSuffix(control.RcptTo, "@[127.0.0.1]>") {
		t.Fatalf("control %+v", control)
	}
	// Every foreign variant came first and was refused.
	for _, a := range r.Attempts {
		if a.Kind == KindForeign && a.Outcome != OutcomeRefused {
			t.Errorf("foreign %+v", a)
		}
	}
	f := r.Findings()[0]
	if f.ID != "relay.open" || !strings.Contains(f.Detail, "percent hack") || !strings.Contains(strings.Join(f.Evidence, "\n"), "control:") {
		t.Errorf("finding %+v", f)
	}
	// Stopped at the first relayed variant.
	if tp.Count("MAIL") != len(r.Attempts)-1 {
		t.Errorf("MAIL %d, attempts %d", tp.Count("MAIL"), len(r.Attempts))
	}
}

// A catch-all takes any local part, so an accepted trick proves nothing:
// closed, with a warning per trick family.
func TestCatchAllTricksAreAmbiguous(t *testing.T) {
	p := localPolicy()
	p.catchAll = true
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictClosed {
		t.Fatalf("verdict %s (%s)", r.Verdict, r.Reason)
	}
	for _, id := range []string{"relay.accepts-percent-hack", "relay.accepts-double-at", "relay.accepts-bang-path", "relay.accepts-quoted-local-part"} {
		if !hasID(r, id) {
			t.Errorf("missing %s in %v", id, findingIDs(r))
		}
	}
	if r.Status() != findings.StatusWarn {
		t.Errorf("status %s", r.Status())
	}
	if !strings.Contains(r.Reason, "ambiguous") {
		t.Errorf("reason %q", r.Reason)
	}
}

// A server that wants STARTTLS before MAIL is probed over TLS, not called
// "closed, authentication required".
func TestStartTLSRequired(t *testing.T) {
	ca := testpki.NewCA(t)
	p := localPolicy()
	p.tlsConfig = testpki.ServerConfig(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test"}}))
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, nil)
	if r.Verdict != VerdictClosed || !r.TLS || r.AuthSeen {
		t.Fatalf("verdict %s tls %v auth %v (%s)", r.Verdict, r.TLS, r.AuthSeen, r.Reason)
	}
	if tp.Count("STARTTLS") != 1 {
		t.Errorf("wire: %q", tp.Lines())
	}
	if r.Attempts[0].Code != 554 || r.Attempts[0].Stage != "rcpt" {
		t.Errorf("first attempt %+v", r.Attempts[0])
	}

	p = &policy{open: true}
	p.tlsConfig = testpki.ServerConfig(ca.Issue(t, testpki.Leaf{Names: []string{"mx.test"}}))
	ap, _ = startMTA(t, p)
	r = probeAt(t, ap, func(o *Options) { o.AllVariants = true })
	if r.Verdict != VerdictOpen || !r.TLS || len(p.seen("data")) != 0 {
		t.Fatalf("verdict %s tls %v data %v", r.Verdict, r.TLS, p.seen("data"))
	}
}

// A trick accepted while the control is only deferred stays ambiguous.
func TestTrickWithDeferredControl(t *testing.T) {
	ap, tp := scriptedMTA(t, func(verb, line string) (string, bool) {
		switch {
		case verb != "RCPT":
			return "", false
		case strings.Contains(line, "no-such-user-"):
			return "451 4.3.0 try again later", false
		case strings.Contains(line, "%"):
			return "250 2.1.5 Ok", false
		}
		return "554 5.7.1 Relay access denied", false
	})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictClosed || !hasID(r, "relay.accepts-percent-hack") {
		t.Fatalf("verdict %s %v", r.Verdict, findingIDs(r))
	}
	for _, f := range r.Findings() {
		if f.ID == "relay.accepts-percent-hack" && !strings.Contains(f.Title, "could not settle") {
			t.Errorf("title %q", f.Title)
		}
	}
}

func TestAuthRequired(t *testing.T) {
	ap, tp := startMTA(t, &policy{authMail: true})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictClosed || !r.AuthSeen || !hasID(r, "relay.auth-required") {
		t.Fatalf("verdict %s auth %v %v (%s)", r.Verdict, r.AuthSeen, findingIDs(r), r.Reason)
	}
	if tp.Count("RCPT") != 0 {
		t.Error("RCPT sent after MAIL was refused")
	}
}

// A server that refuses every sender (e.g. our IP is on its blocklist) never
// shows its relay decision.
func TestEverySenderRefused(t *testing.T) {
	p := localPolicy()
	refuse := &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Client host blocked using zen.spamhaus.org"}
	p.mailErr = map[string]error{}
	for _, s := range []string{"", "deliverdoctor-probe@example.net", "deliverdoctor-probe@mx.test", "deliverdoctor-probe@[127.0.0.1]"} {
		p.mailErr[s] = refuse
	}
	ap, tp := startMTA(t, p)
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictUnknown || r.Failure != "sender-refused" {
		t.Fatalf("verdict %s failure %s", r.Verdict, r.Failure)
	}
}

// The external domain's own problems (null MX, NXDOMAIN) are not a relay
// decision.
func TestExternalDomainRefused(t *testing.T) {
	ap, tp := scriptedMTA(t, func(verb, line string) (string, bool) {
		switch {
		case verb != "RCPT":
			return "", false
		case strings.Contains(line, "@example.net>"):
			return "556 5.1.10 <relay-test@example.net>: Recipient address rejected: Domain example.net does not accept mail (nullMX)", false
		}
		return "554 5.7.1 Relay access denied", false
	})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictUnknown || r.Failure != "external-refused" || !hasID(r, "relay.external-refused") {
		t.Fatalf("verdict %s failure %s %v %+v", r.Verdict, r.Failure, findingIDs(r), r.Attempts)
	}
	if r.Attempts[0].Outcome != OutcomeDomain || r.Attempts[0].EnhancedCode != "5.1.10" {
		t.Errorf("attempt %+v", r.Attempts[0])
	}
	if !strings.Contains(r.Findings()[0].Fix, "--external") {
		t.Error("fix should suggest --external")
	}
}

func TestGreeting421(t *testing.T) {
	ap, tp := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.WriteString(c, "421 4.3.2 mx.test Service not available, closing channel\r\n")
	})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictUnknown || r.Failure != "greeting" || len(r.Attempts) != 0 {
		t.Fatalf("verdict %s failure %s", r.Verdict, r.Failure)
	}
	if !strings.HasPrefix(r.Banner, "421 4.3.2") || r.Status() != findings.StatusError {
		t.Errorf("banner %q status %s", r.Banner, r.Status())
	}
	if tp.Count("EHLO") != 0 {
		t.Error("EHLO after a 421 greeting")
	}
}

// RFC 5321 3.1: after a 554 greeting the client should send QUIT.
func TestGreeting554WaitsForQuit(t *testing.T) {
	ap, tp := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.WriteString(c, "554 5.7.1 mx.test no SMTP service here\r\n")
		closedDialogue(c, r)
	})
	r := probeAt(t, ap, nil)
	if r.Verdict != VerdictUnknown || r.Failure != "greeting" {
		t.Fatalf("verdict %s failure %s", r.Verdict, r.Failure)
	}
	if l := tp.Lines(); len(l) != 1 || l[0] != "QUIT" {
		t.Errorf("wire %q: want just QUIT", l)
	}
}

func TestHostileBanners(t *testing.T) {
	tests := []struct {
		name    string
		greet   func(c net.Conn)
		failure string
		verdict Verdict
	}{
		{"10MB line", func(c net.Conn) {
			chunk := strings.Repeat("A", 64<<10)
			_, _ = io.WriteString(c, "220 ")
			for i := 0; i < 160; i++ {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
		}, "protocol", VerdictUnknown},
		{"endless multi-line", func(c net.Conn) {
			for i := 0; i < 100000; i++ {
				if _, err := io.WriteString(c, "220-mx.test spam spam spam\r\n"); err != nil {
					return
				}
			}
		}, "protocol", VerdictUnknown},
		{"control characters", func(c net.Conn) {
			_, _ = io.WriteString(c, "220-mx.test \x1b[2J\x1b[31mowned\x07 \xff\xfe\r\n220 \x1b]0;title\x07 ESMTP\r\n")
		}, "", VerdictClosed},
		{"not SMTP", func(c net.Conn) {
			_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
		}, "protocol", VerdictUnknown},
		{"silent", func(c net.Conn) {}, "timeout", VerdictUnknown},
		{"dribbling multi-line", func(c net.Conn) {
			for i := 0; i < 50; i++ {
				if _, err := io.WriteString(c, "220-wait\r\n"); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}, "timeout", VerdictUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // a server each; the slow ones wait out the timeout together
			ap, tp := rawServer(t, func(c net.Conn, r *bufio.Reader) {
				tt.greet(c)
				closedDialogue(c, r)
			})
			// A silent or dribbling server is cut off by the step timeout;
			// probeAt fails the test if its hang guard did it instead.
			r := probeAt(t, ap, func(o *Options) { o.Timeout = time.Second })
			tp.AssertNoData(t)
			if r.Verdict != tt.verdict || r.Failure != tt.failure {
				t.Fatalf("verdict %s failure %q reason %s", r.Verdict, r.Failure, r.Reason)
			}
			for _, s := range []string{r.Banner, r.Reason, fmt.Sprint(r.Findings())} {
				if strings.ContainsAny(s, "\x1b\x07") || len(s) > 20000 {
					t.Errorf("unsanitized or unbounded: %q", sanitize.Truncate(s, 200))
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	r := probeAt(t, ap, nil)
	if r.Verdict != VerdictUnknown || r.Failure != "unreachable" || !hasID(r, "relay.unreachable") {
		t.Fatalf("verdict %s failure %s %v", r.Verdict, r.Failure, findingIDs(r))
	}
	if r.Status() != findings.StatusError {
		t.Errorf("status %s", r.Status())
	}
}

// The second address is used when the first refuses the connection (the
// test MTA listens on 127.0.0.1 only; all of 127/8 is loopback on Linux).
func TestDialFallsBackToNextAddress(t *testing.T) {
	ap, _ := startMTA(t, localPolicy())
	r := probeAt(t, ap, func(o *Options) { o.Addrs = []netip.Addr{netip.MustParseAddr("127.0.0.2"), ap.Addr()} })
	if r.IP != "127.0.0.1" || r.Verdict != VerdictClosed {
		t.Errorf("ip %s verdict %s (%s)", r.IP, r.Verdict, r.Reason)
	}
}

func TestEHLORefusedFallsBackToHELO(t *testing.T) {
	ap, tp := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.WriteString(c, "220 old.mx.test SMTP\r\n")
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "EHLO ") {
			return
		}
		_, _ = io.WriteString(c, "554 5.5.1 what is EHLO\r\n")
		closedDialogue(c, r)
	})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Greeting != "HELO" || r.Verdict != VerdictClosed {
		t.Fatalf("greeting %s verdict %s (%s)", r.Greeting, r.Verdict, r.Reason)
	}
	if l := tp.Lines(); len(l) < 2 || l[1] != "HELO probe.example" {
		t.Errorf("wire %q", l)
	}
}

func TestHELORefused(t *testing.T) {
	ap, _ := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.WriteString(c, "220 mx.test ESMTP\r\n")
		for i := 0; i < 2; i++ {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			_, _ = io.WriteString(c, "550 5.7.1 Helo command rejected: need fully-qualified hostname\r\n")
		}
		closedDialogue(c, r)
	})
	r := probeAt(t, ap, nil)
	if r.Verdict != VerdictUnknown || r.Failure != "helo" || !strings.Contains(r.Findings()[0].Fix, "--helo") {
		t.Fatalf("verdict %s failure %s", r.Verdict, r.Failure)
	}
}

// Two replies to one command: the stray one must not be read as the RCPT
// reply (a false "open").
func TestUnsolicitedReplyIsNotAnAnswer(t *testing.T) {
	ap, tp := scriptedMTA(t, func(verb, line string) (string, bool) {
		switch verb {
		case "MAIL":
			return "250 2.1.0 Ok\r\n250 2.1.5 Ok", false // one write: both arrive together
		case "RCPT":
			return "554 5.7.1 Relay access denied", false
		}
		return "", false
	})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict == VerdictOpen {
		t.Fatalf("a stray reply was taken as acceptance: %+v", r.Attempts)
	}
	if r.Verdict != VerdictUnknown || r.Failure != "protocol" {
		t.Errorf("verdict %s failure %s", r.Verdict, r.Failure)
	}
}

// A 421 in the middle ends the session; variants already decided stand.
func TestServerClosesMidway(t *testing.T) {
	ap, tp := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.WriteString(c, "220 mx.test ESMTP\r\n")
		rcpts := 0
		dialogue(c, r, func(verb, line string) (string, bool) {
			if verb != "RCPT" {
				return "", false
			}
			if rcpts++; rcpts == 9 {
				return "421 4.7.0 mx.test Error: too many errors", true
			}
			return "554 5.7.1 Relay access denied", false
		})
	})
	r := probeAt(t, ap, nil)
	tp.AssertNoData(t)
	if r.Verdict != VerdictClosed || len(r.Untested) == 0 || !strings.Contains(r.Reason, "not tried") {
		t.Fatalf("verdict %s untested %v reason %q", r.Verdict, r.Untested, r.Reason)
	}
}

func TestContextCancelStopsProbe(t *testing.T) {
	// The MTA tarpits every RCPT, with a step timeout longer than the
	// test's hang guard: only the cancellation can end the probe before
	// the guard. The context is cancelled when the probe reads, after
	// sending RCPT (so after it set that read's deadline): while it waits
	// for the tarpitted reply.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ap, _ := startMTA(t, &policy{open: true, rcptDelay: 4 * probeGuard})
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cancelAfterRCPT{Conn: nc, cancel: cancel}, nil
	}
	done := make(chan *Result, 1)
	go func() {
		done <- Probe(ctx, Options{Addrs: []netip.Addr{ap.Addr()}, Port: int(ap.Port()), Timeout: 2 * probeGuard, HELO: "probe.example", Dial: dial})
	}()
	var r *Result
	select {
	case r = <-done:
	case <-time.After(probeGuard):
		t.Fatalf("cancel ignored: the probe was still running at the test's %s hang guard", probeGuard)
	}
	if r.Verdict != VerdictUnknown || len(r.Attempts) == 0 {
		t.Errorf("verdict %s attempts %+v", r.Verdict, r.Attempts)
	}
}

// cancelAfterRCPT cancels once the client reads after having sent RCPT.
type cancelAfterRCPT struct {
	net.Conn
	cancel func()
	rcpt   atomic.Bool
}

func (c *cancelAfterRCPT) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("RCPT ")) {
		c.rcpt.Store(true)
	}
	return c.Conn.Write(p)
}

func (c *cancelAfterRCPT) Read(p []byte) (int, error) {
	if c.rcpt.Load() {
		c.cancel()
	}
	return c.Conn.Read(p)
}

// The command writer refuses DATA and BDAT (and everything not on its
// allowlist), and arguments that would smuggle a second line.
func TestWriterRefusesDATA(t *testing.T) {
	ap, tp := startMTA(t, &policy{open: true})
	nc, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(nc, 2*time.Second)
	defer nc.Close()
	if _, err := c.readReply(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][2]string{
		{"EHLO", "probe.example"}, {"MAIL", "FROM:<>"}, {"RCPT", "TO:<a@example.net>"},
	} {
		if r, err := c.cmd(cmd[0], cmd[1]); err != nil || !r.Positive() {
			t.Fatalf("%v: %v %v", cmd, r, err)
		}
	}
	for _, cmd := range [][2]string{
		{"DATA", ""}, {"BDAT", "10 LAST"}, {"data", ""}, {"Data", ""}, {"VRFY", "root"}, {"EXPN", "all"}, {"AUTH", "PLAIN"},
		{"RCPT", "TO:<b@example.net>\r\nDATA"}, {"MAIL", "FROM:<>\nDATA"}, {"RSET", "\x00"},
	} {
		_, err := c.cmd(cmd[0], cmd[1])
		if !errors.Is(err, ErrForbiddenCommand) {
			t.Errorf("%q %q: err %v, want ErrForbiddenCommand", cmd[0], cmd[1], err)
		}
	}
	c.quit(true)
	tp.AssertNoData(t)
	if tp.Count("VRFY")+tp.Count("EXPN")+tp.Count("AUTH") != 0 {
		t.Errorf("wire: %q", tp.Lines())
	}
}

// A hostile --external cannot inject commands either.
func TestHostileExternalCannotInject(t *testing.T) {
	ap, tp := startMTA(t, &policy{open: true})
	r := probeAt(t, ap, func(o *Options) { o.External = "example.net>\r\nDATA\r\n" })
	tp.AssertNoData(t)
	if r.Verdict == VerdictOpen {
		t.Errorf("verdict %s", r.Verdict)
	}
}

func TestCommandBudget(t *testing.T) {
	nc1, nc2 := net.Pipe()
	defer nc1.Close()
	defer nc2.Close()
	go func() { _, _ = io.Copy(io.Discard, nc2) }()
	c := newConn(nc1, time.Second)
	for i := 0; i < maxCommands; i++ {
		if err := c.write("RSET", ""); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if err := c.write("RSET", ""); !errors.Is(err, ErrForbiddenCommand) {
		t.Errorf("command %d: %v", maxCommands+1, err)
	}
}

func TestChooseExternal(t *testing.T) {
	tests := []struct {
		ext, local, want string
		err              bool
	}{
		{"", "mx.example.com", "example.net", false},
		{"", "example.net", "example.org", false},
		{"", "mail.example.net", "example.org", false},
		{"Example.COM.", "mx.test", "example.com", false},
		{"example.com", "example.com", "", true},
		{"mail.example.com", "example.com", "", true},
		{"", "[127.0.0.1]", "example.net", false},
	}
	for _, tt := range tests {
		got, err := ChooseExternal(tt.ext, tt.local)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ChooseExternal(%q, %q) = %q, %v; want %q", tt.ext, tt.local, got, err, tt.want)
		}
	}
}

func TestDefaultHELO(t *testing.T) {
	h := DefaultHELO(&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1})
	if !isFQDN(h) && h != "[192.0.2.7]" {
		t.Errorf("DefaultHELO = %q", h)
	}
	if got := AddressLiteral(netip.MustParseAddr("2001:db8::1")); got != "[IPv6:2001:db8::1]" {
		t.Errorf("literal %s", got)
	}
	if got := AddressLiteral(netip.MustParseAddr("::ffff:192.0.2.1")); got != "[192.0.2.1]" {
		t.Errorf("literal %s", got)
	}
}
