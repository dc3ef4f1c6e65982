package receive

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// Server defaults.
const (
	DefaultMaxMessageBytes = 30 << 20
	DefaultMaxRecipients   = 100
	DefaultMaxConns        = 20
	DefaultReadTimeout     = 60 * time.Second
	DefaultSessionTimeout  = 10 * time.Minute
	DefaultEvalTimeout     = 30 * time.Second
)

// ServerOptions configure a Server. Zero values take the defaults.
type ServerOptions struct {
	// Hostname is the name in the greeting and the certificate.
	Hostname string
	// TLSConfig offers STARTTLS; nil makes a self-signed certificate for
	// Hostname. NoTLS turns STARTTLS off.
	TLSConfig *tls.Config
	NoTLS     bool
	// MaxMessageBytes: larger messages get 552 5.3.4.
	MaxMessageBytes int64
	// MaxHeaderBytes: a larger header section gets 552 5.3.4.
	MaxHeaderBytes int
	// MaxRecipients: more RCPTs get 452 4.5.3.
	MaxRecipients int
	// MaxConns bounds concurrent sessions; more get 421 4.7.0.
	MaxConns int
	// ReadTimeout bounds each read from the client (a silent client);
	// SessionTimeout the whole session (a client dripping bytes).
	ReadTimeout    time.Duration
	SessionTimeout time.Duration
	// EvalTimeout bounds the evaluation of one message.
	EvalTimeout time.Duration
	// Mimic answers DATA as this provider (gmail, yahoo, microsoft)
	// would: its reject reply when its verdict is reject. "" accepts all.
	Mimic string
	// ClientIP, when valid, is used instead of the peer's address (to
	// judge mail relayed through a local MTA as if sent from there).
	ClientIP string
	// Resolver answers every DNS question. NewResolver, when set, is
	// called for each message instead, so a long-running server does not
	// keep answers (a fixed SPF record shows on the next message).
	Resolver    dnsx.Resolver
	NewResolver func() (dnsx.Resolver, error)
	// Eval tunes the evaluation.
	Eval Options
	// OnReport gets every report with the message, one at a time.
	OnReport func(rep *Report, msg []byte)
	// Logf logs what happens to sessions (limits, errors); nil: nothing.
	Logf func(format string, args ...any)
}

// Server is an SMTP receiver that judges every message and never relays.
type Server struct {
	o      ServerOptions
	srv    *smtp.Server
	ln     net.Listener
	sem    chan struct{}
	report sync.Mutex
	seq    atomic.Int64
}

// NewServer checks the options and prepares a server.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = MaxHeaderBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = DefaultMaxRecipients
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.EvalTimeout <= 0 {
		o.EvalTimeout = DefaultEvalTimeout
	}
	if o.Resolver == nil && o.NewResolver == nil {
		return nil, errors.New("receive: no resolver")
	}
	if o.Mimic != "" && !validProvider(o.Mimic) {
		return nil, fmt.Errorf("--mimic %q: want one of %s", o.Mimic, strings.Join(Providers(), ", "))
	}
	if o.ClientIP != "" {
		if _, err := netip.ParseAddr(o.ClientIP); err != nil {
			return nil, fmt.Errorf("--client-ip %q is not an IP address", o.ClientIP)
		}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.TLSConfig == nil && !o.NoTLS {
		cert, err := SelfSigned(o.Hostname)
		if err != nil {
			return nil, err
		}
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10}
	}
	s := &Server{o: o, sem: make(chan struct{}, o.MaxConns)}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = o.Hostname
	srv.MaxMessageBytes = o.MaxMessageBytes
	srv.MaxLineLength = 4000 // RFC 5321 4.5.3.1.6 asks for 1000; be lenient, not unbounded
	srv.ReadTimeout = o.ReadTimeout
	srv.WriteTimeout = o.ReadTimeout
	if !o.NoTLS {
		srv.TLSConfig = o.TLSConfig
	}
	srv.ErrorLog = logAdapter{o.Logf}
	s.srv = srv
	return s, nil
}

func validProvider(p string) bool {
	for _, x := range Providers() {
		if x == p {
			return true
		}
	}
	return false
}

type logAdapter struct{ f func(string, ...any) }

func (l logAdapter) Printf(format string, v ...any) { l.f(format, v...) }
func (l logAdapter) Println(v ...any)               { l.f("%s", strings.TrimSpace(fmt.Sprintln(v...))) }

// Serve accepts sessions on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.ln = ln
	err := s.srv.Serve(&limitListener{Listener: ln, s: s})
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Close stops accepting and ends every session.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops accepting and waits for open sessions to end (the
// client's QUIT) until ctx is done, then closes them.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}

// limitListener refuses sessions beyond MaxConns with 421 (RFC 5321
// 3.8), instead of queueing them.
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.s.sem <- struct{}{}:
			return &releaseConn{Conn: c, release: func() { <-l.s.sem }}, nil
		default:
			l.s.o.Logf("%s: refused: %d sessions already open (limit)", c.RemoteAddr(), l.s.o.MaxConns)
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, "421 4.7.0 "+l.s.o.Hostname+" Too many connections, try again later\r\n")
			_ = c.Close()
		}
	}
}

type releaseConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *releaseConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	peer := c.Conn().RemoteAddr().String()
	sess := &session{s: s, c: c, peer: peer}
	// The whole session has one deadline: a client that drips a byte at
	// a time stays under ReadTimeout but not under this.
	sess.timer = time.AfterFunc(s.o.SessionTimeout, func() {
		s.o.Logf("%s: session time limit (%s) reached; closing", peer, s.o.SessionTimeout)
		_ = c.Conn().Close()
	})
	if st, ok := c.TLSConnectionState(); ok {
		s.o.Logf("%s: STARTTLS done: %s %s", peer, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	} else {
		s.o.Logf("%s: connected", peer)
	}
	return sess, nil
}

