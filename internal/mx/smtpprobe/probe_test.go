package smtpprobe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/smtpreply"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// probeGuard bounds every probe in these tests. It is a hang guard, not a
// speed limit: a probe that runs into it ignored its own Options.Timeout
// (or a server's dribbling kept resetting it), and the test fails saying so.
const probeGuard = 30 * time.Second

func probe(t *testing.T, host string, ap netip.AddrPort, opts Options) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeGuard)
	defer cancel()
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Second
	}
	if opts.HELO == "" {
		opts.HELO = "probe.deliverdoctor.test"
	}
	res := Probe(ctx, host, ap.Addr(), int(ap.Port()), opts)
	if ctx.Err() != nil {
		t.Fatalf("the probe ran into the test's %s hang guard: its %s step timeout did not end it (failure %q: %s)", probeGuard, opts.Timeout, res.Failure, res.Error)
	}
	return res
}

func TestProbePlain(t *testing.T) {
	srv := smtptest.Start(t, nil, nil)
	res := probe(t, "mx.test.example", srv.Addr, Options{})
	if res.Failure != "" {
		t.Fatalf("failure %s: %s", res.Failure, res.Error)
	}
	if !res.Reached() || res.Greeting.Code != 220 || !strings.Contains(res.Greeting.Text(), "mx.test.example ESMTP") {
		t.Fatalf("greeting %+v", res.Greeting)
	}
	for _, kw := range []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE"} {
		if _, ok := res.Extension(kw); !ok {
			t.Errorf("extension %s not listed: %q", kw, res.Extensions)
		}
	}
	if res.StartTLSOffered || res.TLS != nil {
		t.Errorf("no TLS configured, got offered=%v tls=%+v", res.StartTLSOffered, res.TLS)
	}
	if got, want := srv.Log.Verbs(), []string{"EHLO", "RSET", "QUIT"}; !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	if got := srv.Log.Lines()[0]; got != "EHLO probe.deliverdoctor.test" {
		t.Errorf("EHLO line %q", got)
	}
	srv.Log.AssertNoData(t)
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Name)
	}
	if want := []string{"connect", "greeting", "ehlo", "rset", "quit"}; !slices.Equal(names, want) {
		t.Errorf("steps %q, want %q", names, want)
	}
}

