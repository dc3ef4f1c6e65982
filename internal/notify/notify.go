// Package notify mails reports: a multipart/alternative message with a
// plain-text and an HTML part, sent over SMTP with STARTTLS by default.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"html/template"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

// TLS modes for the connection to the mail server.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS; refuse if not offered
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS: only for a local relay on loopback
)

// Config says how to send.
type Config struct {
	Server   string   // host:port of the submission server
	TLS      string   // starttls (default), tls or none
	User     string   // SMTP AUTH user; empty: no AUTH
	Password string   // from an environment variable or a file, never a flag
	From     string   // envelope and header sender
	To       []string // recipients
	Timeout  time.Duration
	RootCAs  *x509.CertPool // nil: system roots (tests set a test CA)
}

// Validate checks the configuration before any work is done.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Server); err != nil {
		return fmt.Errorf("--smtp-server %q: want HOST:PORT", c.Server)
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("--smtp-tls %q: want starttls, tls or none", c.TLS)
	}
	if len(c.To) == 0 {
		return errors.New("--mail-to: no recipients")
	}
	for _, a := range append([]string{c.From}, c.To...) {
		if _, err := mail.ParseAddress(a); err != nil {
			return fmt.Errorf("%q is not a mail address", a)
		}
	}
	if c.User != "" && c.Password == "" {
		return errors.New("--smtp-user given but no password: set DELIVERDOCTOR_SMTP_PASSWORD or --smtp-password-file")
	}
	if c.User != "" && c.TLS == TLSNone && !IsLoopback(c.Server) {
		return fmt.Errorf("--smtp-tls none with --smtp-user would send the password in clear to %s: use starttls or tls (none is only for a relay on a loopback address)", c.Server)
	}
	return nil
}

// Subject summarises reports (and changes, when given) in a mail subject.
func Subject(reports []*report.Report, changes []state.Change) string {
	d := NewDigest()
	for _, r := range reports {
		d.Add(r)
	}
	return d.Subject(changes)
}

// Subject summarises the digest (and changes, when given) in a mail subject.
func (d *Digest) Subject(changes []state.Change) string {
	if len(changes) > 0 {
		return "deliverdoctor: " + sanitize.Line(state.Summary(changes))
	}
	if d.Total == 1 && len(d.first) == 1 {
		r := d.first[0]
		var fails, warns, errs int
		for _, f := range r.Findings {
			switch f.Severity {
			case findings.SeverityFail:
				fails++
			case findings.SeverityWarn:
				warns++
			case findings.SeverityError:
				errs++
			}
		}
		t := sanitize.Line(r.Target)
		switch {
		case fails > 0:
			return fmt.Sprintf("deliverdoctor: %s on %s", plural(fails, "failure"), t)
		case errs > 0:
			return fmt.Sprintf("deliverdoctor: %s could not be fully checked on %s", plural(errs, "check"), t)
		case warns > 0:
			return fmt.Sprintf("deliverdoctor: %s on %s", plural(warns, "warning"), t)
		default:
			return fmt.Sprintf("deliverdoctor: %s passes", t)
		}
	}
	if n := d.ByStatus[findings.StatusFail]; n > 0 {
		return fmt.Sprintf("deliverdoctor: %d of %d targets failing", n, d.Total)
	}
	return "deliverdoctor: " + d.Counts()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// maxChanges bounds the changes a mail lists one by one.
const maxChanges = 100

// Compose builds the message for reports; see ComposeDigest.
func Compose(cfg *Config, subject string, reports []*report.Report, changes []state.Change, now time.Time) ([]byte, error) {
	d := NewDigest()
	for _, r := range reports {
		d.Add(r)
	}
	return ComposeDigest(cfg, subject, d, changes, now)
}

// ComposeDigest builds the message: multipart/alternative with a text and
// an HTML digest (counts by status first, then the failing targets, the
// changes, and each distinct finding once with its targets), within the
// size budget; the full reports are attached (gzipped jsonl, the message
// then multipart/mixed) when they fit, else the mail says where they are.
func ComposeDigest(cfg *Config, subject string, d *Digest, changes []state.Change, now time.Time) ([]byte, error) {
	h, err := header(cfg, subject, now)
	if err != nil {
		return nil, err
	}
	shown := changes
	if len(shown) > maxChanges {
		shown = shown[:maxChanges]
	}
	var ctext, chtml bytes.Buffer
	if len(shown) > 0 {
		writeChangesText(&ctext, shown, len(changes)-len(shown))
		writeChangesHTML(&chtml, shown, len(changes)-len(shown))
	}
	// The full reports ride along only when the digest does not show them
	// all already.
	var attach []byte
	if !(len(d.first) == d.Total && d.Total <= fullReportsMax) {
		attach = d.attachment()
	}
	text := d.writeText(ctext.String(), attach != nil)
	html, err := d.writeHTML(template.HTML(chtml.String()), attach != nil) // chtml: html/template output
	if err != nil {
		return nil, err
	}
	return assemble(h, text, html, attach, "reports.jsonl.gz")
}

// header is a report mail's header: date, subject, from, to, a message ID
// and Auto-Submitted.
func header(cfg *Config, subject string, now time.Time) (mail.Header, error) {
	var h mail.Header
	h.SetDate(now)
	h.SetSubject(subject)
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return h, err
	}
	h.SetAddressList("From", []*mail.Address{from})
	var to []*mail.Address
	for _, a := range cfg.To {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return h, err
		}
		to = append(to, addr)
	}
	h.SetAddressList("To", to)
	if err := h.GenerateMessageIDWithHostname(domainOf(cfg.From)); err != nil {
		return h, err
	}
	h.Set("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies to reports
	return h, nil
}

