package receive

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

var raceEnabled bool

type testServer struct {
	addr    string
	mu      sync.Mutex
	reports []*Report
	logs    []string
}

func (ts *testServer) log() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return strings.Join(ts.logs, "\n")
}

func (ts *testServer) got() []*Report {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*Report(nil), ts.reports...)
}

func startServer(t *testing.T, fx *fixture, o ServerOptions) *testServer {
	t.Helper()
	ts := &testServer{}
	if fx == nil {
		fx = &fixture{dns: dnstest.Start(t, "")}
		fx.opts.Lists = nil
	}
	o.Resolver = fx.dns.Client(t)
	o.Eval = fx.opts
	if o.Eval.Lists == nil {
		o.Eval.Lists = fx.opts.Lists
	}
	if o.Hostname == "" {
		o.Hostname = "mx.test.example"
	}
	o.OnReport = func(r *Report, _ []byte) {
		ts.mu.Lock()
		ts.reports = append(ts.reports, r)
		ts.mu.Unlock()
	}
	o.Logf = func(f string, a ...any) {
		ts.mu.Lock()
		ts.logs = append(ts.logs, fmt.Sprintf(f, a...))
		ts.mu.Unlock()
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

// dial opens a raw SMTP session and reads the greeting.
func dial(t *testing.T, addr string) (*textproto.Conn, net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	tc := textproto.NewConn(c)
	t.Cleanup(func() { _ = tc.Close() })
	if _, _, err := tc.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return tc, c
}

func cmd(t *testing.T, tc *textproto.Conn, want int, format string, a ...any) string {
	t.Helper()
	id, err := tc.Cmd(format, a...)
	if err != nil {
		t.Fatal(err)
	}
	tc.StartResponse(id)
	defer tc.EndResponse(id)
	code, msg, err := tc.ReadResponse(want)
	if err != nil {
		t.Fatalf("%s: got %d %s, want %d (%v)", fmt.Sprintf(format, a...), code, msg, want, err)
	}
	return msg
}

func TestServerSTARTTLSAndReport(t *testing.T) {
	fx := newFixture(t)
	ts := startServer(t, fx, ServerOptions{})
	c, err := smtp.Dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mail.example.com"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true, ServerName: "mx.test.example"}); err != nil {
		t.Fatal(err)
	}
	msg := fx.sign(t, "example.com", header("example.com")+textBody)
	if err := c.Mail("bounce@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"a@anything.example", "b@elsewhere.example"} {
		if err := c.Rcpt(r); err != nil {
			t.Fatalf("RCPT %s: %v (any recipient is accepted)", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, msg)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	reps := ts.got()
	if len(reps) != 1 {
		t.Fatalf("%d reports", len(reps))
	}
	r := reps[0]
	if !r.Envelope.TLS.Used || r.Envelope.TLS.Version == "" || r.Envelope.ClientIP != "127.0.0.1" || r.Envelope.HELO != "mail.example.com" ||
		r.Envelope.MailFrom != "bounce@example.com" || len(r.Envelope.RcptTo) != 2 {
		t.Errorf("envelope %+v", r.Envelope)
	}
	if checkStatus(r, "tls") != "pass" || checkStatus(r, "dkim") != "pass" {
		t.Errorf("tls %s dkim %s", checkStatus(r, "tls"), checkStatus(r, "dkim"))
	}
}

func TestServerMimic(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct{ mimic, code string }{{"gmail", "5.7.26"}, {"microsoft", "5.7.509"}, {"yahoo", "5.7.9"}} {
		t.Run(tc.mimic, func(t *testing.T) {
			ts := startServer(t, fx, ServerOptions{Mimic: tc.mimic, ClientIP: "198.51.100.7"})
			tc2, _ := dial(t, ts.addr)
			cmd(t, tc2, 250, "EHLO other.example.net")
			cmd(t, tc2, 250, "MAIL FROM:<bounce@example.com>")
			cmd(t, tc2, 250, "RCPT TO:<x@mx.test.example>")
			cmd(t, tc2, 354, "DATA")
			w := tc2.DotWriter()
			io.WriteString(w, header("example.com")+textBody)
			w.Close()
			code, msg, err := tc2.ReadResponse(550)
			if err != nil && code/100 != 5 {
				t.Fatalf("got %d %s, want a 5xx reject", code, msg)
			}
			if !strings.Contains(msg, tc.code) {
				t.Errorf("reply %d %q does not carry %s", code, msg, tc.code)
			}
			if r := ts.got(); len(r) != 1 || r[0].Envelope.ConnectedIP != "127.0.0.1" || r[0].Envelope.ClientIP != "198.51.100.7" {
				t.Errorf("reports %d", len(r))
			}
		})
	}
}

// A client that sends DATA and never ends it is cut off by the session
// limit, even when it keeps trickling bytes under the read timeout.
func TestServerNeverFinishesData(t *testing.T) {
	t.Parallel() // waits on timeouts; its own server, no shared state
	ts := startServer(t, nil, ServerOptions{ReadTimeout: 2 * time.Second, SessionTimeout: 1 * time.Second})
	tc, c := dial(t, ts.addr)
	cmd(t, tc, 250, "EHLO slow.example")
	cmd(t, tc, 250, "MAIL FROM:<a@slow.example>")
	cmd(t, tc, 250, "RCPT TO:<b@mx.test.example>")
	cmd(t, tc, 354, "DATA")
	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c)
		closed <- err
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			if !strings.Contains(ts.log(), "session time limit") {
				t.Errorf("no log line about the limit:\n%s", ts.log())
			}
			if len(ts.got()) != 0 {
				t.Error("a report for an unfinished message")
			}
			return
		case <-tick.C:
			if _, err := c.Write([]byte("x")); err != nil {
				continue
			}
		}
	}
}

