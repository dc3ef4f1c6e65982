package main

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

// engineZone holds the cases where single-check commands once computed
// their own answers and disagreed with "check": a p=reject domain without
// SPF (dmarc.cannot-align, which needs the DKIM discovery), a DANE-only
// domain (TLS-RPT expectations from MTA-STS and DANE), and ordinary good
// and broken domains for every other check.
const engineZone = `
good.example.              300 IN MX 10 mx.good.example.
good.example.              300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.good.example.       300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@good.example"
_smtp._tls.good.example.   300 IN TXT "v=TLSRPTv1; rua=mailto:tls@good.example"
mx.good.example.           300 IN A 192.0.2.10
10.2.0.192.in-addr.arpa.   300 IN PTR mx.good.example.
nospf.example.             300 IN A 192.0.2.1
_dmarc.nospf.example.      300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@nospf.example"
loose.example.             300 IN MX 10 mx.loose.example.
loose.example.             300 IN TXT "v=spf1 +all"
loose.example.             300 IN TXT "v=spf1 include:gone.example ~all"
_dmarc.loose.example.      300 IN TXT "v=DMARC1; p=none; pct=50"
mx.loose.example.          300 IN A 10.0.0.1
dane.example.              300 IN MX 10 mx.dane.example.
mx.dane.example.           300 IN A 192.0.2.20
_25._tcp.mx.dane.example.  300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
nullmx.example.            300 IN MX 0 .
25.2.0.192.bl.test.        300 IN A 127.0.0.2
25.2.0.192.bl.test.        300 IN TXT "listed: see https://bl.test/"
2.0.0.127.bl.test.         300 IN A 127.0.0.2
`

// engineView is what must be equal between a single-check command and
// "check --checks": every finding's identity, weight, words and codes, and
// every check's status.
type engineView struct {
	Findings []string
	Statuses map[string]string
}

type engineFinding struct {
	ID          string   `json:"id"`
	Check       string   `json:"check"`
	Severity    string   `json:"severity"`
	Title       string   `json:"title"`
	BounceCodes []string `json:"bounce_codes"`
}

func (f engineFinding) key() string {
	return fmt.Sprintf("%s %s %s %q %v", f.Check, f.ID, f.Severity, f.Title, f.BounceCodes)
}