func TestProbeSTARTTLS(t *testing.T) {
	ca := testpki.NewCA(t)
	now := time.Now()
	tests := []struct {
		name      string
		cert      func() tls.Certificate
		host      string
		trusted   bool
		chainOK   bool
		nameMatch bool
		expired   bool
		daysMax   int // DaysLeft must be at most this (and >= daysMin)
		daysMin   int
	}{
		{"valid", func() tls.Certificate {
			return ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: now.Add(60 * 24 * time.Hour)})
		}, "mx.test.example", true, true, true, false, 60, 59},
		{"wildcard", func() tls.Certificate {
			return ca.Issue(t, testpki.Leaf{Names: []string{"*.test.example"}, NotAfter: now.Add(60 * 24 * time.Hour)})
		}, "mx.test.example", true, true, true, false, 60, 59},
		{"expired", func() tls.Certificate {
			return ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotBefore: now.Add(-90 * 24 * time.Hour), NotAfter: now.Add(-2 * 24 * time.Hour)})
		}, "mx.test.example", false, true, true, true, -1, -3},
		{"expiring-soon", func() tls.Certificate {
			return ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotBefore: now.Add(-80 * 24 * time.Hour), NotAfter: now.Add(5*24*time.Hour + time.Hour)})
		}, "mx.test.example", true, true, true, false, 5, 5},
		{"wrong-name", func() tls.Certificate {
			return ca.Issue(t, testpki.Leaf{Names: []string{"www.other.example"}, NotAfter: now.Add(60 * 24 * time.Hour)})
		}, "mx.test.example", true, true, false, false, 60, 59},
		{"self-signed", func() tls.Certificate { return testpki.SelfSigned(t, "mx.test.example") }, "mx.test.example", false, false, true, false, 90, 89},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := tt.cert()
			srv := smtptest.Start(t, &cert, nil)
			res := probe(t, tt.host, srv.Addr, Options{Roots: ca.Pool()})
			if res.Failure != "" {
				t.Fatalf("failure %s: %s", res.Failure, res.Error)
			}
			if !res.StartTLSOffered || res.TLS == nil {
				t.Fatalf("no TLS: offered=%v err=%q", res.StartTLSOffered, res.TLSError)
			}
			ti := res.TLS
			if ti.Version != "TLS 1.3" || ti.Cipher == "" {
				t.Errorf("version %q cipher %q", ti.Version, ti.Cipher)
			}
			if ti.ServerName != tt.host {
				t.Errorf("SNI %q", ti.ServerName)
			}
			if ti.Trusted != tt.trusted || ti.ChainOKIgnoringTime != tt.chainOK || ti.NameMatch != tt.nameMatch || ti.Expired != tt.expired {
				t.Errorf("trusted=%v(%s) chainOK=%v name=%v(%s) expired=%v; want %v %v %v %v",
					ti.Trusted, ti.TrustError, ti.ChainOKIgnoringTime, ti.NameMatch, ti.NameError, ti.Expired,
					tt.trusted, tt.chainOK, tt.nameMatch, tt.expired)
			}
			if ti.DaysLeft > tt.daysMax || ti.DaysLeft < tt.daysMin {
				t.Errorf("days left %d, want %d..%d", ti.DaysLeft, tt.daysMin, tt.daysMax)
			}
			// The chain as presented: the leaf, and the CA when it was issued by one.
			if n := len(cert.Certificate); len(res.PeerCertificates) != n || res.ConnectionState == nil || len(ti.Chain) != n || len(ti.Chain[0].SPKISHA256) != 64 {
				t.Errorf("chain: %d certs, state %v, %+v", len(res.PeerCertificates), res.ConnectionState != nil, ti.Chain)
			}
			if _, ok := res.Extension("STARTTLS"); ok {
				t.Errorf("extensions are not the post-TLS ones: %q", res.Extensions)
			}
			if got, want := srv.Log.Verbs(), []string{"EHLO", "STARTTLS", "EHLO", "RSET", "QUIT"}; !slices.Equal(got, want) {
				t.Errorf("commands %q, want %q", got, want)
			}
			srv.Log.AssertNoData(t)
		})
	}
}

func TestProbeNoTLSOption(t *testing.T) {
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: time.Now().Add(time.Hour * 24 * 30)})
	srv := smtptest.Start(t, &cert, nil)
	res := probe(t, "mx.test.example", srv.Addr, Options{NoTLS: true})
	if !res.StartTLSOffered || res.TLS != nil || res.Failure != "" {
		t.Fatalf("offered=%v tls=%v failure=%s", res.StartTLSOffered, res.TLS != nil, res.Error)
	}
	if got, want := srv.Log.Verbs(), []string{"EHLO", "RSET", "QUIT"}; !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
}

func TestProbeRecipients(t *testing.T) {
	srv := smtptest.Start(t, nil, nil)
	res := probe(t, "mx.test.example", srv.Addr, Options{Recipients: []string{"alice@test.example", "nobody@test.example"}})
	if res.Failure != "" {
		t.Fatalf("failure %s: %s", res.Failure, res.Error)
	}
	if len(res.Recipients) != 2 {
		t.Fatalf("recipients %+v", res.Recipients)
	}
	if r := res.Recipients[0]; !r.Accepted || r.Reply.Code != 250 {
		t.Errorf("alice: %+v", r)
	}
	if r := res.Recipients[1]; r.Accepted || r.Reply.Code != 550 || r.Reply.Enhanced != "5.1.1" || r.Reply.Text() != "no such user here" {
		t.Errorf("nobody: %+v (text %q)", r, r.Reply.Text())
	}
	want := []string{"EHLO probe.deliverdoctor.test", "MAIL FROM:<>", "RCPT TO:<alice@test.example>", "RCPT TO:<nobody@test.example>", "RSET", "QUIT"}
	if got := srv.Log.Lines(); !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	srv.Log.AssertNoData(t)
	if len(srv.Messages()) != 0 {
		t.Errorf("a message reached the backend")
	}
}

