// Package smtptest is an in-process SMTP server on 127.0.0.1 for tests: it
// records every command it is given (so a test can prove that a probe never
// sent DATA) and every message it receives, and supports STARTTLS and
// AUTH PLAIN.
package smtptest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one received message.
type Message struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool   // the session was encrypted when MAIL was given
	AuthUser string // the authenticated user, if any
}

// Server is a running test server.
type Server struct {
	Addr string // host:port

	mu       sync.Mutex
	messages []Message
	commands []string

	// Users maps user names to passwords for AUTH PLAIN (nil: no AUTH).
	Users map[string]string
	srv   *smtp.Server
}

// Start runs a server; with tlsConfig it offers STARTTLS.
func Start(tb testing.TB, tlsConfig *tls.Config, users map[string]string) *Server {
	tb.Helper()
	s := &Server{Users: users}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "smtptest.localhost"
	srv.TLSConfig = tlsConfig
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.AllowInsecureAuth = tlsConfig == nil
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = l.Addr().String()
	s.srv = srv
	go srv.Serve(l) //nolint:errcheck // ends on Close
	tb.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns what was received.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Commands returns the session commands seen, in order ("MAIL", "RCPT",
// "DATA", "RSET", "AUTH").
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *Server) record(cmd string) {
	s.mu.Lock()
	s.commands = append(s.commands, cmd)
	s.mu.Unlock()
}

type session struct {
	s    *Server
	conn *smtp.Conn
	msg  Message
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	ss.s.record("AUTH")
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if p, ok := ss.s.Users[user]; !ok || p != pass {
			return errors.New("bad credentials")
		}
		ss.msg.AuthUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.record("MAIL")
	if ss.s.Users != nil && ss.msg.AuthUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.msg.From = from
	_, ss.msg.TLS = ss.conn.TLSConnectionState()
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.record("RCPT")
	ss.msg.To = append(ss.msg.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	ss.s.record("DATA")
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.msg.Data = b
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, ss.msg)
	ss.s.mu.Unlock()
	ss.msg = Message{AuthUser: ss.msg.AuthUser}
	return nil
}

func (ss *session) Reset() {
	ss.s.record("RSET")
	ss.msg = Message{AuthUser: ss.msg.AuthUser}
}

func (ss *session) Logout() error { return nil }