type session struct {
	s        *Server
	c        *smtp.Conn
	peer     string
	timer    *time.Timer
	from     string
	hasFrom  bool
	rcpts    []string
	overRcpt int
}

func (ss *session) Reset() {
	if ss.overRcpt > 0 {
		ss.s.o.Logf("%s: refused %d recipients over the limit of %d", ss.peer, ss.overRcpt, ss.s.o.MaxRecipients)
	}
	ss.from, ss.hasFrom, ss.rcpts, ss.overRcpt = "", false, nil, 0
}

func (ss *session) Logout() error {
	ss.timer.Stop()
	ss.Reset()
	ss.s.o.Logf("%s: session ended", ss.peer)
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.Reset()
	ss.from, ss.hasFrom = from, true
	return nil
}

// Rcpt accepts any recipient: nothing is ever delivered or relayed.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if len(ss.rcpts) >= ss.s.o.MaxRecipients {
		if ss.overRcpt == 0 {
			ss.s.o.Logf("%s: recipient limit (%d) reached", ss.peer, ss.s.o.MaxRecipients)
		}
		ss.overRcpt++
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: fmt.Sprintf("Too many recipients (limit %d)", ss.s.o.MaxRecipients)}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	o := ss.s.o
	msg, err := io.ReadAll(io.LimitReader(r, o.MaxMessageBytes+1))
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			o.Logf("%s: message over the size limit (%d bytes); refused with 552 5.3.4", ss.peer, o.MaxMessageBytes)
			return smtp.ErrDataTooLarge
		}
		o.Logf("%s: DATA not completed: %v", ss.peer, err)
		return err
	}
	if int64(len(msg)) > o.MaxMessageBytes {
		return smtp.ErrDataTooLarge
	}
	if h := headerLen(msg); h > o.MaxHeaderBytes {
		o.Logf("%s: header section over %d bytes; refused with 552 5.3.4", ss.peer, o.MaxHeaderBytes)
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: fmt.Sprintf("Header section too large (limit %d bytes)", o.MaxHeaderBytes)}
	}
	env := ss.envelope()
	ctx, cancel := context.WithTimeout(context.Background(), o.EvalTimeout)
	defer cancel()
	res := o.Resolver
	if o.NewResolver != nil {
		r, err := o.NewResolver()
		if err != nil {
			o.Logf("%s: no resolver: %v", ss.peer, err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure: cannot judge the message now"}
		}
		res = r
	}
	rep := Evaluate(ctx, msg, env, res, o.Eval)
	rep.ID = fmt.Sprintf("%s-%d", env.Received.UTC().Format("20060102T150405Z"), ss.s.seq.Add(1))
	o.Logf("%s: message %s from <%s> (%d bytes): %s", ss.peer, rep.ID, sanitize.Line(ss.from), len(msg), verdictLine(rep))
	if o.OnReport != nil {
		ss.s.report.Lock()
		o.OnReport(rep, msg)
		ss.s.report.Unlock()
	}
	if o.Mimic != "" {
		for _, v := range rep.Verdicts {
			if v.Provider == o.Mimic && v.Outcome == OutcomeReject {
				return smtpError(v)
			}
		}
	}
	return nil
}

func verdictLine(rep *Report) string {
	var parts []string
	for _, v := range rep.Verdicts {
		p := v.Provider + " " + v.Outcome
		if len(v.Codes) > 0 {
			p += " " + v.Codes[0]
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// smtpError turns a reject verdict into the reply go-smtp sends.
func smtpError(v Verdict) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: v.SMTPCode, EnhancedCode: smtp.NoEnhancedCode, Message: v.Reply}
	if e.Code < 400 || e.Code > 599 {
		e.Code = 550
	}
	rest := strings.TrimLeft(v.Reply[min(3, len(v.Reply)):], " -")
	if len(v.Codes) > 0 {
		if c, err := bounce.ParseCode(v.Codes[0]); err == nil {
			e.EnhancedCode = smtp.EnhancedCode{c.Class, c.Subject, c.Detail}
			rest = strings.TrimSpace(strings.TrimPrefix(rest, v.Codes[0]))
		}
	}
	e.Message = rest
	return e
}

func headerLen(msg []byte) int {
	for _, sep := range [][]byte{[]byte("\r\n\r\n"), []byte("\n\n")} {
		if i := bytes.Index(msg, sep); i >= 0 {
			return i
		}
	}
	return len(msg)
}

func (ss *session) envelope() Envelope {
	env := Envelope{HELO: ss.c.Hostname(), MailFrom: ss.from, RcptTo: append([]string{}, ss.rcpts...), Receiver: ss.s.o.Hostname, Received: time.Now().UTC()}
	if ap, err := netip.ParseAddrPort(ss.peer); err == nil {
		env.ClientIP = ap.Addr().Unmap().String()
	}
	if ip := ss.s.o.ClientIP; ip != "" {
		env.ConnectedIP, env.ClientIP = env.ClientIP, ip
	}
	if st, ok := ss.c.TLSConnectionState(); ok && st.HandshakeComplete {
		env.TLS = TLSInfo{Used: true, Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite), ServerName: st.ServerName}
	}
	return env
}

// SelfSigned makes a certificate for hostname valid for a year (ECDSA
// P-256): what --cert/--key replace.
func SelfSigned(hostname string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hostname, Organization: []string{"deliverdoctor receive (self-signed)"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip, err := netip.ParseAddr(hostname); err == nil {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{hostname}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