func TestServerSizeLimit(t *testing.T) {
	size := 100 << 20
	if testing.Short() || raceEnabled {
		size = 16 << 20
	}
	ts := startServer(t, nil, ServerOptions{MaxMessageBytes: 1 << 20})
	tc, _ := dial(t, ts.addr)
	msg := cmd(t, tc, 250, "EHLO big.example")
	if !strings.Contains(msg, "SIZE 1048576") {
		t.Errorf("EHLO does not announce SIZE: %q", msg)
	}
	cmd(t, tc, 250, "MAIL FROM:<a@big.example>")
	cmd(t, tc, 250, "RCPT TO:<b@mx.test.example>")
	cmd(t, tc, 354, "DATA")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w := bufio.NewWriterSize(tc.W, 64<<10)
	io.WriteString(w, "From: a@big.example\r\nSubject: big\r\n\r\n")
	line := strings.Repeat("0123456789", 9) + "\r\n"
	for n := 0; n < size; n += len(line) {
		if _, err := w.WriteString(line); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(w, ".\r\n")
	w.Flush()
	tc.W.Flush()
	code, text, _ := tc.ReadResponse(552)
	if code != 552 || !strings.Contains(text, "5.3.4") {
		t.Errorf("got %d %s, want 552 5.3.4", code, text)
	}
	runtime.ReadMemStats(&after)
	// The server keeps at most the limit; the rest is drained, not stored.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(size)/2 {
		t.Errorf("%d MB allocated while receiving %d MB", grew>>20, size>>20)
	} else {
		t.Logf("%d MB allocated while receiving %d MB (limit 1 MB)", grew>>20, size>>20)
	}
	cmd(t, tc, 250, "NOOP") // the session survives
	if !strings.Contains(ts.log(), "size limit") {
		t.Errorf("no log line:\n%s", ts.log())
	}
}

func TestServerRecipientLimit(t *testing.T) {
	ts := startServer(t, nil, ServerOptions{MaxRecipients: 100})
	tc, _ := dial(t, ts.addr)
	cmd(t, tc, 250, "EHLO many.example")
	cmd(t, tc, 250, "MAIL FROM:<a@many.example>")
	accepted, refused := 0, 0
	for i := 0; i < 1000; i++ {
		id, _ := tc.Cmd("RCPT TO:<r%d@mx.test.example>", i)
		tc.StartResponse(id)
		code, _, _ := tc.ReadResponse(0)
		tc.EndResponse(id)
		switch code {
		case 250:
			accepted++
		case 452:
			refused++
		default:
			t.Fatalf("RCPT %d: %d", i, code)
		}
	}
	if accepted != 100 || refused != 900 {
		t.Errorf("accepted %d refused %d, want 100 and 900", accepted, refused)
	}
	cmd(t, tc, 354, "DATA")
	w := tc.DotWriter()
	io.WriteString(w, "From: a@many.example\r\nSubject: many\r\n\r\nhi\r\n")
	w.Close()
	if _, _, err := tc.ReadResponse(250); err != nil {
		t.Fatal(err)
	}
	cmd(t, tc, 221, "QUIT")
	if r := ts.got(); len(r) != 1 || len(r[0].Envelope.RcptTo) != 100 {
		t.Fatalf("reports %d", len(r))
	}
	if !strings.Contains(ts.log(), "refused 900 recipients") {
		t.Errorf("log:\n%s", ts.log())
	}
}