// assemble writes the message: multipart/alternative of text and html, in
// a multipart/mixed with the gzipped attachment when there is one.
func assemble(h mail.Header, text, html, attach []byte, attachName string) ([]byte, error) {
	var buf bytes.Buffer
	var alt *mail.InlineWriter
	var mixed *mail.Writer
	var err error
	if attach == nil {
		if alt, err = mail.CreateInlineWriter(&buf, h); err != nil {
			return nil, err
		}
	} else {
		if mixed, err = mail.CreateWriter(&buf, h); err != nil {
			return nil, err
		}
		if alt, err = mixed.CreateInline(); err != nil {
			return nil, err
		}
	}
	for _, part := range []struct {
		ctype string
		body  []byte
	}{{"text/plain", text}, {"text/html", html}} {
		var ph mail.InlineHeader
		ph.SetContentType(part.ctype, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", "quoted-printable")
		w, err := alt.CreatePart(ph)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(part.body); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}
	if mixed != nil {
		var ah mail.AttachmentHeader
		ah.SetContentType("application/gzip", nil)
		ah.SetFilename(attachName)
		ah.Set("Content-Transfer-Encoding", "base64")
		w, err := mixed.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(attach); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if err := mixed.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.Trim(addr[i+1:], ">")
	}
	return "localhost"
}

// DefaultTimeout is the report mail's overall deadline.
const DefaultTimeout = 30 * time.Second

// Send delivers msg over SMTP within cfg.Timeout in all: connect, TLS,
// greeting, every command and the data. AUTH is sent only over TLS (or,
// with --smtp-tls none, to a loopback address) and only when the server
// offers it.
func Send(ctx context.Context, cfg *Config, msg []byte) error {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	host, _, _ := net.SplitHostPort(cfg.Server)
	tlsConfig := &tls.Config{ServerName: host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.Server)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.Server, err)
	}
	// go-smtp sets its own per-command deadlines (minutes long); the
	// wrapper holds every one of them to the overall deadline, and the
	// connection is closed when the context ends, whatever is blocking.
	var conn net.Conn = &deadlineConn{Conn: raw, limit: deadline}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	err = deliver(conn, cfg, tlsConfig, msg)
	if err != nil && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
		return fmt.Errorf("%s: no complete exchange within %v (--smtp-timeout): %w", cfg.Server, timeout, err)
	}
	return err
}

func deliver(conn net.Conn, cfg *Config, tlsConfig *tls.Config, msg []byte) error {
	var c *smtp.Client
	var err error
	switch cfg.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConfig)
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return fmt.Errorf("%s: TLS: %w", cfg.Server, err)
		}
		c = smtp.NewClient(tc)
	case "", TLSStartTLS:
		// STARTTLS is required in this mode: a server that does not offer it
		// gets no credentials and no report.
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			conn.Close()
			return fmt.Errorf("%s: STARTTLS: %w (use --smtp-tls tls for port 465, or none only for a trusted local relay)", cfg.Server, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if cfg.User != "" {
		if cfg.TLS == TLSNone && !IsLoopback(cfg.Server) {
			// Validate refuses this before any work; checked again here
			// so no path sends a password in clear.
			return fmt.Errorf("%s: refusing to send the password without TLS to a host that is not loopback", cfg.Server)
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("%s does not offer AUTH: the password was not sent (drop --smtp-user for a relay that needs none)", cfg.Server)
		}
		if err := c.Auth(sasl.NewPlainClient("", cfg.User, cfg.Password)); err != nil {
			return fmt.Errorf("%s: authentication failed: %w", cfg.Server, err)
		}
	}
	if err := c.SendMail(cfg.From, cfg.To, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("%s: %w", cfg.Server, err)
	}
	return c.Quit()
}

// IsLoopback reports whether server (HOST:PORT) is a loopback address or
// localhost.
func IsLoopback(server string) bool {
	host, _, err := net.SplitHostPort(server)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// deadlineConn holds every deadline set on it to limit.
type deadlineConn struct {
	net.Conn
	limit time.Time
}

func (c *deadlineConn) clamp(t time.Time) time.Time {
	if t.IsZero() || t.After(c.limit) {
		return c.limit
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *deadlineConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}
