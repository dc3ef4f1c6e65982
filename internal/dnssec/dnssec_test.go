package dnssec

import (
	"context"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

const key = "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
const ds = "2BB183AF5F22588179A53B0A98631FAD1A292118F2D5C6B6A8B7C2F3A6B3D4E5"

const testZone = `
validated.example.      300 IN MX 10 mx.validated.example.
mx.validated.example.   300 IN A 192.0.2.10
validated.example.      300 IN DNSKEY 257 3 13 ` + key + `
validated.example.      300 IN DS 12345 13 2 ` + ds + `

hostunsigned.example.   300 IN MX 10 mx.hosted.example.
hostunsigned.example.   300 IN MX 20 mx2.hostunsigned.example.
mx.hosted.example.      300 IN A 192.0.2.11
mx2.hostunsigned.example. 300 IN A 192.0.2.12

nods.example.           300 IN MX 10 mx.nods.example.
mx.nods.example.        300 IN A 192.0.2.13
nods.example.           300 IN DNSKEY 257 3 13 ` + key + `

notvalidated.example.   300 IN MX 10 mx.notvalidated.example.
mx.notvalidated.example. 300 IN A 192.0.2.14
notvalidated.example.   300 IN DNSKEY 257 3 13 ` + key + `
notvalidated.example.   300 IN DS 12345 13 2 ` + ds + `

insecure.example.       300 IN MX 10 mx.elsewhere.example.
mx.elsewhere.example.   300 IN A 192.0.2.15
insecure.example.       300 IN DNSKEY 257 3 13 ` + key + `
insecure.example.       300 IN DS 12345 253 2 ` + ds + `

unsigned.example.       300 IN MX 10 mx.unsigned.example.
mx.unsigned.example.    300 IN A 192.0.2.16

unknown.example.        300 IN MX 10 mx.unknown.example.
mx.unknown.example.     300 IN A 192.0.2.17

hostfail.example.       300 IN MX 10 mx.hostfail.example.

zoned.example.          300 IN SOA ns.zoned.example. h.zoned.example. 1 3600 600 86400 300
zoned.example.          300 IN DNSKEY 257 3 13 ` + key + `
sub.zoned.example.      300 IN MX 10 mx.zoned.example.
mx.zoned.example.       300 IN A 192.0.2.18

signedparent.example.   300 IN SOA ns.signedparent.example. h.signedparent.example. 1 3600 600 86400 300
signedparent.example.   300 IN DNSKEY 257 3 13 ` + key + `
child.signedparent.example. 300 IN SOA ns.signedparent.example. h.signedparent.example. 1 3600 600 86400 300
child.signedparent.example. 300 IN MX 10 mx.child.signedparent.example.
mx.child.signedparent.example. 300 IN A 192.0.2.19
`

func TestCheck(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	// A validating resolver sets AD on what validates, including a
	// validated "no DS here" answer from a signed parent.
	for _, n := range []string{"validated.example", "mx.validated.example", "hostunsigned.example", "mx2.hostunsigned.example", "mx.elsewhere.example"} {
		srv.Set(n, dnstest.Behavior{AD: true})
	}
	srv.Set("nods.example", dnstest.Behavior{AD: true, Types: []uint16{dns.TypeDS}})
	srv.Set("unsigned.example", dnstest.Behavior{AD: true, Types: []uint16{dns.TypeDS}})
	srv.Set("child.signedparent.example", dnstest.Behavior{AD: true, Types: []uint16{dns.TypeDS}})
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("mx.hostfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)

	tests := []struct {
		domain  string
		status  findings.Status
		ids     string
		summary string
		check   func(t *testing.T, r *Result)
	}{
		{domain: "validated.example", status: findings.StatusPass, summary: "validated (AD); 1/1 MX hosts validated",
			check: func(t *testing.T, r *Result) {
				if !r.Validated || !r.Signed || !r.DS || !r.ResolverValidates || len(r.Answers) != 4 || !r.Hosts[0].Validated {
					t.Errorf("%+v", r)
				}
			}},
		{domain: "hostunsigned.example", status: findings.StatusPass, ids: "dnssec.mx-host-unsigned", summary: "validated (AD); 1/2 MX hosts validated",
			check: func(t *testing.T, r *Result) {
				if f := r.Findings[0]; !strings.Contains(f.Title, "mx.hosted.example") || strings.Contains(f.Title, "mx2.") {
					t.Errorf("title: %s", f.Title)
				}
			}},
		{domain: "nods.example", status: findings.StatusWarn, ids: "dnssec.no-ds"},
		{domain: "notvalidated.example", status: findings.StatusWarn, ids: "dnssec.not-validated"},
		{domain: "insecure.example", status: findings.StatusWarn, ids: "dnssec.insecure"},
		{domain: "unsigned.example", status: findings.StatusPass, ids: "dnssec.unsigned", summary: "not signed"},
		{domain: "unknown.example", status: findings.StatusSkip, ids: "dnssec.unknown"},
		{domain: "servfail.example", status: findings.StatusError, ids: "dnssec.dns-error",
			check: func(t *testing.T, r *Result) {
				if f := r.Findings[0]; len(f.BounceCodes) == 0 || !strings.Contains(f.Detail, "SERVFAIL") {
					t.Errorf("%+v", f)
				}
			}},
		{domain: "hostfail.example", status: findings.StatusError, ids: "dnssec.dns-error,dnssec.unknown"},
		// A name inside a signed zone: the zone's DNSKEY counts.
		{domain: "sub.zoned.example", status: findings.StatusWarn, ids: "dnssec.not-validated",
			check: func(t *testing.T, r *Result) {
				if r.Zone != "zoned.example" || !r.Signed {
					t.Errorf("zone %q signed %v", r.Zone, r.Signed)
				}
			}},
		// An unsigned zone below a signed parent: the parent's DNSKEY does
		// not make it signed.
		{domain: "child.signedparent.example", status: findings.StatusPass, ids: "dnssec.unsigned",
			check: func(t *testing.T, r *Result) {
				if r.Zone != "child.signedparent.example" || r.Signed {
					t.Errorf("zone %q signed %v", r.Zone, r.Signed)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			r := Check(context.Background(), c, tc.domain)
			cr := r.CheckResult()
			var ids []string
			for _, f := range cr.Findings {
				ids = append(ids, f.ID)
				if f.Severity != findings.SeverityError && !strings.Contains(f.Detail, "AD bit") {
					t.Errorf("%s: detail does not explain what the AD bit is worth", f.ID)
				}
			}
			if cr.Status != tc.status || strings.Join(ids, ",") != tc.ids {
				t.Fatalf("got %s %v %q, want %s %s", cr.Status, ids, cr.Summary, tc.status, tc.ids)
			}
			if tc.summary != "" && cr.Summary != tc.summary {
				t.Errorf("summary %q, want %q", cr.Summary, tc.summary)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	// Each question is asked once, even for duplicate MX hosts.
	if n := srv.Count("mx.validated.example", dns.TypeA); n != 1 {
		t.Errorf("mx.validated.example A asked %d times", n)
	}
}

// Zone-file answers (--zone) are never validated: skip, not "unsigned".
func TestCheckZoneAndOffline(t *testing.T) {
	store := zone.NewStore(false)
	if err := store.LoadString("example.com. 300 IN MX 10 mx.example.com.\nmx.example.com. 300 IN A 192.0.2.1\n", "example.com."); err != nil {
		t.Fatal(err)
	}
	c, err := dnsx.New(dnsx.Config{Zones: store, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	for domain, want := range map[string]string{
		"example.com": "--zone file",
		"example.org": "--offline",
	} {
		cr := Check(context.Background(), c, domain).CheckResult()
		if cr.Status != findings.StatusSkip || !strings.Contains(cr.Summary, want) || len(cr.Findings) != 0 {
			t.Errorf("%s: %s %q %v", domain, cr.Status, cr.Summary, cr.Findings)
		}
	}
}
