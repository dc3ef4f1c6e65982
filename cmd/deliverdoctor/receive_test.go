package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/receive"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/serve"
)

func TestReceiveUsage(t *testing.T) {
	for _, args := range [][]string{
		{"receive", "--keep"},
		{"receive", "--mimic", "aol"},
		{"receive", "--cert", "x.pem"},
		{"receive", "--format", "html"},
		{"receive", "--client-ip", "not-an-ip"},
		{"receive", "extra"},
	} {
		if _, errOut, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// receive --once --format json: one message in, the report/v1 contract
// with kind, envelope and verdicts out, and a file under --output.
func TestReceiveOnceJSON(t *testing.T) {
	srv := dnstest.Start(t, `example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"
`)
	addr := freePort(t)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"receive", "--listen", addr, "--once", "--format", "json", "--output", dir, "--keep",
			"--resolver", srv.Addr(), "--client-ip", "198.51.100.7", "--mimic", "gmail", "--dnsbl", "ip:bl.test", "--hostname", "mx.test.example"},
			&IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	}()
	var c *smtp.Client
	var err error
	for i := 0; i < 100; i++ {
		if c, err = smtp.Dial(addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("mail.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	c.Mail("bounce@example.com")
	c.Rcpt("someone@mx.test.example")
	w, _ := c.Data()
	w.Write([]byte("From: <ada@example.com>\r\nSubject: t\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <x@example.com>\r\n\r\nhello\r\n"))
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), "5.7.26") {
		t.Errorf("DATA reply %v, want Gmail's 550 5.7.26", err)
	}
	c.Quit()
	if code := <-done; code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", code, errb.String())
	}
	var rep struct {
		Schema   string
		Kind     string
		ID       string
		Checks   []struct{ Name, Status string }
		Envelope struct {
			ClientIP string `json:"client_ip"`
			HELO     string
			MailFrom string   `json:"mail_from"`
			RcptTo   []string `json:"rcpt_to"`
			TLS      struct{ Used bool }
		}
		Verdicts []struct {
			Provider, Outcome, Reply string
			Codes                    []string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Schema != "deliverdoctor.report/v1" || rep.Kind != "message" || rep.Envelope.ClientIP != "198.51.100.7" ||
		rep.Envelope.MailFrom != "bounce@example.com" || !rep.Envelope.TLS.Used || len(rep.Envelope.RcptTo) != 1 || len(rep.Verdicts) != 3 {
		t.Errorf("report: %+v", rep)
	}
	names := map[string]bool{}
	for _, c := range rep.Checks {
		names[c.Name] = true
	}
	for _, n := range []string{"spf", "dkim", "dmarc", "ptr", "rbl", "tls", "bulk"} {
		if !names[n] {
			t.Errorf("no check %s", n)
		}
	}
	if v := rep.Verdicts[0]; v.Provider != "gmail" || v.Outcome != "reject" || len(v.Codes) == 0 || v.Codes[0] != "5.7.26" {
		t.Errorf("gmail verdict %+v", v)
	}
	for _, ext := range []string{".json", ".eml"} {
		if _, err := os.Stat(filepath.Join(dir, rep.ID+ext)); err != nil {
			t.Error(err)
		}
	}
}

// Strings from the SMTP session and the message reach the terminal only
// sanitized.
func TestReceiveTextEscapes(t *testing.T) {
	srv := dnstest.Start(t, "")
	r := srv.Client(t)
	msg := "From: \x1b[2J<evil@example.com>\r\nSubject: \x1b]0;owned\x07hi\r\n\r\nbody\r\n"
	rep := receive.Evaluate(context.Background(), []byte(msg), receive.Envelope{ClientIP: "198.51.100.9", HELO: "helo\x1b[31m.example",
		MailFrom: "a\x1b[1m@example.com", RcptTo: []string{"b@x.example"}}, r, receive.Options{Lists: []rbl.List{}})
	var out bytes.Buffer
	if err := writeReceivedText(&out, rep, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("control characters reach the terminal:\n%q", out.String())
	}
	for _, want := range []string{"PROVIDER", "gmail", "yahoo", "microsoft", "CHECK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}

// serve --receive: a message received over SMTP is listed by the API as
// the receive command's report.
func TestServeReceive(t *testing.T) {
	dns := dnstest.Start(t, `example.com. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`)
	app := &App{IO: &IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Env: func(string) string { return "" }}}
	root := newRootCmd(app)
	if err := root.ParseFlags([]string{"--resolver", dns.Addr()}); err != nil {
		t.Fatal(err)
	}
	cfg, err := serveConfig(app, &serveFlags{lists: "major", rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	stop, err := startReceiver(app, addr, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	if body := get(t, ts.URL+"/api/v1/received"); !strings.Contains(body, `"reports": []`) {
		t.Errorf("before any message: %s", body)
	}
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bounce@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("a@mx.test.example"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "From: <ada@example.com>\r\nSubject: via serve\r\n\r\nhi\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	var doc struct {
		Reports []struct {
			Schema, Kind string
			Message      struct{ Subject string }
		}
	}
	if err := json.Unmarshal([]byte(get(t, ts.URL+"/api/v1/received")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Reports) != 1 || doc.Reports[0].Kind != "message" || doc.Reports[0].Message.Subject != "via serve" {
		t.Errorf("received: %+v", doc)
	}
}