// viewOf reads a command's JSON document: a report ("checks" with their
// statuses) or a command's own document (one check's "status"). name is
// that one check.
func viewOf(t *testing.T, out, name string) engineView {
	t.Helper()
	var doc struct {
		Status   string          `json:"status"`
		Findings []engineFinding `json:"findings"`
		Checks   []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	v := engineView{Findings: []string{}, Statuses: map[string]string{}}
	for _, f := range doc.Findings {
		if f.Check == "" {
			f.Check = name
		}
		v.Findings = append(v.Findings, f.key())
	}
	sort.Strings(v.Findings)
	if doc.Checks != nil {
		for _, c := range doc.Checks {
			v.Statuses[c.Name] = c.Status
		}
	} else {
		v.Statuses[name] = doc.Status
	}
	return v
}

func TestSingleCheckCommandsAgreeWithCheck(t *testing.T) {
	srv := dnstest.Start(t, engineZone)
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("_dmarc.servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	r := "--resolver=" + srv.Addr()
	domains := []string{"good.example", "nospf.example", "loose.example", "dane.example", "nullmx.example", "missing.example", "servfail.example"}
	type cmdCase struct {
		cmd    []string // the single-check command, before the target
		checks string   // the same selection for check --checks
		name   string   // the check a command's own document describes
		extra  []string // flags both get
	}
	cases := []cmdCase{
		{cmd: []string{"mx"}, checks: "mx,ptr"},
		{cmd: []string{"spf"}, checks: "spf", name: "spf"},
		{cmd: []string{"dmarc"}, checks: "dmarc", name: "dmarc"},
		{cmd: []string{"dmarc"}, checks: "dmarc", name: "dmarc", extra: []string{"--ip", "192.0.2.25", "--mail-from", "b@good.example", "--dkim-domain", "good.example"}},
		{cmd: []string{"dkim"}, checks: "dkim", extra: []string{"--selector", "s1"}},
		{cmd: []string{"mta-sts"}, checks: "mta-sts,tls-rpt", extra: []string{"--probe-timeout", "2s"}},
		{cmd: []string{"rbl"}, checks: "rbl", name: "rbl", extra: []string{"--dnsbl", "bl.test"}},
	}
	for _, c := range cases {
		for _, d := range domains {
			t.Run(strings.Join(append(append(append([]string{}, c.cmd...), d), c.extra...), " "), func(t *testing.T) {
				t.Parallel()
				single := append(append(append([]string{}, c.cmd...), d, r, "--format", "json"), c.extra...)
				out, stderr, code := runCLI(t, single...)
				both := append([]string{"check", d, r, "--format", "json", "--checks", c.checks}, c.extra...)
				cout, cerr, ccode := runCLI(t, both...)
				if code != ccode {
					t.Errorf("exit %d, check --checks %s exits %d\n%s%s\n%s%s", code, c.checks, ccode, stderr, out, cerr, cout)
				}
				got := viewOf(t, out, c.name)
				want := viewOf(t, cout, c.name)
				if c.name != "" {
					want.Statuses = map[string]string{c.name: want.Statuses[c.name]}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%v\n  says %+v\ncheck --checks %s\n  says %+v", single, got, c.checks, want)
				}
			})
		}
	}
	// An IP target: ptr and rbl.
	for _, c := range []cmdCase{
		{cmd: []string{"ptr"}, checks: "ptr"},
		{cmd: []string{"rbl"}, checks: "rbl", name: "rbl", extra: []string{"--dnsbl", "bl.test"}},
	} {
		for _, ip := range []string{"192.0.2.10", "192.0.2.25", "[2001:db8::1]"} {
			t.Run(c.cmd[0]+" "+ip, func(t *testing.T) {
				t.Parallel()
				out, _, code := runCLI(t, append([]string{c.cmd[0], ip, r, "--format", "json"}, c.extra...)...)
				cout, _, ccode := runCLI(t, append([]string{"check", ip, r, "--format", "json", "--checks", c.checks}, c.extra...)...)
				if code != ccode {
					t.Errorf("exit %d, check exits %d", code, ccode)
				}
				got, want := viewOf(t, out, c.name), viewOf(t, cout, c.name)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s says %+v\ncheck says %+v", c.cmd[0], ip, got, want)
				}
			})
		}
	}
}

// TestEngineCaughtDisagreements pins the two disagreements that made single
// checks go through the orchestrator: they must stay fixed.
func TestEngineCaughtDisagreements(t *testing.T) {
	srv := dnstest.Start(t, engineZone)
	r := "--resolver=" + srv.Addr()
	out, _, _ := runCLI(t, "dmarc", "nospf.example", r, "--format", "json")
	var doc struct{ Findings []engineFinding }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range doc.Findings {
		if f.ID == "dmarc.cannot-align" {
			found = true
			if len(f.BounceCodes) == 0 {
				t.Errorf("dmarc.cannot-align without bounce codes: %+v", f)
			}
		}
	}
	if !found {
		t.Errorf("no dmarc.cannot-align for p=reject without SPF or DKIM:\n%s", out)
	}
}

// TestSenderIPOneRule: --ip means the same to every command that takes it.
func TestSenderIPOneRule(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{"fe80::1%eth0", "192.0.2", "example.com"} {
		for _, cmd := range []string{"check", "spf", "dmarc"} {
			_, stderr, code := runCLI(t, cmd, "example.com", "--offline", "--ip", ip)
			if code != 2 || !strings.Contains(stderr, "is not an IP address") {
				t.Errorf("%s --ip %s: exit %d, %s", cmd, ip, code, stderr)
			}
		}
	}
	for _, ip := range []string{"192.0.2.25", "[2001:db8::25]", "::ffff:192.0.2.25"} {
		for _, cmd := range []string{"check", "spf", "dmarc"} {
			if _, stderr, code := runCLI(t, cmd, "example.com", "--offline", "--ip", ip); code == 2 {
				t.Errorf("%s --ip %s: exit 2, %s", cmd, ip, stderr)
			}
		}
	}
}

// TestEmittedFindingsAreDeclared runs every check over the engine zone and
// asserts each finding's ID is declared (internal/findings/ids.txt) and
// each of its bounce codes is in the bounce knowledge base.
func TestEmittedFindingsAreDeclared(t *testing.T) {
	srv := dnstest.Start(t, engineZone)
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	r := "--resolver=" + srv.Addr()
	targets := []string{"good.example", "nospf.example", "loose.example", "dane.example", "nullmx.example",
		"missing.example", "servfail.example", "192.0.2.25", "192.0.2.10"}
	seen := 0
	for _, profile := range []string{"bulk", "gmail"} {
		for _, tg := range targets {
			out, _, _ := runCLI(t, "check", tg, r, "--format", "json", "--dnsbl", "bl.test", "--profile", profile,
				"--ip", "192.0.2.25", "--selector", "s1", "--probe-timeout", "2s")
			var doc struct{ Findings []engineFinding }
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%s: %v\n%s", tg, err, out)
			}
			for _, f := range doc.Findings {
				seen++
				if !findings.IsDeclared(f.ID) {
					t.Errorf("%s: %s is not declared in internal/findings/ids.txt", tg, f.ID)
				}
				for _, c := range f.BounceCodes {
					if !bounce.Known(c) {
						t.Errorf("%s: %s names bounce code %s, which the knowledge base does not know", tg, f.ID, c)
					}
				}
			}
		}
	}
	if seen < 20 {
		t.Errorf("only %d findings: the zone no longer exercises the checks", seen)
	}
}