func TestProbeSMTPUTF8(t *testing.T) {
	plain := smtptest.Start(t, nil, nil)
	res := probe(t, "mx.test.example", plain.Addr, Options{Recipients: []string{"用户@test.example"}})
	if len(res.Recipients) != 1 || res.Recipients[0].Error == "" || res.Recipients[0].Reply != nil {
		t.Fatalf("without SMTPUTF8: %+v", res.Recipients)
	}
	if slices.Contains(plain.Log.Verbs(), "MAIL") {
		t.Errorf("MAIL sent to a server without SMTPUTF8: %q", plain.Log.Lines())
	}
	utf := smtptest.Start(t, nil, func(s *smtp.Server) { s.EnableSMTPUTF8 = true })
	utf.Backend.CatchAll = true
	res = probe(t, "mx.test.example", utf.Addr, Options{Recipients: []string{"用户@test.example"}})
	if len(res.Recipients) != 1 || !res.Recipients[0].Accepted {
		t.Fatalf("with SMTPUTF8: %+v %s", res.Recipients, res.Error)
	}
	if !slices.Contains(utf.Log.Lines(), "MAIL FROM:<> SMTPUTF8") {
		t.Errorf("no SMTPUTF8 parameter: %q", utf.Log.Lines())
	}
}

func TestProbeMultiLineBanner(t *testing.T) {
	srv := smtptest.StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
		io.WriteString(c, "220-mx.test.example ESMTP ready\r\n220-No UCE. Really.\n220 Third line\r\n")
		smtptest.ServeCommands(c, r, lg, map[string]string{
			"EHLO": "250-mx.test.example\r\n250-SIZE 1000\r\n250 8BITMIME\r\n", "QUIT": "221 2.0.0 bye\r\n"})
	})
	res := probe(t, "mx.test.example", srv.Addr, Options{})
	if res.Failure != "" {
		t.Fatal(res.Error)
	}
	if want := []string{"mx.test.example ESMTP ready", "No UCE. Really.", "Third line"}; !slices.Equal(res.Greeting.Lines, want) {
		t.Errorf("banner %q", res.Greeting.Lines)
	}
	if want := []string{"SIZE 1000", "8BITMIME"}; !slices.Equal(res.Extensions, want) {
		t.Errorf("extensions %q", res.Extensions)
	}
	if p, _ := res.Extension("size"); p != "1000" {
		t.Errorf("SIZE params %q", p)
	}
}

func TestProbeGreetingRefused(t *testing.T) {
	for _, tt := range []struct {
		greeting string
		code     int
		enhanced string
		quit     bool
	}{
		{"421 4.3.2 Service not available, closing channel\r\n", 421, "4.3.2", false},
		{"554 5.7.1 No SMTP service here for you\r\n", 554, "5.7.1", true},
	} {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			srv := smtptest.StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
				io.WriteString(c, tt.greeting)
				if tt.code == 421 {
					return // RFC 5321 3.8: the server closes after 421
				}
				smtptest.ServeCommands(c, r, lg, map[string]string{"QUIT": "221 bye\r\n"})
			})
			res := probe(t, "mx.test.example", srv.Addr, Options{})
			if res.Failure != FailGreeting || res.Greeting == nil || res.Greeting.Code != tt.code || res.Greeting.Enhanced != tt.enhanced {
				t.Fatalf("failure %q greeting %+v", res.Failure, res.Greeting)
			}
			if res.Reached() {
				t.Error("Reached() true for a refused greeting")
			}
			if got := srv.Log.Verbs(); tt.quit != slices.Equal(got, []string{"QUIT"}) || (!tt.quit && len(got) > 0) {
				t.Errorf("commands after %d greeting: %q", tt.code, got)
			}
		})
	}
}

func TestProbeSlowBannerTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := smtptest.StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
		<-release
	})
	defer close(release)
	// The server never greets: only the 300ms step timeout can end the
	// probe (probe fails the test if its hang guard did instead).
	res := probe(t, "mx.test.example", srv.Addr, Options{Timeout: 300 * time.Millisecond})
	if res.Failure != FailTimeout || !isTimeout(res.Err) {
		t.Fatalf("failure %q err %v", res.Failure, res.Err)
	}
	if !strings.Contains(res.Error, "no answer within 300ms") {
		t.Errorf("error %q", res.Error)
	}
}

func TestProbeHostileServers(t *testing.T) {
	tests := []struct {
		name    string
		handle  func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog)
		failure FailureKind
		err     error
		check   func(t *testing.T, res *Result)
	}{
		{"10MB banner line", func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			io.WriteString(c, "220 ")
			chunk := strings.Repeat("A", 64<<10)
			for i := 0; i < 160; i++ {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
			io.WriteString(c, "\r\n")
		}, FailProtocol, ErrLineTooLong, nil},
		{"never-ending multi-line banner", func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			for {
				if _, err := io.WriteString(c, "220-still going\r\n"); err != nil {
					return
				}
			}
		}, FailProtocol, ErrReplyTooLong, nil},
		{"slow never-ending multi-line banner", func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			for {
				if _, err := io.WriteString(c, "220-drip\r\n"); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}, FailTimeout, nil, nil},
		{"garbage instead of a reply", func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		}, FailProtocol, ErrMalformed, nil},
		{"mixed codes in a multi-line reply", func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			io.WriteString(c, "220-hello\r\n250 what\r\n")
		}, FailProtocol, ErrMalformed, nil},
		{"closed mid-reply", func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
			io.WriteString(c, "220-hello\r\n220")
		}, FailProtocol, ErrMalformed, nil},
		{"closed before greeting", func(net.Conn, *bufio.Reader, *smtptest.CommandLog) {}, FailNetwork, io.EOF, nil},
		{"control characters", func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 mx \x1b[2J\x1b]0;pwned\x07 ESMTP\x00\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{"EHLO": "250-mx\r\n250 X-\x1b[31mRED\r\n", "QUIT": "221 bye\r\n"})
		}, "", nil, func(t *testing.T, res *Result) {
			all := strings.Join(res.Greeting.Lines, "") + strings.Join(res.Extensions, "")
			if strings.ContainsAny(all, "\x1b\x07\x00") {
				t.Errorf("control characters kept: %q", all)
			}
			if !strings.Contains(all, `\x1b[2J`) || !strings.Contains(all, `X-\x1b[31mRED`) {
				t.Errorf("not shown escaped: %q", all)
			}
		}},
		{"STARTTLS response injection", func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 mx ESMTP\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{
				"EHLO":     "250-mx\r\n250 STARTTLS\r\n",
				"STARTTLS": "220 2.0.0 go ahead\r\n250-injected\r\n250 STARTTLS\r\n",
			})
		}, FailProtocol, nil, func(t *testing.T, res *Result) {
			if !strings.Contains(res.TLSError, "response injection") {
				t.Errorf("tls error %q", res.TLSError)
			}
		}},
		{"handshake garbage", func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 mx ESMTP\r\n")
			smtptest.ReadCommand(r, lg)
			io.WriteString(c, "250-mx\r\n250 STARTTLS\r\n")
			smtptest.ReadCommand(r, lg)
			io.WriteString(c, "220 go ahead\r\n")
			buf := make([]byte, 512)
			c.Read(buf) // the ClientHello
			io.WriteString(c, "this is not TLS at all\r\n")
		}, FailTLS, nil, func(t *testing.T, res *Result) {
			if !strings.HasPrefix(res.TLSError, "TLS handshake failed") || res.TLS != nil {
				t.Errorf("tls error %q", res.TLSError)
			}
		}},
		{"STARTTLS refused", func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 mx ESMTP\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{
				"EHLO":     "250-mx\r\n250 STARTTLS\r\n",
				"STARTTLS": "454 4.7.0 TLS not available due to local problem\r\n",
				"QUIT":     "221 bye\r\n",
			})
		}, "", nil, func(t *testing.T, res *Result) {
			if res.TLS != nil || res.StartTLSReply.Code != 454 || !strings.Contains(res.TLSError, "454 4.7.0") {
				t.Errorf("tls %v reply %+v error %q", res.TLS, res.StartTLSReply, res.TLSError)
			}
		}},
		{"EHLO unknown, HELO works", func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 old.example SMTP\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{"EHLO": "502 5.5.1 command not implemented\r\n", "HELO": "250 old.example\r\n", "QUIT": "221 bye\r\n"})
		}, "", nil, func(t *testing.T, res *Result) {
			if !res.HELOFallback || !res.Reached() || len(res.Extensions) != 0 {
				t.Errorf("fallback %v reached %v ext %q", res.HELOFallback, res.Reached(), res.Extensions)
			}
		}},
		{"EHLO and HELO refused", func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 picky.example\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{"EHLO": "550 5.7.1 go away\r\n", "HELO": "550 5.7.1 go away\r\n", "QUIT": "221 bye\r\n"})
		}, FailHello, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.StartScripted(t, tt.handle)
			// A server that never stops talking must still be cut off by
			// the step timeout: probe fails the test on its hang guard.
			res := probe(t, "mx.test.example", srv.Addr, Options{Timeout: 500 * time.Millisecond})
			if res.Failure != tt.failure {
				t.Fatalf("failure %q (%s), want %q", res.Failure, res.Error, tt.failure)
			}
			if tt.err != nil && !errors.Is(res.Err, tt.err) {
				t.Errorf("err %v, want %v", res.Err, tt.err)
			}
			if strings.ContainsAny(res.Error, "\x1b\x07\x00") {
				t.Errorf("unsanitized error %q", res.Error)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
			srv.Log.AssertNoData(t)
		})
	}
}

func TestProbeConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	l.Close()
	res := probe(t, "mx.test.example", ap, Options{})
	if res.Failure != FailConnect || res.Connected || len(res.Steps) != 1 || res.Steps[0].Error == "" {
		t.Fatalf("failure %q connected %v steps %+v", res.Failure, res.Connected, res.Steps)
	}
}

func TestProbeContextCancel(t *testing.T) {
	release := make(chan struct{})
	srv := smtptest.StartScripted(t, func(net.Conn, *bufio.Reader, *smtptest.CommandLog) { <-release })
	defer close(release)
	// The server never greets, and the step timeout is longer than the
	// test's hang guard: only the cancellation can end the probe before
	// the guard. The context is cancelled when the probe first reads (the
	// greeting's deadline is set by then): while it waits for the greeting.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cancelOnRead{Conn: nc, cancel: cancel}, nil
	}
	done := make(chan *Result, 1)
	go func() {
		done <- Probe(ctx, "mx.test.example", srv.Addr.Addr(), int(srv.Addr.Port()), Options{Timeout: 2 * probeGuard, Dial: dial})
	}()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(probeGuard):
		t.Fatalf("cancel ignored: the probe was still running at the test's %s hang guard", probeGuard)
	}
	if res.Failure != FailCanceled {
		t.Errorf("failure %q: %s", res.Failure, res.Error)
	}
}

// cancelOnRead cancels a context when the client reads.
type cancelOnRead struct {
	net.Conn
	cancel func()
}

func (c *cancelOnRead) Read(p []byte) (int, error) {
	c.cancel()
	return c.Conn.Read(p)
}

