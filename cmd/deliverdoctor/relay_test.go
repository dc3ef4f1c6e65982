package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// closedMTA refuses every recipient outside mx.closed.test with 554 5.7.1
// and records every command the backend sees.
type closedMTA struct{ cmds chan string }

func (b *closedMTA) NewSession(*smtp.Conn) (smtp.Session, error) { return &closedSession{b}, nil }

type closedSession struct{ b *closedMTA }

func (s *closedSession) Reset()        {}
func (s *closedSession) Logout() error { return nil }
func (s *closedSession) Mail(string, *smtp.MailOptions) error {
	s.b.cmds <- "MAIL"
	return nil
}
func (s *closedSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.cmds <- "RCPT"
	if strings.HasSuffix(to, "@mx.closed.test") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied \x1b[31m"}
}
func (s *closedSession) Data(r io.Reader) error {
	s.b.cmds <- "DATA"
	_, _ = io.Copy(io.Discard, r)
	return nil
}

func startClosedMTA(t *testing.T) (string, *closedMTA) {
	t.Helper()
	b := &closedMTA{cmds: make(chan string, 1000)}
	s := smtp.NewServer(b)
	s.Domain = "mx.closed.test"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close(); _ = l.Close(); <-done })
	return l.Addr().String(), b
}

func (b *closedMTA) sawData() bool {
	for {
		select {
		case c := <-b.cmds:
			if c == "DATA" {
				return true
			}
		default:
			return false
		}
	}
}

func TestRelayCmdOpenJSONContract(t *testing.T) {
	srv := smtptest.StartSink(t, nil, nil) // accepts every recipient: an open relay
	out, stderr, code := runCLI(t, "relay", srv.Addr.String(), "--format", "json", "--helo", "probe.example")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (open relay); stderr %s", code, stderr)
	}
	srv.Log.AssertNoData(t)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var host, verdict string
	if err := json.Unmarshal(doc["host"], &host); err != nil || host != "127.0.0.1" {
		t.Errorf("host %s", doc["host"])
	}
	if err := json.Unmarshal(doc["verdict"], &verdict); err != nil || verdict != "open" {
		t.Errorf("verdict %s", doc["verdict"])
	}
	var attempts []map[string]json.RawMessage
	if err := json.Unmarshal(doc["attempts"], &attempts); err != nil || len(attempts) != 1 {
		t.Fatalf("attempts: %v %s", err, doc["attempts"])
	}
	a := attempts[0]
	want := map[string]any{"mail_from": "<>", "rcpt_to": "<relay-test@example.net>", "code": float64(250), "enhanced_code": "", "accepted": true}
	for k, v := range want {
		var got any
		if err := json.Unmarshal(a[k], &got); err != nil {
			t.Errorf("attempts[0].%s missing", k)
			continue
		}
		if k == "enhanced_code" {
			if _, ok := got.(string); !ok {
				t.Errorf("enhanced_code %v is not a string", got)
			}
			continue
		}
		if got != v {
			t.Errorf("attempts[0].%s = %v, want %v", k, got, v)
		}
	}
	var text string
	if err := json.Unmarshal(a["text"], &text); err != nil {
		t.Errorf("text: %s", a["text"])
	}
	var found []findings.Finding
	if err := json.Unmarshal(doc["findings"], &found); err != nil || len(found) == 0 || found[0].ID != "relay.open" {
		t.Errorf("findings %s", doc["findings"])
	}
}

func TestRelayCmdClosedText(t *testing.T) {
	addr, b := startClosedMTA(t)
	out, stderr, code := runCLI(t, "relay", addr, "--helo", "probe.example", "-v")
	if code != 0 {
		t.Fatalf("exit %d; stderr %s; out %s", code, stderr, out)
	}
	if b.sawData() {
		t.Fatal("DATA")
	}
	for _, want := range []string{"CLOSED", "VARIANT", "MAIL FROM", "null-sender", "percent-hack", "554 5.7.1 Relay access denied", "relay.closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("raw escape in the text output")
	}
	out, _, code = runCLI(t, "relay", addr, "--helo", "probe.example", "--format", "json")
	var res struct {
		Verdict  string
		Attempts []struct {
			Accepted bool
			Code     int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || res.Verdict != "closed" || len(res.Attempts) < 16 {
		t.Fatalf("exit %d verdict %s attempts %d err %v", code, res.Verdict, len(res.Attempts), err)
	}
}

func TestRelayCmdAuthRequiredIsClosed(t *testing.T) {
	srv := smtptest.StartSink(t, nil, map[string]string{"u": "p"})
	out, _, code := runCLI(t, "relay", srv.Addr.String(), "--format", "json", "--helo", "probe.example")
	var res struct{ Verdict string }
	_ = json.Unmarshal([]byte(out), &res)
	if code != 0 || res.Verdict != "closed" || !strings.Contains(out, "relay.auth-required") {
		t.Fatalf("exit %d verdict %s: %s", code, res.Verdict, out)
	}
}

func TestRelayCmdUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	out, _, code := runCLI(t, "relay", addr, "--format", "json")
	var res struct{ Verdict, Failure string }
	_ = json.Unmarshal([]byte(out), &res)
	if code != 3 || res.Verdict != "unknown" || res.Failure != "unreachable" {
		t.Fatalf("exit %d %+v", code, res)
	}
}

func TestRelayCmdResolvesNames(t *testing.T) {
	t.Parallel() // waits on DNS timeouts or a grace period; servers and files of its own
	addr, _ := startClosedMTA(t)
	_, port, _ := net.SplitHostPort(addr)
	dns := dnstest.Start(t, `
mx.relay.example.   300 IN A 127.0.0.1
relay.example.      300 IN MX 10 mx.relay.example.
`)
	out, stderr, code := runCLI(t, "relay", "mx.relay.example:"+port, "--resolver", dns.Addr(), "--format", "json", "--helo", "probe.example")
	var res struct{ Host, IP, Verdict string }
	_ = json.Unmarshal([]byte(out), &res)
	if code != 0 || res.Host != "mx.relay.example" || res.IP != "127.0.0.1" || res.Verdict != "closed" {
		t.Fatalf("exit %d %+v %s", code, res, stderr)
	}
	// The DNS does not answer: "could not tell" (exit 3), not "no host".
	dns.Set("slow.relay.example", dnstest.Behavior{Drop: true})
	out, _, code = runCLI(t, "relay", "slow.relay.example", "--resolver", dns.Addr(), "--timeout", "200ms", "--format", "json")
	var unk struct{ Verdict, Failure string }
	_ = json.Unmarshal([]byte(out), &unk)
	if code != 3 || unk.Verdict != "unknown" || unk.Failure != "dns" || !strings.Contains(out, "relay.dns-error") {
		t.Errorf("exit %d %+v", code, unk)
	}
	// A mail domain without an address: a one-line hint at check --relay.
	_, stderr, code = runCLI(t, "relay", "relay.example", "--resolver", dns.Addr())
	if code != 2 || !strings.Contains(stderr, "check relay.example --relay") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("exit %d stderr %q", code, stderr)
	}
}

func TestRelayCmdUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"relay"},
		{"relay", "a", "b"},
		{"relay", "mx.example.com:0"},
		{"relay", "mx.example.com:99999"},
		{"relay", "mx.example.com:smtp"},
		{"relay", "exa mple.com"},
		{"relay", "127.0.0.1", "--helo", "bad name"},
		{"relay", "127.0.0.1", "--helo", "nodots"},
		{"relay", "127.0.0.1", "--external", "not a domain"},
		{"relay", "127.0.0.1", "--external", "example.com", "--domain", "example.com"},
		{"relay", "127.0.0.1", "--probe-timeout", "0s"},
		{"relay", "127.0.0.1", "--offline"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "deliverdoctor: ") {
			t.Errorf("%v: want one error line, got %q", args, stderr)
		}
	}
}

// check DOMAIN --relay probes each MX host once per address: two MX names
// on one address are one probe, reported with an alias.
func TestCheckRelayProbesMXHosts(t *testing.T) {
	srv := smtptest.StartSink(t, nil, nil)
	port := int(srv.Addr.Port())
	dns := dnstest.Start(t, `
relay.example.      300 IN MX 10 mx1.relay.example.
relay.example.      300 IN MX 20 mx2.relay.example.
mx1.relay.example.  300 IN A 127.0.0.1
mx2.relay.example.  300 IN A 127.0.0.1
nullmx.example.     300 IN MX 0 .
`)
	runner := &check.Runner{Resolver: dns.Client(t), Options: check.Options{Relay: true, SMTPPort: port, ProbeTimeout: 2 * time.Second, Only: []string{"relay"}}}
	rep := runner.Run(context.Background(), target.Target{Kind: target.KindDomain, Name: "relay.example", Input: "relay.example"})
	if len(rep.Checks) != 1 || rep.Checks[0].Name != "relay" || rep.Checks[0].Status != findings.StatusFail {
		t.Fatalf("checks %+v", rep.Checks)
	}
	b, _ := json.Marshal(rep.Checks[0].Data)
	var data struct {
		Hosts []struct {
			Host        string
			Aliases     []string
			Verdict     string
			LocalDomain string `json:"local_domain"`
		}
	}
	if err := json.Unmarshal(b, &data); err != nil || len(data.Hosts) != 1 {
		t.Fatalf("data %s", b)
	}
	h := data.Hosts[0]
	if h.Host != "mx1.relay.example" || len(h.Aliases) != 1 || h.Aliases[0] != "mx2.relay.example" || h.Verdict != "open" || h.LocalDomain != "relay.example" {
		t.Errorf("host %+v", h)
	}
	srv.Log.AssertNoData(t)
	if mails := srv.Log.Count("MAIL"); mails != 1 {
		t.Errorf("%d MAIL commands: the shared address was probed more than once", mails)
	}

	// Null MX: nothing to probe. Without --relay: the check does not run.
	rep = runner.Run(context.Background(), target.Target{Kind: target.KindDomain, Name: "nullmx.example"})
	if rep.Checks[0].Status != findings.StatusSkip {
		t.Errorf("null MX: %+v", rep.Checks[0])
	}
	runner.Options.Relay = false
	rep = runner.Run(context.Background(), target.Target{Kind: target.KindDomain, Name: "relay.example"})
	if len(rep.Checks) != 0 {
		t.Errorf("relay ran without --relay: %+v", rep.Checks)
	}
}

func TestCheckRelayDNSFailureIsError(t *testing.T) {
	t.Parallel() // waits on DNS timeouts or a grace period; servers and files of its own
	dns := dnstest.Start(t, "")
	dns.Set("broken.example", dnstest.Behavior{Drop: true})
	runner := &check.Runner{Resolver: dns.Client(t), Options: check.Options{Relay: true, Only: []string{"relay"}}, Deadline: 20 * time.Second}
	rep := runner.Run(context.Background(), target.Target{Kind: target.KindDomain, Name: "broken.example"})
	if rep.Checks[0].Status != findings.StatusError {
		t.Fatalf("status %s: %+v", rep.Checks[0].Status, rep.Checks[0])
	}
	for _, f := range rep.Findings {
		if f.ID == "relay.dns-error" {
			return
		}
	}
	t.Errorf("findings %+v", rep.Findings)
}
