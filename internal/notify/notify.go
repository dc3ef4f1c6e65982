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
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
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
	return nil
}

// Subject summarises reports (and changes, when given) in a mail subject.
func Subject(reports []*report.Report, changes []state.Change) string {
	if len(changes) > 0 {
		return "deliverdoctor: " + state.Summary(changes)
	}
	if len(reports) == 1 {
		r := reports[0]
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
		switch {
		case fails > 0:
			return fmt.Sprintf("deliverdoctor: %s on %s", plural(fails, "failure"), r.Target)
		case errs > 0:
			return fmt.Sprintf("deliverdoctor: %s could not be fully checked on %s", plural(errs, "check"), r.Target)
		case warns > 0:
			return fmt.Sprintf("deliverdoctor: %s on %s", plural(warns, "warning"), r.Target)
		default:
			return fmt.Sprintf("deliverdoctor: %s passes", r.Target)
		}
	}
	s := report.Summarize(reports)
	if n := s.ByStatus[findings.StatusFail]; n > 0 {
		return fmt.Sprintf("deliverdoctor: %d of %d targets failing", n, s.Total)
	}
	return fmt.Sprintf("deliverdoctor: %s", s.String())
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Compose builds the message: multipart/alternative with text and HTML parts
// of the same reports, and the changes on top when there are any.
func Compose(cfg *Config, subject string, reports []*report.Report, changes []state.Change, now time.Time) ([]byte, error) {
	var h mail.Header
	h.SetDate(now)
	h.SetSubject(subject)
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, err
	}
	h.SetAddressList("From", []*mail.Address{from})
	var to []*mail.Address
	for _, a := range cfg.To {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return nil, err
		}
		to = append(to, addr)
	}
	h.SetAddressList("To", to)
	if err := h.GenerateMessageIDWithHostname(domainOf(cfg.From)); err != nil {
		return nil, err
	}
	h.Set("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies to reports

	var text, html bytes.Buffer
	if len(changes) > 0 {
		writeChangesText(&text, changes)
		writeChangesHTML(&html, changes)
	}
	if err := report.Render(&text, "text", reports, report.Options{}); err != nil {
		return nil, err
	}
	if err := report.HTML(&html, reports, report.Options{}); err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	mw, err := mail.CreateInlineWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	for _, part := range []struct {
		ctype string
		body  []byte
	}{{"text/plain", text.Bytes()}, {"text/html", html.Bytes()}} {
		var ph mail.InlineHeader
		ph.SetContentType(part.ctype, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", "quoted-printable")
		w, err := mw.CreatePart(ph)
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
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.Trim(addr[i+1:], ">")
	}
	return "localhost"
}

// Send delivers msg over SMTP.
func Send(ctx context.Context, cfg *Config, msg []byte) error {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(cfg.Server)
	tlsConfig := &tls.Config{ServerName: host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	var d net.Dialer
	var conn net.Conn
	var err error
	if cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsConfig}).DialContext(ctx, "tcp", cfg.Server)
	} else {
		conn, err = d.DialContext(ctx, "tcp", cfg.Server)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.Server, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var c *smtp.Client
	if cfg.TLS == "" || cfg.TLS == TLSStartTLS {
		// STARTTLS is required in this mode: a server that does not offer it
		// gets no credentials and no report.
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			conn.Close()
			return fmt.Errorf("%s: STARTTLS: %w (use --smtp-tls tls for port 465, or none only for a trusted local relay)", cfg.Server, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if cfg.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", cfg.User, cfg.Password)); err != nil {
			return fmt.Errorf("%s: authentication failed: %w", cfg.Server, err)
		}
	}
	if err := c.SendMail(cfg.From, cfg.To, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("%s: %w", cfg.Server, err)
	}
	return c.Quit()
}
