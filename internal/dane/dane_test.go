package dane

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

func TestCheck(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf1 := chainOf(t, ca.Issue(t, testpki.Leaf{Names: []string{"mx1.good.example"}}))
	leaf2 := chainOf(t, ca.Issue(t, testpki.Leaf{Names: []string{"mx2.good.example"}}))
	renewed := chainOf(t, ca.Issue(t, testpki.Leaf{Names: []string{"mx1.good.example"}}))
	r1 := RecordFor(leaf1[0], 3, 1, 1).String()
	r2 := RecordFor(leaf2[0], 3, 1, 1).String()
	rTA := RecordFor(ca.Cert, 2, 0, 1).String()

	zone := `
good.example.          300 IN MX 10 mx1.good.example.
good.example.          300 IN MX 20 mx2.good.example.
_25._tcp.mx1.good.example. 300 IN TLSA ` + r1 + `
_25._tcp.mx2.good.example. 300 IN TLSA ` + rTA + `
_25._tcp.mx2.good.example. 300 IN TLSA ` + r2 + `

partial.example.       300 IN MX 10 mx1.good.example.
partial.example.       300 IN MX 20 mx.other.example.
mx.other.example.      300 IN A 192.0.2.1

unvalidated.example.   300 IN MX 10 mx.unvalidated.example.
_25._tcp.mx.unvalidated.example. 300 IN TLSA ` + r1 + `

pkix.example.          300 IN MX 10 mx.pkix.example.
_25._tcp.mx.pkix.example. 300 IN TLSA 1 1 1 ` + strings.Repeat("ab", 32) + `

broken.example.        300 IN MX 10 mx.broken.example.
_25._tcp.mx.broken.example. 300 IN TLSA 3 1 1 abcdef
_25._tcp.mx.broken.example. 300 IN TLSA ` + r1 + `

none.example.          300 IN MX 10 mx.none.example.
mx.none.example.       300 IN A 192.0.2.2

implicit.example.      300 IN A 192.0.2.3
_25._tcp.implicit.example. 300 IN TLSA ` + r1 + `

nullmx.example.        300 IN MX 0 .

insecuremx.example.    300 IN MX 10 mx1.good.example.

tlsafail.example.      300 IN MX 10 mx.tlsafail.example.
`
	srv := dnstest.Start(t, zone)
	for _, n := range []string{"good.example", "_25._tcp.mx1.good.example", "_25._tcp.mx2.good.example", "partial.example",
		"unvalidated.example", "pkix.example", "_25._tcp.mx.pkix.example", "broken.example", "_25._tcp.mx.broken.example",
		"implicit.example", "_25._tcp.implicit.example"} {
		srv.Set(n, dnstest.Behavior{AD: true})
	}
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("_25._tcp.mx.tlsafail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)

	probe := func(chains map[string]ProbeResult) func(context.Context, string) ProbeResult {
		return func(_ context.Context, host string) ProbeResult {
			if r, ok := chains[host]; ok {
				return r
			}
			return ProbeResult{Err: errors.New("connection refused")}
		}
	}
	good := map[string]ProbeResult{"mx1.good.example": {Chain: leaf1}, "mx2.good.example": {Chain: leaf2}}
	tests := []struct {
		name    string
		domain  string
		probe   map[string]ProbeResult
		status  findings.Status
		ids     string
		summary string
	}{
		{name: "good", domain: "good.example", status: findings.StatusPass, summary: "TLSA on 2/2 MX hosts"},
		{name: "good probed", domain: "good.example", probe: good, status: findings.StatusPass, summary: "TLSA on 2/2 MX hosts; certificate matches on 2/2 probed"},
		{name: "renewed key", domain: "good.example", probe: map[string]ProbeResult{"mx1.good.example": {Chain: renewed}, "mx2.good.example": {Chain: leaf2}},
			status: findings.StatusFail, ids: "dane.mismatch"},
		{name: "DANE-TA still matches a renewed leaf", domain: "good.example", probe: map[string]ProbeResult{"mx1.good.example": {Chain: leaf1}, "mx2.good.example": {Chain: chainOf(t, ca.Issue(t, testpki.Leaf{Names: []string{"mx2.good.example"}}))}},
			status: findings.StatusPass},
		{name: "no starttls", domain: "good.example", probe: map[string]ProbeResult{"mx1.good.example": {NoSTARTTLS: true}, "mx2.good.example": {Chain: leaf2}},
			status: findings.StatusFail, ids: "dane.no-starttls"},
		{name: "probe error", domain: "good.example", probe: map[string]ProbeResult{"mx2.good.example": {Chain: leaf2}},
			status: findings.StatusError, ids: "dane.probe-error", summary: "TLSA on 2/2 MX hosts; certificate matches on 1/1 probed"},
		{name: "partial", domain: "partial.example", status: findings.StatusWarn, ids: "dane.partial"},
		{name: "unvalidated", domain: "unvalidated.example", status: findings.StatusWarn, ids: "dane.tlsa-not-validated"},
		{name: "unvalidated mismatch is a warning", domain: "unvalidated.example", probe: map[string]ProbeResult{"mx.unvalidated.example": {Chain: renewed}},
			status: findings.StatusWarn, ids: "dane.tlsa-not-validated,dane.mismatch"},
		{name: "insecure mx", domain: "insecuremx.example", status: findings.StatusWarn, ids: "dane.mx-not-validated"},
		{name: "pkix", domain: "pkix.example", status: findings.StatusWarn, ids: "dane.pkix-usage"},
		{name: "pkix with probe: no usable record, no mismatch", domain: "pkix.example", probe: map[string]ProbeResult{"mx.pkix.example": {Chain: leaf1}}, status: findings.StatusWarn, ids: "dane.pkix-usage"},
		{name: "broken record", domain: "broken.example", status: findings.StatusWarn, ids: "dane.unusable-record"},
		{name: "none", domain: "none.example", status: findings.StatusPass, ids: "dane.none", summary: "no TLSA records (DANE not used)"},
		{name: "implicit mx", domain: "implicit.example", status: findings.StatusPass, summary: "TLSA on 1/1 MX hosts"},
		{name: "null mx", domain: "nullmx.example", status: findings.StatusSkip},
		{name: "nxdomain", domain: "nxdomain.example", status: findings.StatusSkip},
		{name: "mx servfail", domain: "servfail.example", status: findings.StatusError, ids: "dane.dns-error"},
		{name: "tlsa servfail", domain: "tlsafail.example", status: findings.StatusError, ids: "dane.dns-error", summary: "could not be determined: DNS lookups failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			if tc.probe != nil {
				o.Probe = probe(tc.probe)
			}
			r := Check(context.Background(), c, tc.domain, o)
			cr := r.CheckResult()
			var ids []string
			for _, f := range cr.Findings {
				ids = append(ids, f.ID)
			}
			if cr.Status != tc.status || strings.Join(ids, ",") != tc.ids {
				t.Fatalf("got %s %v %q; want %s %s\n%+v", cr.Status, ids, cr.Summary, tc.status, tc.ids, cr.Findings)
			}
			if tc.summary != "" && cr.Summary != tc.summary {
				t.Errorf("summary %q, want %q", cr.Summary, tc.summary)
			}
		})
	}

	// The mismatch names the record to publish and the bounce it causes.
	r := Check(context.Background(), c, "good.example", Options{Probe: probe(map[string]ProbeResult{"mx1.good.example": {Chain: renewed}, "mx2.good.example": {Chain: leaf2}})})
	f := r.Findings[0]
	if want := RecordFor(renewed[0], 3, 1, 1).String(); !strings.Contains(f.Detail, want) || f.BounceCodes[0] != "4.7.5" || !strings.Contains(f.Title, "mx1.good.example") {
		t.Errorf("mismatch finding: %+v", f)
	}
	// The probe is used only for hosts with TLSA records.
	asked := map[string]bool{}
	Check(context.Background(), c, "partial.example", Options{Probe: func(_ context.Context, h string) ProbeResult {
		asked[h] = true
		return ProbeResult{Chain: []*x509.Certificate{leaf1[0]}}
	}})
	if !asked["mx1.good.example"] || asked["mx.other.example"] {
		t.Errorf("probed %v", asked)
	}
}