func TestProbeRefusesInjection(t *testing.T) {
	srv := smtptest.Start(t, nil, nil)
	for _, opts := range []Options{
		{Recipients: []string{"a@test.example>\r\nDATA"}},
		{MailFrom: "x@y\nDATA", Recipients: []string{"a@test.example"}},
		{HELO: "evil\r\nDATA"},
	} {
		res := Probe(context.Background(), "mx.test.example", loopback, int(srv.Addr.Port()), opts)
		if res.Failure != FailProtocol || res.Connected {
			t.Errorf("%+v: failure %q connected %v", opts, res.Failure, res.Connected)
		}
	}
	if n := len(srv.Log.Lines()); n != 0 {
		t.Errorf("commands reached the server: %q", srv.Log.Lines())
	}
}

func TestOnlyAllowedCommands(t *testing.T) {
	for _, verb := range []string{"DATA", "BDAT", "AUTH", "VRFY", "EXPN"} {
		if allowed[verb] {
			t.Errorf("%s is sendable", verb)
		}
	}
	s := &session{res: &Result{}, ctx: context.Background()}
	if _, err := s.cmdStep("data", "DATA", ""); err == nil || s.res.Failure != FailProtocol {
		t.Errorf("DATA not refused: %v", err)
	}
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		in       string
		code     int
		enhanced string
		lines    []string
		text     string
		err      error
	}{
		{"250 2.1.5 Ok\r\n", 250, "2.1.5", []string{"2.1.5 Ok"}, "Ok", nil},
		{"250-2.0.0 first\r\n250 2.0.0 second\r\n", 250, "2.0.0", []string{"2.0.0 first", "2.0.0 second"}, "first second", nil},
		{"220\r\n", 220, "", []string{""}, "", nil},
		{"550 5.1.1\r\n", 550, "5.1.1", []string{"5.1.1"}, "", nil},
		{"550 4.1.1 class mismatch\r\n", 550, "", []string{"4.1.1 class mismatch"}, "4.1.1 class mismatch", nil},
		{"250 2.1.5000 too long\r\n", 250, "", []string{"2.1.5000 too long"}, "2.1.5000 too long", nil},
		{"250 ok\n", 250, "", []string{"ok"}, "ok", nil},
		{"25 short\r\n", 0, "", nil, "", ErrMalformed},
		{"600 big\r\n", 0, "", nil, "", ErrMalformed},
		{"250_odd\r\n", 0, "", nil, "", ErrMalformed},
		// RFC 5321 4.2: the second digit is 0-5 (accepted before the
		// shared reader), and RFC 3463 has no class 3.
		{"260 odd\r\n", 0, "", nil, "", ErrMalformed},
		{"354 3.0.0 go ahead\r\n", 354, "", []string{"3.0.0 go ahead"}, "3.0.0 go ahead", nil},
		// 128 lines of 4000 bytes passed before: one reply is now capped
		// at 64 KiB as in the relay probe.
		{strings.Repeat("250-"+strings.Repeat("y", 4000)+"\r\n", 100) + "250 x\r\n", 0, "", nil, "", smtpreply.ErrTooLong},
		{"", 0, "", nil, "", io.EOF},
	}
	for _, tt := range tests {
		rep, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), MaxLineLength))
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%q: err %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || rep.Code != tt.code || rep.Enhanced != tt.enhanced || !slices.Equal(rep.Lines, tt.lines) || rep.Text() != tt.text {
			t.Errorf("%q: %+v text %q err %v", tt.in, rep, rep.Text(), err)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 x\r\n", "\x00\xff", "220-", "999 x\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rep, err := readReply(bufio.NewReaderSize(strings.NewReader(in), MaxLineLength))
		if err != nil {
			return
		}
		if rep.Code < 200 || rep.Code > 599 || len(rep.Lines) == 0 || len(rep.Lines) > MaxReplyLines {
			t.Fatalf("accepted %q as %+v", in, rep)
		}
		for _, l := range rep.Lines {
			if strings.ContainsAny(l, "\r\n\x1b\x00") {
				t.Fatalf("unsanitized line %q", l)
			}
		}
		_ = rep.String()
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
