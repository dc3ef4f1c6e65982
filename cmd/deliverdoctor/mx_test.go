package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

const mxCLIZone = `
test.example.      300 IN MX 10 mx.test.example.
mx.test.example.   300 IN A 127.0.0.1
1.0.0.127.in-addr.arpa. 300 IN PTR mx.test.example.
nullmx.example.    300 IN MX 0 .
`

// mxReportJSON decodes the parts of a report these tests look at.
type mxReportJSON struct {
	Status string `json:"status"`
	Checks []struct {
		Name    string          `json:"name"`
		Status  string          `json:"status"`
		Summary string          `json:"summary"`
		Data    json.RawMessage `json:"data"`
	} `json:"checks"`
	Findings []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
	} `json:"findings"`
}

func decodeMXReport(t *testing.T, out string) mxReportJSON {
	t.Helper()
	var r mxReportJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

func (r mxReportJSON) check(name string) (string, json.RawMessage) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Status, c.Data
		}
	}
	return "", nil
}

func (r mxReportJSON) has(id string) bool {
	for _, f := range r.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

func TestMXCommand(t *testing.T) {
	out, stderr, code := runCLI(t, "mx", "example.com", "--zone", "../../examples/example.com.zone",
		"--zone", "../../examples/2.0.192.in-addr.arpa.zone", "--offline")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"MX hosts of example.com:", "mx1.example.com", "192.0.2.25 (documentation)", "not checked (offline)", "yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "mx", "example.com", "--zone", "../../examples/example.com.zone", "--offline", "--format", "json")
	rep := decodeMXReport(t, out)
	if st, _ := rep.check("mx"); st != "warn" || len(rep.Checks) != 2 || code != 0 {
		t.Errorf("checks %+v exit %d", rep.Checks, code)
	}
	if st, _ := rep.check("ptr"); st != "skip" {
		t.Errorf("ptr without the reverse zone: %s", st)
	}

	srv := dnstest.Start(t, mxCLIZone)
	_, _, code = runCLI(t, "mx", "nullmx.example", "--resolver", srv.Addr())
	if code != 1 {
		t.Errorf("null MX: exit %d", code)
	}
}

func TestMXCommandSMTP(t *testing.T) {
	srv := dnstest.Start(t, mxCLIZone)
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"mx.test.example"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})
	smtpSrv := smtptest.Start(t, &cert, nil)
	port := fmt.Sprint(smtpSrv.Addr.Port())
	out, stderr, code := runCLI(t, "mx", "test.example", "--resolver", srv.Addr(), "--smtp", "--smtp-port", port, "--probe-timeout", "3s")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"SMTP on port " + port, "banner:  220 mx.test.example ESMTP Service Ready", "EHLO:", "extensions: PIPELINING",
		"STARTTLS: TLS 1.3", "NOT trusted", "smtp.cert-untrusted"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runCLI(t, "mx", "test.example", "--resolver", srv.Addr(), "--smtp", "--smtp-port", port, "--format", "json")
	rep := decodeMXReport(t, out)
	st, data := rep.check("smtp")
	if st != "warn" || !rep.has("smtp.cert-untrusted") {
		t.Fatalf("smtp %s findings %+v", st, rep.Findings)
	}
	var d struct {
		Port  int `json:"port"`
		Hosts []struct {
			Name   string `json:"name"`
			Probes []struct {
				Greeting struct {
					Code int `json:"code"`
				} `json:"greeting"`
				Extensions []string `json:"extensions"`
				TLS        struct {
					Version string `json:"version"`
					Chain   []struct {
						SPKI string `json:"spki_sha256"`
					} `json:"chain"`
				} `json:"tls"`
			} `json:"probes"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Hosts) != 1 || len(d.Hosts[0].Probes) != 1 || d.Hosts[0].Probes[0].Greeting.Code != 220 ||
		d.Hosts[0].Probes[0].TLS.Version != "TLS 1.3" || len(d.Hosts[0].Probes[0].TLS.Chain[0].SPKI) != 64 {
		t.Errorf("smtp data %s", data)
	}
	smtpSrv.Log.AssertNoData(t)

	// check --smtp --smtp-port runs the same check.
	out, _, _ = runCLI(t, "check", "test.example", "--resolver", srv.Addr(), "--smtp", "--smtp-port", port, "--checks", "smtp", "--format", "json")
	if st, _ := decodeMXReport(t, out).check("smtp"); st != "warn" {
		t.Errorf("check --smtp: %s", out)
	}
}

func TestMXCommandHostileBanner(t *testing.T) {
	srv := dnstest.Start(t, mxCLIZone)
	evil := smtptest.StartScripted(t, func(c net.Conn, r *bufio.Reader, lg *smtptest.CommandLog) {
		io.WriteString(c, "220-mx \x1b[2J\x1b]0;owned\x07 ESMTP\r\n220 \x9b31m red\r\n")
		smtptest.ServeCommands(c, r, lg, map[string]string{"EHLO": "250-mx\r\n250 X-\x1b[5mBLINK\r\n"})
	})
	for _, format := range []string{"text", "json"} {
		out, _, _ := runCLI(t, "mx", "test.example", "--resolver", srv.Addr(), "--smtp", "--smtp-port", fmt.Sprint(evil.Addr.Port()), "--format", format, "-v")
		if strings.ContainsAny(out, "\x1b\x07") || strings.Contains(out, "\u009b") {
			t.Errorf("%s: terminal control reached the output: %q", format, out)
		}
		if format == "text" && !strings.Contains(out, `\x1b[2J`) {
			t.Errorf("escaped banner not shown: %s", out)
		}
	}
	evil.Log.AssertNoData(t)
}

func TestMXCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"mx", "192.0.2.1"},
		{"mx", "exa mple.com"},
		{"mx", "example.com", "--smtp-port", "0"},
		{"mx", "example.com", "--probe-timeout", "0s"},
		{"mx"},
		{"check", "example.com", "--smtp-port", "70000"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