func TestCheckOffline(t *testing.T) {
	c, err := dnsx.New(dnsx.Config{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if cr := Check(context.Background(), c, "example.org", Options{}).CheckResult(); cr.Status != findings.StatusSkip || len(cr.Findings) != 0 {
		t.Fatalf("got %s %q %v", cr.Status, cr.Summary, cr.Findings)
	}
}

// The whole path with --smtp: a real SMTP server on 127.0.0.1 with
// STARTTLS, probed by the mx package's probe, compared with TLSA records.
func TestCheckSMTPProbe(t *testing.T) {
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"mx.real.example"}})
	withTLS := smtptest.Start(t, &cert, nil)
	plain := smtptest.Start(t, nil, nil)
	zone := `
real.example.      300 IN MX 10 mx.real.example.
mx.real.example.   300 IN A 127.0.0.1
_25._tcp.mx.real.example. 300 IN TLSA ` + RecordFor(cert.Leaf, 3, 1, 1).String() + `
`
	srv := dnstest.Start(t, zone)
	srv.Set("real.example", dnstest.Behavior{AD: true})
	srv.Set("_25._tcp.mx.real.example", dnstest.Behavior{AD: true})
	c := srv.Client(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	for _, tc := range []struct {
		name   string
		port   int
		status findings.Status
		ids    string
	}{
		{"match", int(withTLS.Addr.Port()), findings.StatusPass, ""},
		{"no starttls", int(plain.Addr.Port()), findings.StatusFail, "dane.no-starttls"},
		{"refused", closedPort, findings.StatusError, "dane.probe-error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := SMTPProbe(c, tc.port, smtpprobe.Options{Timeout: 5 * time.Second, HELO: "probe.example"})
			cr := Check(context.Background(), c, "real.example", Options{Probe: probe}).CheckResult()
			var ids []string
			for _, f := range cr.Findings {
				ids = append(ids, f.ID)
			}
			if cr.Status != tc.status || strings.Join(ids, ",") != tc.ids {
				t.Fatalf("got %s %v %q\n%+v", cr.Status, ids, cr.Summary, cr.Findings)
			}
		})
	}
	for _, srv := range []*smtptest.Server{withTLS, plain} {
		for _, cmd := range srv.Log.Lines() {
			if v := strings.ToUpper(cmd); strings.HasPrefix(v, "DATA") || strings.HasPrefix(v, "BDAT") || strings.HasPrefix(v, "MAIL") {
				t.Errorf("the probe sent %q", cmd)
			}
		}
	}
}