func TestServerHugeHeader(t *testing.T) {
	ts := startServer(t, nil, ServerOptions{MaxMessageBytes: 30 << 20})
	tc, _ := dial(t, ts.addr)
	cmd(t, tc, 250, "EHLO head.example")
	cmd(t, tc, 250, "MAIL FROM:<a@head.example>")
	cmd(t, tc, 250, "RCPT TO:<b@mx.test.example>")
	cmd(t, tc, 354, "DATA")
	w := bufio.NewWriterSize(tc.W, 64<<10)
	io.WriteString(w, "From: a@head.example\r\n")
	for n := 0; n < 10<<20; n += 40 {
		io.WriteString(w, "X-Pad: 0123456789012345678901234567890\r\n")
	}
	io.WriteString(w, "\r\nbody\r\n.\r\n")
	w.Flush()
	tc.W.Flush()
	code, text, _ := tc.ReadResponse(552)
	if code != 552 || !strings.Contains(text, "Header") {
		t.Errorf("got %d %s, want 552 header too large", code, text)
	}
	if len(ts.got()) != 0 {
		t.Error("a report for a refused message")
	}
	if !strings.Contains(ts.log(), "header section over") {
		t.Errorf("log:\n%s", ts.log())
	}
}

func TestServerBareLF(t *testing.T) {
	t.Parallel() // waits on timeouts; its own server, no shared state
	// The smuggling attempt below ends at the read timeout (the client
	// sends nothing after it); the session limit is far away.
	ts := startServer(t, nil, ServerOptions{ReadTimeout: time.Second, SessionTimeout: 30 * time.Second})
	tc, c := dial(t, ts.addr)
	cmd(t, tc, 250, "EHLO lf.example")
	cmd(t, tc, 250, "MAIL FROM:<a@lf.example>")
	cmd(t, tc, 250, "RCPT TO:<b@mx.test.example>")
	cmd(t, tc, 354, "DATA")
	// Bare LF inside, a proper end of data: accepted, and reported.
	io.WriteString(c, "From: a@lf.example\nSubject: lf\n\nline one\nline two\r\n.\r\n")
	if _, _, err := tc.ReadResponse(250); err != nil {
		t.Fatal(err)
	}
	r := ts.got()
	if len(r) != 1 || !hasFinding(r[0], "bulk.bare-lf") {
		t.Fatalf("no bulk.bare-lf finding")
	}
	// "\n.\n" is not the end of data (RFC 5321 4.1.1.4): the session
	// waits for CRLF.CRLF and ends at the read timeout, not earlier.
	cmd(t, tc, 250, "MAIL FROM:<a@lf.example>")
	cmd(t, tc, 250, "RCPT TO:<b@mx.test.example>")
	cmd(t, tc, 354, "DATA")
	io.WriteString(c, "From: a@lf.example\n\nsmuggled\n.\nMAIL FROM:<evil@lf.example>\n")
	_, err := io.Copy(io.Discard, c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Logf("read: %v", err)
	}
	if n := len(ts.got()); n != 1 {
		t.Errorf("%d reports; the LF-terminated message must not count", n)
	}
	if !strings.Contains(ts.log(), "DATA not completed") && !strings.Contains(ts.log(), "time limit") {
		t.Errorf("log:\n%s", ts.log())
	}
}

func TestServerConnectionLimit(t *testing.T) {
	ts := startServer(t, nil, ServerOptions{MaxConns: 2})
	dial(t, ts.addr)
	dial(t, ts.addr)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "421 4.7.0") {
		t.Errorf("third connection got %q, want 421", line)
	}
}

func TestStore(t *testing.T) {
	s := &Store{Max: 3}
	for i := 0; i < 5; i++ {
		s.Add(&Report{ID: fmt.Sprint(i)})
	}
	var ids []string
	for _, r := range s.List() {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "2,3,4" {
		t.Errorf("kept %v", ids)
	}
	if (&Store{}).List() == nil {
		t.Error("an empty store lists nil, want an empty list")
	}
}
