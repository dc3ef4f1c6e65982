package address

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

const addrZone = `
test.example.       300 IN MX 10 mx.test.example.
mx.test.example.    300 IN A 127.0.0.1
nullmx.example.     300 IN MX 0 .
nomail.example.     300 IN TXT "v=spf1 -all"
`

func checkAddr(t *testing.T, addr string, port int, smtpOn bool) *Result {
	t.Helper()
	srv := dnstest.Start(t, addrZone)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Check(ctx, srv.Client(t), addr, Options{
		SMTP: smtpOn, Port: port,
		Probe: smtpprobe.Options{Timeout: 2 * time.Second, HELO: "probe.deliverdoctor.test"},
		Rand:  bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8}),
	})
}

func findingIDs(r *Result) []string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestCheckWithoutSMTP(t *testing.T) {
	tests := []struct {
		addr   string
		status findings.Status
		ids    []string
		mx     findings.Status
	}{
		{"alice@test.example", findings.StatusWarn, []string{"mx.private-address"}, findings.StatusWarn}, // 127.0.0.1
		{"a..b@test.example", findings.StatusFail, []string{"address.dot-position"}, findings.StatusSkip},
		{"bob@nullmx.example", findings.StatusFail, []string{"mx.null-mx"}, findings.StatusFail},
		{"bob@nomail.example", findings.StatusFail, []string{"mx.no-mail-host"}, findings.StatusFail},
		{"bob@missing.example", findings.StatusFail, []string{"mx.nxdomain"}, findings.StatusFail},
		{"bob@[192.0.2.1]", findings.StatusWarn, []string{"address.address-literal"}, findings.StatusSkip},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			r := checkAddr(t, tt.addr, 1, false)
			if got := findingIDs(r); !slices.Equal(got, tt.ids) {
				t.Fatalf("findings %q, want %q", got, tt.ids)
			}
			if r.Status != tt.status || r.MX.Status != tt.mx || r.SMTP != nil {
				t.Errorf("status %s mx %s smtp %v; want %s %s", r.Status, r.MX.Status, r.SMTP, tt.status, tt.mx)
			}
			if r.Summary == "" {
				t.Error("no summary")
			}
		})
	}
}

func TestCheckRCPT(t *testing.T) {
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})
	srv := smtptest.Start(t, &cert, nil)
	catchAll := smtptest.Start(t, nil, nil)
	catchAll.Backend.CatchAll = true
	utf8srv := smtptest.Start(t, nil, func(s *smtp.Server) { s.EnableSMTPUTF8 = true })
	utf8srv.Backend.CatchAll = true
	script := func(rcpt string) int {
		return int(smtptest.StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
			io.WriteString(c, "220 mx.test.example ESMTP\r\n")
			smtptest.ServeCommands(c, r, lg, map[string]string{"EHLO": "250-mx.test.example\r\n250 8BITMIME\r\n", "RCPT": rcpt})
		}).Addr.Port())
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()

	tests := []struct {
		name     string
		addr     string
		port     int
		status   findings.Status
		id       string // the address.* finding from the probe ("" none)
		accepted bool
		catchAll *bool
		code     int
		enhanced string
	}{
		{"accepted", "alice@test.example", int(srv.Addr.Port()), findings.StatusWarn, "", true, ptr(false), 250, "2.0.0"},
		{"rejected", "bob@test.example", int(srv.Addr.Port()), findings.StatusFail, "address.rcpt-rejected", false, ptr(false), 550, "5.1.1"},
		{"catch-all", "anyone@test.example", int(catchAll.Addr.Port()), findings.StatusWarn, "address.catch-all", true, ptr(true), 250, "2.0.0"},
		{"greylisted", "bob@test.example", script("450 4.2.0 greylisted, try again later\r\n"), findings.StatusWarn, "address.rcpt-deferred", false, nil, 450, "4.2.0"},
		{"policy", "bob@test.example", script("550 5.7.1 Client host [127.0.0.1] blocked using zen.spamhaus.org\r\n"), findings.StatusError, "address.probe-refused", false, nil, 550, "5.7.1"},
		{"no enhanced code", "bob@test.example", script("550 no such mailbox\r\n"), findings.StatusFail, "address.rcpt-rejected", false, ptr(false), 550, ""},
		{"unreachable", "bob@test.example", deadPort, findings.StatusError, "address.smtp-unreachable", false, nil, 0, ""},
		{"utf8 unsupported", "用户@test.example", int(srv.Addr.Port()), findings.StatusFail, "address.smtputf8-unsupported", false, nil, 0, ""},
		{"utf8 supported", "用户@test.example", int(utf8srv.Addr.Port()), findings.StatusWarn, "address.catch-all", true, ptr(true), 250, "2.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checkAddr(t, tt.addr, tt.port, true)
			if r.SMTP == nil {
				t.Fatal("no smtp summary")
			}
			var probeIDs []string
			for _, f := range r.Findings {
				if strings.HasPrefix(f.ID, "address.") && f.ID != "address.smtputf8" {
					probeIDs = append(probeIDs, f.ID)
				}
			}
			if tt.id == "" && len(probeIDs) != 0 || tt.id != "" && !slices.Equal(probeIDs, []string{tt.id}) {
				t.Fatalf("probe findings %q, want %q (smtp %+v)", probeIDs, tt.id, r.SMTP)
			}
			s := r.SMTP
			if r.Status != tt.status || s.Accepted != tt.accepted || s.Code != tt.code || s.EnhancedCode != tt.enhanced {
				t.Errorf("status %s accepted %v code %d %q; want %s %v %d %q (%s)", r.Status, s.Accepted, s.Code, s.EnhancedCode,
					tt.status, tt.accepted, tt.code, tt.enhanced, s.Error)
			}
			if (s.CatchAll == nil) != (tt.catchAll == nil) || (s.CatchAll != nil && *s.CatchAll != *tt.catchAll) {
				t.Errorf("catch_all %v, want %v", s.CatchAll, tt.catchAll)
			}
			if s.Caveat == "" {
				t.Error("no caveat")
			}
			if tt.catchAll != nil && *tt.catchAll && !strings.Contains(s.Caveat, "catch-all") {
				t.Errorf("caveat %q", s.Caveat)
			}
			for _, f := range r.Findings {
				if f.Severity == findings.SeverityFail && len(f.BounceCodes) == 0 {
					t.Errorf("%s without bounce codes", f.ID)
				}
			}
		})
	}
	// What the servers saw: the address, a random address, no DATA.
	want := []string{"EHLO probe.deliverdoctor.test", "STARTTLS", "EHLO probe.deliverdoctor.test", "MAIL FROM:<>",
		"RCPT TO:<alice@test.example>", "RCPT TO:<deliverdoctor-no-such-user-0102030405060708@test.example>", "RSET", "QUIT"}
	if got := srv.Log.Lines()[:8]; !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	for _, s := range []*smtptest.Server{srv, catchAll, utf8srv} {
		s.Log.AssertNoData(t)
		if len(s.Messages()) != 0 {
			t.Error("a message reached a server")
		}
	}
	if !slices.Contains(utf8srv.Log.Lines(), "MAIL FROM:<> SMTPUTF8") {
		t.Errorf("no SMTPUTF8 parameter: %q", utf8srv.Log.Lines())
	}
}