// TestRelayAgreesWithCheck: "relay HOST" (the server itself) and "check
// HOST --relay --checks relay" (its mail hosts: for a name without MX the
// name itself, RFC 5321 5.1) probe the same server and must say the same,
// for an open relay, a closed one, one that asks for AUTH and one that is
// not listening; by name and by IP.
func TestRelayAgreesWithCheck(t *testing.T) {
	open := smtptest.StartSink(t, nil, nil)
	closed, _ := startClosedMTA(t)
	auth := smtptest.StartSink(t, nil, map[string]string{"u": "p"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	srv := dnstest.Start(t, `
open.relay.test.    300 IN A 127.0.0.1
closed.relay.test.  300 IN A 127.0.0.1
auth.relay.test.    300 IN A 127.0.0.1
down.relay.test.    300 IN A 127.0.0.1
`)
	r := "--resolver=" + srv.Addr()
	for _, c := range []struct{ name, addr string }{
		{"open.relay.test", open.Addr.String()}, {"closed.relay.test", closed},
		{"auth.relay.test", auth.Addr.String()}, {"down.relay.test", down},
	} {
		_, port, _ := net.SplitHostPort(c.addr)
		for _, host := range []string{c.name, "127.0.0.1"} {
			t.Run(host+":"+port, func(t *testing.T) {
				single := []string{"relay", net.JoinHostPort(host, port), r, "--format", "json", "--probe-timeout", "5s"}
				if host == c.name {
					single = append(single, "--domain", c.name) // check uses the checked domain
				}
				out, stderr, code := runCLI(t, single...)
				cout, cerr, ccode := runCLI(t, "check", host, r, "--format", "json", "--relay", "--checks", "relay",
					"--smtp-port", port, "--probe-timeout", "5s")
				if code != ccode {
					t.Errorf("exit %d, check --relay exits %d\n%s%s\n%s%s", code, ccode, stderr, out, cerr, cout)
				}
				got, want := viewOf(t, out, "relay"), viewOf(t, cout, "relay")
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%v\n  says %+v\ncheck --relay\n  says %+v", single, got, want)
				}
				if len(got.Findings) == 0 {
					t.Errorf("no findings: %s", out)
				}
			})
		}
	}
}

// TestAddressAgreesWithCheck: "address ADDR" and "check ADDR --checks
// address" are one check: the same findings (the address document keeps
// each finding's own check name, mx for the domain's, so that is left out
// of the comparison), status and exit code; with and without the RCPT
// probe. (check takes only addresses at a domain name; the address command
// also judges literals and malformed input, which check refuses as targets.)
func TestAddressAgreesWithCheck(t *testing.T) {
	sink := smtptest.StartSink(t, nil, nil) // accepts any recipient: a catch-all
	_, port, _ := net.SplitHostPort(sink.Addr.String())
	srv := dnstest.Start(t, engineZone+`
rcpt.example.     300 IN MX 10 mx.rcpt.example.
mx.rcpt.example.  300 IN A 127.0.0.1
`)
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	r := "--resolver=" + srv.Addr()
	strip := func(v engineView) engineView {
		for i, f := range v.Findings {
			v.Findings[i] = f[strings.IndexByte(f, ' ')+1:]
		}
		sort.Strings(v.Findings)
		return v
	}
	for _, c := range []struct {
		addr  string
		extra []string
	}{
		{"bob@good.example", nil}, {"bob@nullmx.example", nil}, {"bob@missing.example", nil},
		{"bob@servfail.example", nil}, {"a..b@good.example", nil}, {"\"John Doe\"@good.example", nil},
		{"bob@rcpt.example", []string{"--smtp", "--smtp-port", port}},
	} {
		t.Run(c.addr, func(t *testing.T) {
			t.Parallel()
			single := append([]string{"address", c.addr, r, "--format", "json"}, c.extra...)
			out, stderr, code := runCLI(t, single...)
			cout, cerr, ccode := runCLI(t, append([]string{"check", c.addr, r, "--format", "json", "--checks", "address"}, c.extra...)...)
			if code != ccode {
				t.Errorf("exit %d, check --checks address exits %d\n%s%s\n%s%s", code, ccode, stderr, out, cerr, cout)
			}
			got, want := strip(viewOf(t, out, "address")), strip(viewOf(t, cout, "address"))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%v\n  says %+v\ncheck --checks address\n  says %+v", single, got, want)
			}
		})
	}
}
