// Package smtptest runs SMTP servers on 127.0.0.1 for tests:
//
//   - Start (and StartOn): a github.com/emersion/go-smtp server named
//     mx.test.example that accepts RCPT only for its mailboxes (Backend.Users,
//     or any with Backend.CatchAll), with STARTTLS when given a certificate:
//     an MX host for probes;
//   - StartSink: the same server as a mail sink or submission server: every
//     recipient accepted, STARTTLS from a tls.Config, AUTH PLAIN required
//     when users are given;
//   - StartScripted (and StartScriptedOn): a raw TCP server whose handler
//     plays the server side, for misbehaviour go-smtp cannot produce.
//
// Every server records the command lines it received (CommandLog), so a
// test can assert what a client sent, and that DATA never was; the go-smtp
// servers also keep the messages they received. Certificates for STARTTLS
// come from internal/testpki.
package smtptest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
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

// Count returns how many commands had the verb (upper-case).
func (c *CommandLog) Count(verb string) int {
	n := 0
	for _, v := range c.Verbs() {
		if v == verb {
			n++
		}
	}
	return n
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
// digit). The dialogue is lockstep, so whole lines can be told apart. After
// STARTTLS the stream is the decrypted one; after DATA the message's lines
// are logged too.
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

// Message is one message a go-smtp server received.
type Message struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool   // the session was encrypted when MAIL was given
	AuthUser string // the authenticated user, if any
}

// Backend is the go-smtp backend of Start, StartOn and StartSink: RCPT is
// accepted for Users (all when CatchAll) and refused with 550 5.1.1
// otherwise; with Auth, AUTH PLAIN is offered and MAIL refused until it
// succeeded. Set its fields before a client connects.
type Backend struct {
	mu sync.Mutex
	// Users are the mailboxes RCPT TO accepts, lower-case addresses.
	Users map[string]bool
	// CatchAll accepts every recipient.
	CatchAll bool
	// Auth maps user names to passwords for AUTH PLAIN (nil: no AUTH).
	Auth     map[string]string
	messages []Message
}

// NewSession implements smtp.Backend.
func (b *Backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, conn: c}, nil
}

type session struct {
	b    *Backend
	conn *smtp.Conn
	msg  Message
}

func (s *session) AuthMechanisms() []string {
	if s.b.Auth == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if p, ok := s.b.Auth[user]; !ok || p != pass {
			return errors.New("bad credentials")
		}
		s.msg.AuthUser = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.Auth != nil && s.msg.AuthUser == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	_, s.msg.TLS = s.conn.TLSConnectionState()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	ok := s.b.CatchAll || s.b.Users[strings.ToLower(to)]
	s.b.mu.Unlock()
	if !ok {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = b
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, s.msg)
	s.b.mu.Unlock()
	s.msg = Message{AuthUser: s.msg.AuthUser}
	return nil
}

func (s *session) Reset()        { s.msg = Message{AuthUser: s.msg.AuthUser} }
func (s *session) Logout() error { return nil }

// Server is a running go-smtp server.
type Server struct {
	Addr    netip.AddrPort
	Log     *CommandLog
	Backend *Backend
	SMTP    *smtp.Server
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.Backend.mu.Lock()
	defer s.Backend.mu.Unlock()
	return append([]Message(nil), s.Backend.messages...)
}

// Start runs a go-smtp server named mx.test.example on 127.0.0.1 (a random
// port) that knows the mailbox alice@test.example. cert nil means no
// STARTTLS; configure may change the server before it starts.
func Start(tb testing.TB, cert *tls.Certificate, configure func(*smtp.Server)) *Server {
	tb.Helper()
	return StartOn(tb, "127.0.0.1:0", cert, configure)
}

// StartOn is Start listening on addr.
func StartOn(tb testing.TB, addr string, cert *tls.Certificate, configure func(*smtp.Server)) *Server {
	tb.Helper()
	be := &Backend{Users: map[string]bool{"alice@test.example": true}}
	return serve(tb, addr, be, func(s *smtp.Server) {
		s.Domain = "mx.test.example"
		s.ReadTimeout = 5 * time.Second
		s.WriteTimeout = 5 * time.Second
		if cert != nil {
			s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		}
		if configure != nil {
			configure(s)
		}
	})
}

// StartSink runs a go-smtp server named smtptest.localhost on 127.0.0.1 (a
// random port) that accepts every recipient (a mail sink, or an open relay)
// and keeps messages up to 10 MiB. With tlsConfig it offers STARTTLS; with
// users (user name -> password) it offers AUTH PLAIN, over plain text too
// when there is no tlsConfig, and refuses MAIL before it.
func StartSink(tb testing.TB, tlsConfig *tls.Config, users map[string]string) *Server {
	tb.Helper()
	be := &Backend{CatchAll: true, Auth: users}
	return serve(tb, "127.0.0.1:0", be, func(s *smtp.Server) {
		s.Domain = "smtptest.localhost"
		s.TLSConfig = tlsConfig
		s.ReadTimeout = 10 * time.Second
		s.WriteTimeout = 10 * time.Second
		s.MaxMessageBytes = 10 << 20
		s.AllowInsecureAuth = tlsConfig == nil
	})
}

