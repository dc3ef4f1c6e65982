package notify

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

func sampleReports() []*report.Report {
	r := &report.Report{Target: "example.com", Kind: "domain", Checks: []findings.CheckResult{{Name: "spf", Status: findings.StatusFail, Summary: "14 lookups",
		Findings: []findings.Finding{{ID: "spf.too-many-lookups", Severity: findings.SeverityFail, Title: "SPF needs 14 DNS lookups <b>"},
			{ID: "spf.x", Severity: findings.SeverityFail, Title: "second"}}}}}
	r.Finalize(nil)
	return []*report.Report{r}
}

func TestSendStartTLSAuth(t *testing.T) {
	ca := testpki.NewCA(t)
	sk := smtptest.StartSink(t, testpki.ServerConfig(ca.Issue(t, testpki.Leaf{Names: []string{"127.0.0.1"}})), map[string]string{"cron": "s3cret"})
	cfg := &Config{Server: sk.Addr.String(), User: "cron", Password: "s3cret", From: "dd@example.com", To: []string{"admin@example.com", "ops@example.com"}, RootCAs: ca.Pool()}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reports := sampleReports()
	subject := Subject(reports, nil)
	if subject != "deliverdoctor: 2 failures on example.com" {
		t.Errorf("subject %q", subject)
	}
	msg, err := Compose(cfg, subject, reports, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := Send(context.Background(), cfg, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := sk.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	if m := got[0]; !m.TLS || m.AuthUser != "cron" || m.From != "dd@example.com" || len(m.To) != 2 {
		t.Fatalf("server saw %+v", m)
	}
	m, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("Subject"); got != subject {
		t.Errorf("Subject header %q", got)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q %v", mt, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		body, _ := io.ReadAll(p) // multipart decodes quoted-printable
		if ct == "text/html" && (!strings.Contains(string(body), "&lt;b&gt;") || strings.Contains(string(body), "14 DNS lookups <b>")) {
			t.Error("HTML part does not escape finding text")
		}
		if ct == "text/plain" && !strings.Contains(string(body), "spf.too-many-lookups") {
			t.Error("text part lacks the finding")
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts %v", types)
	}
}

func TestRefusesWithoutSTARTTLS(t *testing.T) {
	sk := smtptest.StartSink(t, nil, nil)
	cfg := &Config{Server: sk.Addr.String(), User: "cron", Password: "s3cret", From: "dd@example.com", To: []string{"a@example.com"}}
	err := Send(context.Background(), cfg, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v", err)
	}
	if len(sk.Messages()) != 0 {
		t.Error("mail sent over a plain connection")
	}
	for _, v := range sk.Log.Verbs() {
		if v == "AUTH" || v == "MAIL" || v == "RCPT" || v == "DATA" {
			t.Errorf("%s sent over a plain connection", v)
		}
	}
	cfg.TLS, cfg.User, cfg.Password = TLSNone, "", ""
	if err := Send(context.Background(), cfg, []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("--smtp-tls none to a local relay: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Server: "nohost", From: "a@b.c", To: []string{"x@y.z"}},
		{Server: "h:25", From: "a@b.c"},
		{Server: "h:25", From: "not an address", To: []string{"x@y.z"}},
		{Server: "h:25", From: "a@b.c", To: []string{"x@y.z"}, User: "u"},
		{Server: "h:25", From: "a@b.c", To: []string{"x@y.z"}, TLS: "ssl3"},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestSubjects(t *testing.T) {
	ch := []state.Change{{Target: "example.com", Appeared: []state.Item{{ID: "a"}}}}
	if got := Subject(sampleReports(), ch); got != "deliverdoctor: example.com changed: 1 new, 0 resolved" {
		t.Errorf("%q", got)
	}
	pass := &report.Report{Target: "ok.example", Checks: []findings.CheckResult{{Name: "mx", Status: findings.StatusPass}}}
	pass.Finalize(nil)
	if got := Subject([]*report.Report{pass}, nil); got != "deliverdoctor: ok.example passes" {
		t.Errorf("%q", got)
	}
	if got := Subject(append(sampleReports(), pass), nil); got != "deliverdoctor: 1 of 2 targets failing" {
		t.Errorf("%q", got)
	}
}

// The report mail has one overall deadline: a server that never greets, or
// greets and then never answers, costs at most --smtp-timeout, not
// go-smtp's own minutes-long command timeouts.
func TestSendDeadlineHolds(t *testing.T) {
	for name, handle := range map[string]func(c net.Conn, r *bufio.Reader, log *smtptest.CommandLog){
		"never greets": func(c net.Conn, r *bufio.Reader, _ *smtptest.CommandLog) {
			_, _ = io.Copy(io.Discard, r) // until the client gives up
		},
		"stalls after EHLO": func(c net.Conn, r *bufio.Reader, _ *smtptest.CommandLog) {
			fmt.Fprint(c, "220 tarpit.example ESMTP\r\n")
			_, _ = r.ReadString('\n')
			_, _ = io.Copy(io.Discard, r)
		},
		"stalls in DATA": func(c net.Conn, r *bufio.Reader, _ *smtptest.CommandLog) {
			fmt.Fprint(c, "220 tarpit.example ESMTP\r\n")
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				switch strings.ToUpper(strings.Fields(line + " x")[0]) {
				case "EHLO", "HELO":
					fmt.Fprint(c, "250 tarpit.example\r\n")
				case "DATA":
					fmt.Fprint(c, "354 go on\r\n")
					_, _ = io.Copy(io.Discard, r) // never a final reply
					return
				default:
					fmt.Fprint(c, "250 ok\r\n")
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := smtptest.StartScripted(t, handle)
			cfg := &Config{Server: srv.Addr.String(), TLS: TLSNone, From: "dd@example.com", To: []string{"a@example.com"}, Timeout: 300 * time.Millisecond}
			done := make(chan error, 1)
			go func() { done <- Send(context.Background(), cfg, []byte("Subject: x\r\n\r\nbody\r\n")) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "--smtp-timeout") {
					t.Errorf("error %v, want one naming --smtp-timeout", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("Send still blocked a minute after its 300 ms deadline")
			}
		})
	}
}

// The password never goes out in clear: --smtp-tls none with a user is
// refused for a host that is not loopback, and AUTH is never sent to a
// server that does not offer it.
func TestNoClearTextAuth(t *testing.T) {
	cfg := &Config{Server: "192.0.2.25:25", TLS: TLSNone, User: "cron", Password: "s3cret", From: "dd@example.com", To: []string{"a@example.com"}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("clear-text AUTH to a remote host accepted: %v", err)
	}
	// Send checks again, after connecting, whatever the caller validated.
	// 0.0.0.0 is not a loopback address to IsLoopback, yet on Linux a
	// connection to it reaches this machine's 127.0.0.1 listeners: a
	// "remote" server that offers AUTH in clear, without leaving loopback.
	if runtime.GOOS == "linux" {
		authSink := smtptest.StartSink(t, nil, map[string]string{"cron": "s3cret"})
		remote := *cfg
		remote.Server = net.JoinHostPort("0.0.0.0", strconv.Itoa(int(authSink.Addr.Port())))
		err := Send(context.Background(), &remote, []byte("Subject: x\r\n\r\nbody\r\n"))
		if err == nil || !strings.Contains(err.Error(), "refusing to send the password without TLS") {
			t.Errorf("Send to a host that is not loopback, without TLS: %v", err)
		}
		if authSink.Log.Count("AUTH") != 0 || len(authSink.Messages()) != 0 {
			t.Errorf("AUTH sent %d times, %d messages: want none", authSink.Log.Count("AUTH"), len(authSink.Messages()))
		}
	}
	for _, s := range []string{"127.0.0.1:25", "[::1]:25", "localhost:25"} {
		cfg.Server = s
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	sink := smtptest.StartSink(t, nil, nil) // offers no AUTH
	cfg.Server = sink.Addr.String()
	err := Send(context.Background(), cfg, []byte("Subject: x\r\n\r\nbody\r\n"))
	if err == nil || !strings.Contains(err.Error(), "does not offer AUTH") {
		t.Errorf("error %v", err)
	}
	if sink.Log.Count("AUTH") != 0 || len(sink.Messages()) != 0 {
		t.Error("AUTH sent to a server that does not offer it")
	}
}

// A mailed digest of 1,000 targets stays well under Gmail's clipping size
// and starts with what failed; 990 identical warnings are one line.
func TestDigest1000(t *testing.T) {
	d := NewDigest()
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("d%04d.example", i)
		f := findings.Finding{ID: "dmarc.policy-none", Severity: findings.SeverityWarn, Title: "DMARC policy is p=none"}
		st := findings.StatusWarn
		if i%100 == 7 {
			f = findings.Finding{ID: "spf.too-many-lookups", Severity: findings.SeverityFail, Title: "SPF needs 14 DNS lookups"}
			st = findings.StatusFail
		}
		r := &report.Report{Target: name, Kind: "domain", Checks: []findings.CheckResult{{Name: "dmarc", Status: st, Summary: strings.Repeat("x", 300), Findings: []findings.Finding{f}}}}
		r.Finalize(nil)
		d.Add(r)
	}
	d.OutputPath = "/var/lib/deliverdoctor/run.jsonl"
	cfg := &Config{Server: "127.0.0.1:25", From: "dd@example.com", To: []string{"a@example.com"}}
	msg, err := ComposeDigest(cfg, d.Subject(nil), d, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) >= 100<<10 {
		t.Errorf("message is %d bytes, want < 100 KB", len(msg))
	}
	mr, err := gomail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := mr.Header.Subject(); got != "deliverdoctor: 10 of 1000 targets failing" {
		t.Errorf("subject %q", got)
	}
	p, err := mr.NextPart() // the text digest, whether or not reports are attached
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(p.Body)
	lines := strings.Split(string(body), "\n")
	if !strings.Contains(lines[0], "1000 targets: 10 fail, 990 warn") || !strings.Contains(lines[1], "d0007.example") {
		t.Errorf("the digest does not start with what failed:\n%s", strings.Join(lines[:min(8, len(lines))], "\n"))
	}
	if n := strings.Count(string(body), "dmarc.policy-none"); n != 1 {
		t.Errorf("identical warnings on %d lines, want 1", n)
	}
	if !strings.Contains(string(body), "990 targets: d0000.example") || !strings.Contains(string(body), "/var/lib/deliverdoctor/run.jsonl") {
		t.Errorf("digest:\n%s", body)
	}
	if strings.Index(string(body), "spf.too-many-lookups") > strings.Index(string(body), "dmarc.policy-none") {
		t.Error("the failure is not before the warnings")
	}
}

// A few targets' reports are small enough to attach in full.
func TestDigestAttachesSmallRuns(t *testing.T) {
	d := NewDigest()
	for i := 0; i < 8; i++ {
		d.Add(sampleReports()[0])
	}
	cfg := &Config{Server: "127.0.0.1:25", From: "dd@example.com", To: []string{"a@example.com"}}
	msg, err := ComposeDigest(cfg, d.Subject(nil), d, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(msg, []byte("multipart/mixed")) || !bytes.Contains(msg, []byte("reports.jsonl.gz")) {
		t.Errorf("no attachment:\n%s", msg[:min(len(msg), 2000)])
	}
}

// 1,000 different findings: the digest keeps to its budget, says how many
// lines it left out, and points at --output instead of attaching.
func TestDigestBudget(t *testing.T) {
	d := NewDigest()
	for i := 0; i < 1000; i++ {
		f := findings.Finding{ID: "spf.too-many-lookups", Severity: findings.SeverityFail, Title: fmt.Sprintf("SPF of d%04d needs %x lookups", i, i*7919*104729)}
		r := &report.Report{Target: fmt.Sprintf("d%04d.example", i), Kind: "domain", Checks: []findings.CheckResult{{Name: "spf", Status: findings.StatusFail, Summary: fmt.Sprintf("%x", i*2654435761), Findings: []findings.Finding{f}}}}
		r.Finalize(nil)
		d.Add(r)
	}
	cfg := &Config{Server: "127.0.0.1:25", From: "dd@example.com", To: []string{"a@example.com"}}
	msg, err := ComposeDigest(cfg, d.Subject(nil), d, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) >= 100<<10 || bytes.Contains(msg, []byte("reports.jsonl.gz")) {
		t.Errorf("%d bytes, attachment %v", len(msg), bytes.Contains(msg, []byte("reports.jsonl.gz")))
	}
	if !bytes.Contains(msg, []byte("left out to keep this mail small")) || !bytes.Contains(msg, []byte("--output FILE")) {
		t.Error("the digest does not say what it left out and where the reports are")
	}
}
