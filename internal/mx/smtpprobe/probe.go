// Package smtpprobe talks to one SMTP server the way a sending MTA starts a
// delivery, and stops before any message is sent: it reads the greeting
// (multi-line too), says EHLO (falling back to HELO), lists the extensions,
// negotiates STARTTLS and records the TLS version, cipher and certificate
// chain, optionally tries MAIL FROM / RCPT TO, and then leaves politely
// with RSET and QUIT. It never sends DATA (or BDAT): no command that could
// deliver a message exists in this package.
//
// Why not github.com/emersion/go-smtp's client (which the tests use as the
// server): its Client discards the greeting text, exposes extensions only
// by name lookup, bounds line length but not the size of a multi-line
// reply, and has Data/SendMail. A probe must report the banner verbatim,
// survive hostile servers with bounded memory and time, and be unable to
// send a message by construction, so the dialogue here is written on
// bufio with explicit limits (see reply.go).
package smtpprobe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
	"github.com/deliverdoctor/deliverdoctor/internal/ctxconn"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// DefaultPort is the SMTP relay port (RFC 5321 4.5.4.2 / IANA "smtp").
const DefaultPort = 25

// DefaultTimeout bounds each step (connect, each reply, the TLS handshake).
// RFC 5321 4.5.3.2 allows servers minutes; a diagnostic tool waits less.
const DefaultTimeout = 10 * time.Second