// serve starts a go-smtp server for be on addr, logging its commands, after
// configure has set it up; it is closed when the test ends.
func serve(tb testing.TB, addr string, be *Backend, configure func(*smtp.Server)) *Server {
	tb.Helper()
	s := smtp.NewServer(be)
	s.ErrorLog = log.New(io.Discard, "", 0)
	lg := &CommandLog{}
	s.Debug = lg
	configure(s)
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
	Addr  netip.AddrPort
	Log   *CommandLog
	close func()
}

// Close stops the listener, closes open connections and waits for every
// handler to return (tests counting goroutines call it before counting).
// It also runs at the end of the test; calling it twice is harmless.
func (s *Scripted) Close() { s.close() }

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
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				_ = c.Close()
				return
			}
			conns = append(conns, c)
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				handle(c, bufio.NewReader(c), lg)
			}()
		}
	}()
	// At the end of the test, connections still open are closed, so that a
	// handler blocked on a client that went away ends at once.
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			_ = l.Close()
			mu.Lock()
			closed = true
			for _, c := range conns {
				_ = c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	tb.Cleanup(closeAll)
	return &Scripted{Addr: l.Addr().(*net.TCPAddr).AddrPort(), Log: lg, close: closeAll}
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

// drip sends msg one byte a second, over and over, until the client goes
// away or the connection is closed. It waits by reading (and discarding)
// what the client sends, so a closed connection ends it at once rather
// than after the current second.
func drip(c net.Conn, r *bufio.Reader, msg string) {
	for i := 0; ; i++ {
		if _, err := io.WriteString(c, msg[i%len(msg):i%len(msg)+1]); err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			_, err := r.ReadByte()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // a second has passed: the next byte
			}
			if err != nil {
				return // closed, by the client or by Close
			}
		}
	}
}

// Hostile is a misbehaving SMTP server for robustness tests: Handle plays
// it in StartScripted. Every handler ends when the client goes away.
type Hostile struct {
	Name   string
	Handle func(c net.Conn, r *bufio.Reader, lg *CommandLog)
}

// EndlessLineBytes is how much the endless-line server sends at most.
const EndlessLineBytes = 16 << 20

// HostileServers are the servers every SMTP probe must survive with a
// clear error, in bounded time and memory, without sending DATA:
//   - never-greets: accepts TCP, says nothing, reads what comes
//   - endless-line: a greeting line of 16 MiB without CRLF
//   - tarpit: a greeting dripped one byte a second
//   - tarpit-after-greeting: greets, then drips the EHLO reply
//   - endless-multiline: greets, then answers EHLO with "250-" forever
//   - close-mid-reply: greets, then closes in the middle of the EHLO reply
//   - bogus-code: greets with code 999
//   - garbage: greets, then answers EHLO with binary garbage
func HostileServers() []Hostile {
	greetThen := func(after func(c net.Conn, r *bufio.Reader, lg *CommandLog)) func(c net.Conn, r *bufio.Reader, lg *CommandLog) {
		return func(c net.Conn, r *bufio.Reader, lg *CommandLog) {
			if _, err := io.WriteString(c, "220 hostile.test ESMTP\r\n"); err != nil {
				return
			}
			if ReadCommand(r, lg) == "" {
				return
			}
			after(c, r, lg)
		}
	}
	drain := func(r *bufio.Reader, lg *CommandLog) {
		for ReadCommand(r, lg) != "" {
		}
	}
	return []Hostile{
		{"never-greets", func(_ net.Conn, r *bufio.Reader, lg *CommandLog) { drain(r, lg) }},
		{"endless-line", func(c net.Conn, _ *bufio.Reader, _ *CommandLog) {
			chunk := []byte("220 " + strings.Repeat("A", 64<<10-4))
			for sent := 0; sent < EndlessLineBytes; sent += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					return
				}
				chunk[0], chunk[1], chunk[2], chunk[3] = 'A', 'A', 'A', 'A'
			}
		}},
		{"tarpit", func(c net.Conn, r *bufio.Reader, _ *CommandLog) {
			drip(c, r, "220 tarpit.test ESMTP slowly, very slowly\r\n")
		}},
		{"tarpit-after-greeting", greetThen(func(c net.Conn, r *bufio.Reader, _ *CommandLog) {
			drip(c, r, "250-hostile.test\r\n250 SIZE\r\n")
		})},
		{"endless-multiline", greetThen(func(c net.Conn, _ *bufio.Reader, _ *CommandLog) {
			line := []byte("250-PIPELINING and more\r\n")
			for {
				if _, err := c.Write(line); err != nil {
					return
				}
			}
		})},
		{"close-mid-reply", greetThen(func(c net.Conn, _ *bufio.Reader, _ *CommandLog) {
			_, _ = io.WriteString(c, "250-hostile.test\r\n250-SIZE 1000\r\n250-STAR")
		})},
		{"bogus-code", func(c net.Conn, r *bufio.Reader, lg *CommandLog) {
			if _, err := io.WriteString(c, "999 hostile.test what is this\r\n"); err == nil {
				drain(r, lg)
			}
		}},
		{"garbage", greetThen(func(c net.Conn, r *bufio.Reader, lg *CommandLog) {
			if _, err := io.WriteString(c, "\x00\xff\x1b[2Jgarbage 25O\r\nHTTP/1.1 400 Bad Request\r\n"); err == nil {
				drain(r, lg)
			}
		})},
	}
}
