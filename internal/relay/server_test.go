package relay

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

// policy is a test MTA's relay behaviour.
type policy struct {
	local       []string            // domains it receives mail for (lower case; "[127.0.0.1]" for its literal)
	users       map[string]bool     // existing local parts
	open        bool                // relay for anyone
	catchAll    bool                // accept any local part at local domains
	percentHack bool                // route user%foreign@local (and only that)
	greylist    bool                // 450 every RCPT
	authMail    bool                // 530 every MAIL
	mailErr     map[string]error    // MAIL FROM address -> reply
	rcptDelay   time.Duration       // tarpit: delay every RCPT reply
	tlsConfig   *tls.Config         // offer STARTTLS and require it before MAIL
	dataReply   *smtp.SMTPError     // reply to DATA (never reached)
	stop        chan struct{}       // closed at cleanup: ends tarpit sleeps
	mu          sync.Mutex          // guards got
	got         map[string][]string // commands the backend saw
}

type session struct {
	p *policy
	c *smtp.Conn
}

func (s *session) record(k, v string) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.p.got == nil {
		s.p.got = map[string][]string{}
	}
	s.p.got[k] = append(s.p.got[k], v)
}

// seen returns what the backend recorded under k.
func (p *policy) seen(k string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got[k]...)
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.record("mail", from)
	if _, ok := s.c.TLSConnectionState(); s.p.tlsConfig != nil && !ok {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if s.p.authMail {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if err, ok := s.p.mailErr[from]; ok {
		return err
	}
	return nil
}

var (
	errRelayDenied = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	errNoUser      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User unknown in local recipient table"}
	errGreylist    = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Recipient address rejected: Greylisted, see https://postgrey.example/"}
)

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.record("rcpt", to)
	if s.p.rcptDelay > 0 {
		select {
		case <-time.After(s.p.rcptDelay):
		case <-s.p.stop:
		}
	}
	if s.p.greylist {
		return errGreylist
	}
	if s.p.open {
		return nil
	}
	at := strings.LastIndexByte(to, '@')
	local, domain := to[:at], strings.ToLower(to[at+1:])
	isLocal := false
	for _, d := range s.p.local {
		if domain == d {
			isLocal = true
		}
	}
	if !isLocal {
		return errRelayDenied
	}
	if s.p.percentHack && strings.Contains(local, "%") {
		return nil
	}
	if s.p.catchAll || s.p.users[local] {
		return nil
	}
	return errNoUser
}

func (s *session) Data(r io.Reader) error {
	s.record("data", "")
	_, _ = io.Copy(io.Discard, r)
	if s.p.dataReply != nil {
		return s.p.dataReply
	}
	return nil
}

// startMTA runs a go-smtp server with policy p on 127.0.0.1 and returns
// its address and the log of the commands it received.
func startMTA(t *testing.T, p *policy) (netip.AddrPort, *smtptest.CommandLog) {
	t.Helper()
	p.stop = make(chan struct{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lg := &smtptest.CommandLog{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{p: p, c: c}, nil }))
	s.Domain = "mx.test"
	s.TLSConfig = p.tlsConfig
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.ErrorLog = nopLogger{}
	s.Debug = lg
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		close(p.stop)
		_ = s.Close()
		_ = l.Close() // Serve may not have registered the listener yet
		<-done
	})
	return netip.MustParseAddrPort(l.Addr().String()), lg
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}
func (nopLogger) Println(...interface{})        {}

// rawServer runs handle for every connection on 127.0.0.1, for servers that
// misbehave below what go-smtp can be told to do. Every line the client
// sends is logged as it is read.
func rawServer(t *testing.T, handle func(c net.Conn, r *bufio.Reader)) (netip.AddrPort, *smtptest.CommandLog) {
	t.Helper()
	s := smtptest.StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
		handle(c, bufio.NewReader(io.TeeReader(r, lg)))
	})
	return s.Addr, s.Log
}

// closedDialogue answers like a closed relay after whatever greeting the
// caller sent.
func closedDialogue(c net.Conn, r *bufio.Reader) {
	dialogue(c, r, func(verb, line string) (string, bool) {
		switch verb {
		case "EHLO":
			return "250-mx.test\r\n250 8BITMIME", false
		case "RCPT":
			return "554 5.7.1 Relay access denied", false
		case "DATA", "BDAT":
			return "503 5.5.1 never", false
		}
		return "", false
	})
}

// dialogue answers each command line with answer's reply (written in one
// piece, so several reply lines arrive together), "250 2.0.0 Ok" when it
// returns "", and 221 to QUIT. It hangs up after a reply when answer says so.
func dialogue(c net.Conn, r *bufio.Reader, answer func(verb, line string) (reply string, hangup bool)) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		if verb == "QUIT" {
			_, _ = io.WriteString(c, "221 2.0.0 Bye\r\n")
			return
		}
		reply, hangup := answer(verb, line)
		if reply == "" {
			reply = "250 2.0.0 Ok"
		}
		if _, err := io.WriteString(c, reply+"\r\n"); err != nil || hangup {
			return
		}
	}
}

// scriptedMTA is a raw server that greets with 220 and then answers as
// dialogue does.
func scriptedMTA(t *testing.T, answer func(verb, line string) (reply string, hangup bool)) (netip.AddrPort, *smtptest.CommandLog) {
	t.Helper()
	return rawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.WriteString(c, "220 mx.test ESMTP\r\n")
		dialogue(c, r, answer)
	})
}
