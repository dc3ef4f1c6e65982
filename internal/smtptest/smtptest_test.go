package smtptest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/emersion/go-sasl"
	smtp "github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

func send(t *testing.T, c *smtp.Client, from, to, body string) error {
	t.Helper()
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, body); err != nil {
		return err
	}
	return w.Close()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// Start: an MX host that knows alice only, with STARTTLS, logging the
// decrypted commands and keeping what it received.
func TestStart(t *testing.T) {
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}})
	srv := Start(t, &cert, nil)
	c, err := smtp.DialStartTLS(srv.Addr.String(), &tls.Config{ServerName: "mx.test.example", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@test.example", nil); smtpCode(err) != 550 {
		t.Errorf("bob: %v, want 550", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := send(t, c, "a@example.com", "Alice@test.example", "Subject: x\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].From != "a@example.com" || !slices.Equal(msgs[0].To, []string{"Alice@test.example"}) || string(msgs[0].Data) != "Subject: x\r\n\r\nhi\r\n" {
		t.Errorf("messages %+v", msgs)
	}
	for _, v := range []string{"EHLO", "STARTTLS", "MAIL", "RCPT", "RSET", "DATA", "QUIT"} {
		if srv.Log.Count(v) == 0 {
			t.Errorf("no %s in %q", v, srv.Log.Lines())
		}
	}
	if srv.Log.Count("EHLO") < 2 || srv.Log.Count("MAIL") != 2 || !slices.Contains(srv.Log.Lines(), "RCPT TO:<bob@test.example>") {
		t.Errorf("log %q", srv.Log.Lines())
	}
}

// StartSink: every recipient, AUTH PLAIN required before MAIL.
func TestStartSink(t *testing.T) {
	srv := StartSink(t, nil, map[string]string{"u": "p"})
	c, err := smtp.Dial(srv.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.com", nil); err == nil || !errors.Is(err, smtp.ErrAuthRequired) && smtpCode(err) != smtp.ErrAuthRequired.Code {
		t.Errorf("MAIL before AUTH: %v, want %v", err, smtp.ErrAuthRequired)
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "wrong")); err == nil {
		t.Error("wrong password accepted")
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Fatal(err)
	}
	if err := send(t, c, "a@example.com", "anyone@elsewhere.example", "x\r\n"); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].AuthUser != "u" || msgs[0].TLS {
		t.Errorf("messages %+v", msgs)
	}
	var asserted bool
	tb := &fakeTB{TB: t, fatal: func() { asserted = true }}
	srv.Log.AssertNoData(tb)
	if !asserted {
		t.Error("AssertNoData passed although DATA was sent")
	}
}

func TestScripted(t *testing.T) {
	srv := StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *CommandLog) {
		_, _ = io.WriteString(c, "220 scripted ESMTP\r\n")
		ServeCommands(c, r, lg, map[string]string{"RCPT": "450 4.2.0 later\r\n"})
	})
	c, err := smtp.Dial(srv.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("a@example.com", nil); smtpCode(err) != 450 {
		t.Errorf("RCPT: %v, want 450", err)
	}
	_ = c.Quit()
	if got, want := srv.Log.Verbs(), []string{"EHLO", "MAIL", "RCPT", "QUIT"}; !slices.Equal(got, want) {
		t.Errorf("verbs %q, want %q", got, want)
	}
	srv.Log.AssertNoData(t)
}

// fakeTB records a Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	fatal func()
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.fatal() }
