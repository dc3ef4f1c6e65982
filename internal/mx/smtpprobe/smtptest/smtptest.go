// Package smtptest provides SMTP servers on 127.0.0.1 for tests: a
// github.com/emersion/go-smtp server with STARTTLS and a recipient policy,
// a scripted raw-TCP server for misbehaviour go-smtp cannot produce, and a
// test CA to issue certificates. Every server records the command lines it
// received, so tests can assert what a probe sent (and that DATA never was).
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// CommandLog records the command lines a server received.
type CommandLog struct {
	mu    sync.Mutex
	lines []string
	buf   []byte
}

// Add records one command line.
func (c *CommandLog) Add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, line)
}

// Lines returns the command lines received so far.
func (c *CommandLog) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// Verbs returns the command verbs in order, upper-case.
func (c *CommandLog) Verbs() []string {
	var vs []string
	for _, l := range c.Lines() {
		v, _, _ := strings.Cut(l, " ")
		vs = append(vs, strings.ToUpper(v))
	}
	return vs
}

// AssertNoData fails the test if DATA or BDAT reached the server.
func (c *CommandLog) AssertNoData(tb testing.TB) {
	tb.Helper()
	for _, v := range c.Verbs() {
		if v == "DATA" || v == "BDAT" {
			tb.Fatalf("the client sent %s; commands: %q", v, c.Lines())
		}
	}
}

// Write receives go-smtp's Debug stream: what the server read (client
// commands, starting with a letter) and wrote (replies, starting with a
// digit). The dialogue is lockstep, so whole lines can be told apart.
func (c *CommandLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	var done []string
	for {
		i := strings.IndexByte(string(c.buf), '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(c.buf[:i]), "\r")
		c.buf = c.buf[i+1:]
		if line != "" && (line[0] < '0' || line[0] > '9') {
			done = append(done, line)
		}
	}
	c.mu.Unlock()
	for _, l := range done {
		c.Add(l)
	}
	return len(p), nil
}

// CA issues certificates for test servers.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// Pool holds only this CA: pass it as the probe's roots.
	Pool *x509.CertPool
}

// NewCA makes a CA valid from a year ago to a year ahead.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "deliverdoctor test CA"},
		NotBefore:             time.Now().Add(-365 * 24 * time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Key: key, Pool: pool}
}

// Leaf issues a server certificate for names, valid from notBefore to
// notAfter.
func (ca *CA) Leaf(tb testing.TB, names []string, notBefore, notAfter time.Time) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// Valid issues a certificate for names valid from an hour ago for days.
func (ca *CA) Valid(tb testing.TB, days int, names ...string) tls.Certificate {
	tb.Helper()
	return ca.Leaf(tb, names, time.Now().Add(-time.Hour), time.Now().Add(time.Duration(days)*24*time.Hour))
}

// SelfSigned makes a certificate for name signed by its own key.
func SelfSigned(tb testing.TB, name string) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Backend is a go-smtp backend: RCPT is accepted for Users (all when
// CatchAll) and refused with 550 5.1.1 otherwise. It counts messages that
// reached DATA, which a probe must never do.
type Backend struct {
	mu       sync.Mutex
	Users    map[string]bool
	CatchAll bool
	data     int
}

// Messages returns how many DATA commands reached a session.
func (b *Backend) Messages() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.data
}

// NewSession implements smtp.Backend.
func (b *Backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{b: b}, nil }

type session struct{ b *Backend }

func (s *session) Reset()                               {}
func (s *session) Logout() error                        { return nil }
func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	ok := s.b.CatchAll || s.b.Users[strings.ToLower(to)]
	s.b.mu.Unlock()
	if ok {
		return nil
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
}
func (s *session) Data(r io.Reader) error {
	s.b.mu.Lock()
	s.b.data++
	s.b.mu.Unlock()
	_, _ = io.Copy(io.Discard, r)
	return nil
}

// Server is a running go-smtp server.
type Server struct {
	Addr    netip.AddrPort
	Log     *CommandLog
	Backend *Backend
	SMTP    *smtp.Server
}

// Start runs a go-smtp server named mx.test.example on 127.0.0.1 (a random
// port) that knows the user alice@test.example. cert nil means no
// STARTTLS; configure may change the server before it starts.
func Start(tb testing.TB, cert *tls.Certificate, configure func(*smtp.Server)) *Server {
	tb.Helper()
	return StartOn(tb, "127.0.0.1:0", cert, configure)
}

// StartOn is Start listening on addr.
func StartOn(tb testing.TB, addr string, cert *tls.Certificate, configure func(*smtp.Server)) *Server {
	tb.Helper()
	be := &Backend{Users: map[string]bool{"alice@test.example": true}}
	s := smtp.NewServer(be)
	s.Domain = "mx.test.example"
	s.ErrorLog = log.New(io.Discard, "", 0)
	lg := &CommandLog{}
	s.Debug = lg
	s.ReadTimeout = 5 * time.Second
	s.WriteTimeout = 5 * time.Second
	if cert != nil {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	if configure != nil {
		configure(s)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	tb.Cleanup(func() { _ = s.Close() })
	return &Server{Addr: l.Addr().(*net.TCPAddr).AddrPort(), Log: lg, Backend: be, SMTP: s}
}

// Scripted is a raw TCP server whose handler plays the server side.
type Scripted struct {
	Addr netip.AddrPort
	Log  *CommandLog
}

// StartScripted runs handle for each connection to a listener on
// 127.0.0.1 (a random port).
func StartScripted(tb testing.TB, handle func(c net.Conn, r *bufio.Reader, log *CommandLog)) *Scripted {
	tb.Helper()
	return StartScriptedOn(tb, "127.0.0.1:0", handle)
}

// StartScriptedOn is StartScripted listening on addr.
func StartScriptedOn(tb testing.TB, addr string, handle func(c net.Conn, r *bufio.Reader, log *CommandLog)) *Scripted {
	tb.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	lg := &CommandLog{}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				handle(c, bufio.NewReader(c), lg)
			}()
		}
	}()
	tb.Cleanup(func() { l.Close(); wg.Wait() })
	return &Scripted{Addr: l.Addr().(*net.TCPAddr).AddrPort(), Log: lg}
}

// ReadCommand reads one command line into the log ("" on error).
func ReadCommand(r *bufio.Reader, lg *CommandLog) string {
	line, err := r.ReadString('\n')
	if err != nil {
		return ""
	}
	line = strings.TrimRight(line, "\r\n")
	lg.Add(line)
	return line
}

// ServeCommands answers each command by its verb from answers (default
// "250 2.0.0 ok") until QUIT or an error.
func ServeCommands(c net.Conn, r *bufio.Reader, lg *CommandLog, answers map[string]string) {
	for {
		line := ReadCommand(r, lg)
		if line == "" {
			return
		}
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		a, ok := answers[verb]
		if !ok {
			a = "250 2.0.0 ok\r\n"
			if verb == "QUIT" {
				a = "221 2.0.0 bye\r\n"
			}
		}
		if _, err := io.WriteString(c, a); err != nil {
			return
		}
		if verb == "QUIT" {
			return
		}
	}
}