// Options tune a probe. The zero value is ready to use.
type Options struct {
	// Timeout bounds each step; 0 means DefaultTimeout.
	Timeout time.Duration
	// HELO is the name sent with EHLO/HELO. Empty: this machine's host
	// name if it is fully qualified, else the address literal of the local
	// end of the connection, as RFC 5321 4.1.4 asks of clients without a
	// name.
	HELO string
	// Roots verify the server's certificate chain; nil means the system
	// roots. Tests pass their own CA.
	Roots *x509.CertPool
	// Now is the time certificates are judged at; nil means time.Now.
	Now func() time.Time
	// NoTLS skips STARTTLS even when it is offered.
	NoTLS bool
	// Recipients, when set, are tried with RCPT TO in one transaction
	// after MAIL FROM:<MailFrom> (MailFrom "" is the null reverse-path
	// "<>", RFC 5321 4.5.5). The transaction is then reset; no DATA.
	Recipients []string
	MailFrom   string
	// Dial replaces the network dialer (tests).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// FailureKind says why a probe ended before its last step.
type FailureKind string

// Failure kinds.
const (
	FailConnect  FailureKind = "connect"  // TCP connection refused or unreachable
	FailTimeout  FailureKind = "timeout"  // a step took longer than Options.Timeout
	FailGreeting FailureKind = "greeting" // the server's greeting was not 220
	FailHello    FailureKind = "hello"    // both EHLO and HELO were refused
	FailProtocol FailureKind = "protocol" // the server broke the reply syntax or a size limit
	FailTLS      FailureKind = "tls"      // the TLS handshake after STARTTLS failed
	FailCanceled FailureKind = "canceled" // the caller's context ended
	FailNetwork  FailureKind = "network"  // the connection broke (reset, closed early)
)

// Step is one exchange of the dialogue, for the transcript.
type Step struct {
	Name       string `json:"name"`              // connect, greeting, ehlo, helo, starttls, tls, ehlo-tls, mail, rcpt, rset, quit
	Command    string `json:"command,omitempty"` // the command line sent (sanitized)
	Reply      *Reply `json:"reply,omitempty"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// String is the step as one transcript line for people and for findings'
// evidence: "name: > command < reply (error)", each part only when present.
func (s Step) String() string {
	line := s.Name + ":"
	if s.Command != "" {
		line += " > " + s.Command
	}
	if s.Reply != nil {
		line += " < " + s.Reply.String()
	}
	if s.Error != "" {
		line += " (" + s.Error + ")"
	}
	return line
}

// RcptResult is the server's answer to one RCPT TO.
type RcptResult struct {
	Address  string `json:"address"`
	Reply    *Reply `json:"reply,omitempty"`
	Accepted bool   `json:"accepted"`
	// Error is set when the recipient could not be tried (the MAIL FROM
	// was refused, the server lacks SMTPUTF8 for a UTF-8 address, ...).
	Error string `json:"error,omitempty"`
}

// Result is what one probe saw. Everything read from the server is
// sanitized.
type Result struct {
	Host      string     `json:"host"` // the name the server is known by (MX name), for SNI and the certificate check
	Addr      netip.Addr `json:"addr"`
	Port      int        `json:"port"`
	Connected bool       `json:"connected"`
	// Greeting is the server's opening reply (the banner).
	Greeting *Reply `json:"greeting,omitempty"`
	// EHLO is the reply to the first EHLO (or HELO when HELOFallback).
	EHLO         *Reply `json:"ehlo,omitempty"`
	HELOFallback bool   `json:"helo_fallback,omitempty"`
	HELOName     string `json:"helo_name,omitempty"` // the name this probe announced
	// Extensions are the EHLO keywords with parameters, as last advertised
	// (after STARTTLS when TLS was negotiated), e.g. "SIZE 52428800".
	Extensions []string `json:"extensions"`
	// StartTLSOffered is whether the plaintext EHLO listed STARTTLS.
	StartTLSOffered bool `json:"starttls_offered"`
	// StartTLSReply is the reply to STARTTLS (220 to go ahead).
	StartTLSReply *Reply   `json:"starttls_reply,omitempty"`
	TLS           *TLSInfo `json:"tls,omitempty"`
	// TLSError says why STARTTLS did not give a TLS session (refused
	// command, handshake failure, response injection).
	TLSError   string       `json:"tls_error,omitempty"`
	MailReply  *Reply       `json:"mail_reply,omitempty"`
	Recipients []RcptResult `json:"recipients,omitempty"`
	Steps      []Step       `json:"steps"`
	// Failure and Error say why the probe stopped early ("" when it got
	// to QUIT).
	Failure    FailureKind `json:"failure,omitempty"`
	Error      string      `json:"error,omitempty"`
	DurationMS int64       `json:"duration_ms"`

	// PeerCertificates is the chain the server presented after STARTTLS,
	// leaf first (for DANE TLSA matching and further checks).
	PeerCertificates []*x509.Certificate `json:"-"`
	// ConnectionState is the negotiated TLS state, nil without TLS.
	ConnectionState *tls.ConnectionState `json:"-"`
	// Err is the error that ended the probe early, nil otherwise.
	Err error `json:"-"`
}

// Extension reports whether the server advertised keyword (case-
// insensitive) and with which parameters.
func (r *Result) Extension(keyword string) (params string, ok bool) {
	for _, e := range r.Extensions {
		k, p, _ := strings.Cut(e, " ")
		if strings.EqualFold(k, keyword) {
			return p, true
		}
	}
	return "", false
}

// Reached reports whether the server greeted and accepted EHLO or HELO:
// it is a working SMTP server from where the probe ran.
func (r *Result) Reached() bool {
	return r.Connected && r.Greeting != nil && r.Greeting.Code == 220 && r.EHLO != nil && r.EHLO.Positive()
}

// allowed are the only commands this package can send. DATA, BDAT, AUTH,
// VRFY and anything else that could deliver or leak are absent on purpose.
var allowed = map[string]bool{"EHLO": true, "HELO": true, "STARTTLS": true, "MAIL": true, "RCPT": true, "RSET": true, "QUIT": true, "NOOP": true}

// session is one connection's state.
type session struct {
	res     *Result
	opts    Options
	timeout time.Duration
	ctx     context.Context
	conn    net.Conn
	br      *bufio.Reader
	read    int64
}

// Probe connects to addr:port (port 0 means 25) and runs the dialogue.
// host is the server's name (the MX target) used for SNI and the
// certificate name check; it may be empty when only an address is known.
// Probe never returns nil; failures are in Result.Failure/Err.
func Probe(ctx context.Context, host string, addr netip.Addr, port int, opts Options) *Result {
	start := time.Now()
	if port <= 0 {
		port = DefaultPort
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	res := &Result{Host: host, Addr: addr.Unmap(), Port: port, Extensions: []string{}, Steps: []Step{}}
	s := &session{res: res, opts: opts, timeout: opts.Timeout, ctx: ctx}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	if err := validArg(opts.HELO); err != nil {
		s.fail(FailProtocol, fmt.Errorf("HELO name: %w", err))
		return res
	}
	for _, a := range append([]string{opts.MailFrom}, opts.Recipients...) {
		if err := validArg(a); err != nil {
			s.fail(FailProtocol, fmt.Errorf("address %q: %w", sanitize.Line(a), err))
			return res
		}
	}
	if !s.connect() {
		return res
	}
	defer s.conn.Close()
	// Cancellation expires every deadline for good, also those the next
	// step sets after it (a plain AfterFunc would lose that race).
	wc, stop := ctxconn.Watch(ctx, s.conn)
	defer stop()
	s.conn = wc
	s.dialogue()
	return res
}

func (s *session) dialogue() {
	res := s.res
	// RFC 5321 3.1 and 4.3.2: the greeting is 220, or 554 (no service);
	// 421 means the service is not available now.
	g, err := s.readStep("greeting", "")
	if err != nil {
		return
	}
	res.Greeting = g
	if g.Code != 220 {
		s.fail(FailGreeting, fmt.Errorf("the server greeted with %s instead of 220", g))
		if g.Code != 421 { // 421 closes the connection itself
			s.quit()
		}
		return
	}
	if !s.hello("ehlo") {
		return
	}
	res.StartTLSOffered = hasKeyword(res.Extensions, "STARTTLS")
	if res.StartTLSOffered && !s.opts.NoTLS {
		if !s.startTLS() {
			return
		}
	}
	if len(s.opts.Recipients) > 0 {
		s.transaction()
	}
	if _, err := s.cmdStep("rset", "RSET", ""); err != nil {
		return
	}
	s.quit()
}

// hello sends EHLO and falls back to HELO when EHLO is refused with a
// permanent reply (RFC 5321 4.1.4, 3.2: old servers answer 500/502).
func (s *session) hello(step string) bool {
	res := s.res
	name := s.heloName()
	res.HELOName = name
	rep, err := s.cmdStep(step, "EHLO", name)
	if err != nil {
		return false
	}
	if rep.Positive() {
		if step == "ehlo" {
			res.EHLO = rep
		}
		res.Extensions = extensions(rep)
		return true
	}
	if step != "ehlo" || !rep.Permanent() {
		s.fail(FailHello, fmt.Errorf("EHLO refused: %s", rep))
		if step == "ehlo" {
			res.EHLO = rep
		}
		if rep.Code != 421 {
			s.quit()
		}
		return false
	}
	hrep, err := s.cmdStep("helo", "HELO", name)
	if err != nil {
		return false
	}
	res.EHLO = hrep
	res.HELOFallback = true
	res.Extensions = []string{}
	if !hrep.Positive() {
		s.fail(FailHello, fmt.Errorf("EHLO and HELO refused: %s", hrep))
		if hrep.Code != 421 {
			s.quit()
		}
		return false
	}
	return true
}

// startTLS runs RFC 3207. It returns false when the session cannot go on.
func (s *session) startTLS() bool {
	res := s.res
	rep, err := s.cmdStep("starttls", "STARTTLS", "")
	if err != nil {
		return false
	}
	res.StartTLSReply = rep
	if rep.Code != 220 {
		// RFC 3207 4: 454 TLS not available; the session goes on in
		// plaintext.
		res.TLSError = "STARTTLS refused: " + rep.String()
		return true
	}
	// Anything already buffered after the 220 came in plaintext but would
	// be read as if it came over TLS: a response injection (the client
	// side of CVE-2011-0411). Refuse to continue.
	if n := s.br.Buffered(); n > 0 {
		res.TLSError = fmt.Sprintf("the server sent %d bytes after its 220 reply to STARTTLS (response injection)", n)
		s.fail(FailProtocol, errors.New(res.TLSError))
		return false
	}
	now := time.Now
	if s.opts.Now != nil {
		now = s.opts.Now
	}
	cfg := &tls.Config{
		// Verification is done below, after the handshake, so that an
		// untrusted or expired certificate is reported rather than
		// ending the probe: opportunistic SMTP TLS (RFC 7435) accepts it.
		InsecureSkipVerify: true, //nolint:gosec // verified explicitly in analyzeTLS
		MinVersion:         tls.VersionTLS10,
	}
	if _, err := netip.ParseAddr(res.Host); err != nil && res.Host != "" {
		cfg.ServerName = res.Host
	}
	tc := tls.Client(s.conn, cfg)
	begin := time.Now()
	hctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	_ = s.conn.SetDeadline(time.Now().Add(s.timeout))
	err = tc.HandshakeContext(hctx)
	cancel()
	step := Step{Name: "tls", DurationMS: time.Since(begin).Milliseconds()}
	if err != nil {
		step.Error = sanitize.Line(err.Error())
		res.Steps = append(res.Steps, step)
		res.TLSError = "TLS handshake failed: " + sanitize.Line(err.Error())
		s.fail(s.kind(err, FailTLS), fmt.Errorf("TLS handshake: %w", err))
		return false
	}
	res.Steps = append(res.Steps, step)
	cs := tc.ConnectionState()
	res.ConnectionState = &cs
	res.PeerCertificates = cs.PeerCertificates
	res.TLS = analyzeTLS(cs, res.Host, s.opts.Roots, now())
	s.conn = tc
	s.br = bufio.NewReaderSize(countingReader{r: tc, n: &s.read, limit: MaxSessionBytes}, MaxLineLength)
	// RFC 3207 4.2: forget what was learnt before TLS and say EHLO again.
	return s.hello("ehlo-tls")
}

// transaction tries MAIL FROM and each RCPT TO (RFC 5321 3.3); the caller
// resets it.
func (s *session) transaction() {
	res := s.res
	utf8 := !ascii.Only(s.opts.MailFrom)
	for _, r := range s.opts.Recipients {
		utf8 = utf8 || !ascii.Only(r)
	}
	param := ""
	if utf8 {
		// RFC 6531 3.4: a UTF-8 address needs the server's SMTPUTF8
		// extension and the SMTPUTF8 parameter on MAIL.
		if !hasKeyword(res.Extensions, "SMTPUTF8") {
			for _, r := range s.opts.Recipients {
				res.Recipients = append(res.Recipients, RcptResult{Address: r,
					Error: "the server does not offer SMTPUTF8 (RFC 6531): it cannot accept a UTF-8 address"})
			}
			return
		}
		param = " SMTPUTF8"
	}
	rep, err := s.cmdStep("mail", "MAIL", "FROM:<"+s.opts.MailFrom+">"+param)
	if err != nil {
		return
	}
	res.MailReply = rep
	if !rep.Positive() {
		for _, r := range s.opts.Recipients {
			res.Recipients = append(res.Recipients, RcptResult{Address: r, Error: "MAIL FROM refused: " + rep.String()})
		}
		return
	}
	for _, r := range s.opts.Recipients {
		rep, err := s.cmdStep("rcpt", "RCPT", "TO:<"+r+">")
		if err != nil {
			res.Recipients = append(res.Recipients, RcptResult{Address: r, Error: sanitize.Line(err.Error())})
			return
		}
		res.Recipients = append(res.Recipients, RcptResult{Address: r, Reply: rep, Accepted: rep.Positive()})
	}
}

func (s *session) quit() {
	// RFC 5321 4.1.1.10: QUIT, then wait for 221. Failures here change
	// nothing about the findings.
	saved, savedErr, savedMsg := s.res.Failure, s.res.Err, s.res.Error
	_, _ = s.cmdStep("quit", "QUIT", "")
	s.res.Failure, s.res.Err, s.res.Error = saved, savedErr, savedMsg
}

func (s *session) connect() bool {
	begin := time.Now()
	dctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	dial := s.opts.Dial
	if dial == nil {
		d := &net.Dialer{}
		dial = d.DialContext
	}
	target := netip.AddrPortFrom(s.res.Addr, uint16(s.res.Port)).String()
	conn, err := dial(dctx, "tcp", target)
	step := Step{Name: "connect", Command: target, DurationMS: time.Since(begin).Milliseconds()}
	if err != nil {
		step.Error = sanitize.Line(err.Error())
		s.res.Steps = append(s.res.Steps, step)
		s.fail(s.kind(err, FailConnect), fmt.Errorf("connect to %s: %w", target, err))
		return false
	}
	s.res.Steps = append(s.res.Steps, step)
	s.res.Connected = true
	s.conn = conn
	s.br = bufio.NewReaderSize(countingReader{r: conn, n: &s.read, limit: MaxSessionBytes}, MaxLineLength)
	return true
}

// cmdStep sends one command (verb must be in allowed) and reads its reply.
func (s *session) cmdStep(name, verb, arg string) (*Reply, error) {
	line := verb
	if arg != "" {
		line += " " + arg
	}
	if !allowed[verb] {
		err := fmt.Errorf("smtpprobe: refusing to send %s", verb)
		s.fail(FailProtocol, err)
		return nil, err
	}
	if err := validArg(arg); err != nil {
		s.fail(FailProtocol, err)
		return nil, err
	}
	// RFC 5321 4.5.3.1.4: a command line is at most 512 octets.
	if len(line)+2 > 512 {
		err := fmt.Errorf("command longer than 512 octets")
		s.fail(FailProtocol, err)
		return nil, err
	}
	begin := time.Now()
	_ = s.conn.SetDeadline(s.deadline())
	if _, err := io.WriteString(s.conn, line+"\r\n"); err != nil {
		s.res.Steps = append(s.res.Steps, Step{Name: name, Command: sanitize.Line(line), Error: sanitize.Line(err.Error()),
			DurationMS: time.Since(begin).Milliseconds()})
		s.fail(s.kind(err, FailNetwork), fmt.Errorf("sending %s: %w", verb, err))
		return nil, err
	}
	return s.finishStep(name, sanitize.Line(line), begin)
}

func (s *session) readStep(name, cmd string) (*Reply, error) {
	_ = s.conn.SetDeadline(s.deadline())
	return s.finishStep(name, cmd, time.Now())
}

func (s *session) finishStep(name, cmd string, begin time.Time) (*Reply, error) {
	rep, err := readReply(s.br)
	step := Step{Name: name, Command: cmd, DurationMS: time.Since(begin).Milliseconds()}
	if err != nil {
		if rep != nil && rep.Code != 0 {
			step.Reply = rep
		}
		step.Error = sanitize.Line(err.Error())
		s.res.Steps = append(s.res.Steps, step)
		what := "reading the reply to " + strings.ToUpper(name)
		if cmd == "" {
			what = "reading the " + name
		}
		s.fail(s.kind(err, FailNetwork), fmt.Errorf("%s: %w", what, err))
		return nil, err
	}
	step.Reply = rep
	s.res.Steps = append(s.res.Steps, step)
	return rep, nil
}

// deadline is now+timeout, or the context's deadline when sooner.
func (s *session) deadline() time.Time {
	d := time.Now().Add(s.timeout)
	if cd, ok := s.ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// kind classifies err: protocol violations, timeouts, cancellation.
func (s *session) kind(err error, def FailureKind) FailureKind {
	var ne net.Error
	switch {
	case errors.Is(err, ErrLineTooLong), errors.Is(err, ErrReplyTooLong), errors.Is(err, ErrTooMuchData), errors.Is(err, ErrMalformed):
		return FailProtocol
	case s.ctx.Err() != nil:
		if errors.Is(s.ctx.Err(), context.DeadlineExceeded) {
			return FailTimeout
		}
		return FailCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return FailTimeout
	case errors.Is(err, io.EOF) && def == FailNetwork:
		return FailNetwork
	}
	return def
}

func (s *session) fail(kind FailureKind, err error) {
	if s.res.Failure != "" {
		return // keep the first cause
	}
	s.res.Failure = kind
	s.res.Err = err
	msg := err.Error()
	if kind == FailTimeout {
		msg += fmt.Sprintf(" (no answer within %s)", s.timeout)
	}
	s.res.Error = sanitize.Line(msg)
}

func (s *session) heloName() string {
	if s.opts.HELO != "" {
		return s.opts.HELO
	}
	return DefaultHELO(s.conn.LocalAddr())
}

// DefaultHELO is the name a probe announces when Options.HELO is empty:
// the host name when it is fully qualified, else the address literal of
// local (RFC 5321 4.1.4, 4.1.3).
func DefaultHELO(local net.Addr) string {
	if h, err := os.Hostname(); err == nil && strings.Contains(strings.Trim(h, "."), ".") && validArg(h) == nil && ascii.Only(h) && !strings.ContainsAny(h, " []") {
		return strings.TrimSuffix(h, ".")
	}
	if ta, ok := local.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			ip = ip.Unmap()
			if ip.Is6() {
				return "[IPv6:" + ip.String() + "]"
			}
			return "[" + ip.String() + "]"
		}
	}
	return "[127.0.0.1]"
}

// extensions returns the EHLO keyword lines (all but the first line, which
// is the server's name and greeting, RFC 5321 4.1.1.1).
func extensions(rep *Reply) []string {
	out := []string{}
	for i, l := range rep.Lines {
		if i == 0 {
			continue
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func hasKeyword(exts []string, kw string) bool {
	for _, e := range exts {
		k, _, _ := strings.Cut(e, " ")
		if strings.EqualFold(k, kw) {
			return true
		}
	}
	return false
}

// validArg refuses anything that could end a command line early and start
// another (CR, LF, NUL): addresses and names come from users and DNS.
func validArg(s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return errors.New("contains CR, LF or NUL")
	}
	return nil
}