// A server whose STARTTLS is broken is asked again in plaintext, as
// senders with opportunistic TLS do.
func TestCheckRCPTAfterBrokenTLS(t *testing.T) {
	srv := smtptest.StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
		io.WriteString(c, "220 mx.test.example ESMTP\r\n")
		for {
			line := smtptest.ReadCommand(r, lg)
			verb, _, _ := strings.Cut(line, " ")
			switch verb {
			case "":
				return
			case "EHLO":
				io.WriteString(c, "250-mx.test.example\r\n250 STARTTLS\r\n")
			case "STARTTLS":
				io.WriteString(c, "220 go ahead\r\n")
				c.Read(make([]byte, 1024))
				io.WriteString(c, "not TLS\r\n")
				return
			case "QUIT":
				io.WriteString(c, "221 bye\r\n")
				return
			default:
				io.WriteString(c, "250 2.1.5 ok\r\n")
			}
		}
	})
	r := checkAddr(t, "alice@test.example", int(srv.Addr.Port()), true)
	if !r.SMTP.Accepted || r.SMTP.TLS {
		t.Fatalf("smtp %+v", r.SMTP)
	}
	if n := strings.Count(strings.Join(srv.Log.Verbs(), " "), "EHLO"); n != 2 {
		t.Errorf("%d EHLOs: %q", n, srv.Log.Lines())
	}
	srv.Log.AssertNoData(t)
}

func TestCheckInvalidNoProbe(t *testing.T) {
	srv := smtptest.Start(t, nil, nil)
	r := checkAddr(t, "a b@test.example", int(srv.Addr.Port()), true)
	if r.SyntaxValid || r.SMTP != nil || r.Address != "" || len(srv.Log.Lines()) != 0 {
		t.Errorf("invalid address probed: %+v", r)
	}
}

func ptr(b bool) *bool { return &b }

// A 421 greeting sends the probe to the next MX (RFC 5321 5.1).
func TestCheckRCPTNextMXAfter421(t *testing.T) {
	busy := smtptest.StartScripted(t, func(c net.Conn, _ *bufio.Reader, _ *smtptest.CommandLog) {
		io.WriteString(c, "421 4.3.2 busy, try another MX\r\n")
	})
	port := int(busy.Addr.Port())
	backup := smtptest.StartOn(t, "127.0.0.2:"+strconv.Itoa(port), nil, nil)
	srv := dnstest.Start(t, `
two.example.     300 IN MX 10 mx.test.example.
two.example.     300 IN MX 20 backup.test.example.
mx.test.example. 300 IN A 127.0.0.1
backup.test.example. 300 IN A 127.0.0.2
`)
	r := Check(context.Background(), srv.Client(t), "alice@two.example", Options{
		SMTP: true, Port: port, Probe: smtpprobe.Options{Timeout: 2 * time.Second, HELO: "probe.deliverdoctor.test"},
	})
	if r.SMTP == nil || r.SMTP.Host != "backup.test.example" || r.SMTP.Code != 550 {
		t.Fatalf("smtp %+v", r.SMTP)
	}
	backup.Log.AssertNoData(t)
}
