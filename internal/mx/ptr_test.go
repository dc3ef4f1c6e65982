package mx

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const ptrZone = `
25.2.0.192.in-addr.arpa. 300 IN PTR mx1.example.com.
mx1.example.com.         300 IN A   192.0.2.25
26.2.0.192.in-addr.arpa. 300 IN PTR mx2.example.com.
mx2.example.com.         300 IN A   192.0.2.99
27.2.0.192.in-addr.arpa. 300 IN PTR ghost.example.com.
28.2.0.192.in-addr.arpa. 300 IN PTR 192-0-2-28.dyn.isp.example.
192-0-2-28.dyn.isp.example. 300 IN A 192.0.2.28
29.2.0.192.in-addr.arpa. 300 IN PTR a.example.com.
29.2.0.192.in-addr.arpa. 300 IN PTR b.example.com.
a.example.com.           300 IN A   192.0.2.29
b.example.com.           300 IN A   192.0.2.129
31.2.0.192.in-addr.arpa. 300 IN PTR slow.example.com.
33.2.0.192.in-addr.arpa. 300 IN TXT "no PTR here"
34.2.0.192.in-addr.arpa. 300 IN PTR bad\032name.example.com.
35.2.0.192.in-addr.arpa. 300 IN CNAME 35.32/27.2.0.192.in-addr.arpa.
35.32/27.2.0.192.in-addr.arpa. 300 IN PTR classless.example.com.
classless.example.com.   300 IN A 192.0.2.35

; IPv6, nibble names written out (RFC 3596 2.5)
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR mx6.example.com.
mx6.example.com.         300 IN AAAA 2001:db8::25
mx6.example.com.         300 IN A    192.0.2.25
6.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR 2001-db8-0-0-0-0-0-26.dyn.isp.example.
2001-db8-0-0-0-0-0-26.dyn.isp.example. 300 IN AAAA 2001:db8::26
8.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR v4only.example.com.
v4only.example.com.      300 IN A 192.0.2.28

sender.example.          300 IN MX 10 mx2.example.com.
sender.example.          300 IN MX 20 mx1.example.com.
`

func TestCheckPTR(t *testing.T) {
	srv := dnstest.Start(t, ptrZone)
	srv.Set("30.2.0.192.in-addr.arpa", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("slow.example.com", dnstest.Behavior{Drop: true})
	c := srv.Client(t)
	tests := []struct {
		ip     string
		status findings.Status
		ids    []string
		fcrdns bool
		check  func(t *testing.T, r *PTRResult)
	}{
		{"192.0.2.25", findings.StatusPass, nil, true, func(t *testing.T, r *PTRResult) {
			if r.ReverseName != "25.2.0.192.in-addr.arpa" || len(r.Names) != 1 || r.Names[0].Name != "mx1.example.com" || !r.Names[0].Confirmed {
				t.Errorf("%+v", r)
			}
		}},
		{"192.0.2.26", findings.StatusFail, []string{"ptr.not-fcrdns"}, false, func(t *testing.T, r *PTRResult) {
			f := find(r.Findings, "ptr.not-fcrdns")
			if !strings.Contains(strings.Join(f.Evidence, "|"), "mx2.example.com A 192.0.2.99 (not 192.0.2.26)") || !strings.Contains(f.Fix, "mx2.example.com. A 192.0.2.26") {
				t.Errorf("evidence %q fix %q", f.Evidence, f.Fix)
			}
			if f.BounceCodes[0] != "5.7.25" {
				t.Errorf("codes %q", f.BounceCodes)
			}
		}},
		{"192.0.2.27", findings.StatusFail, []string{"ptr.not-fcrdns"}, false, func(t *testing.T, r *PTRResult) {
			if r.Names[0].Status != PTRNXDomain {
				t.Errorf("forward status %q", r.Names[0].Status)
			}
		}},
		{"192.0.2.28", findings.StatusWarn, []string{"ptr.generic"}, true, nil},
		{"192.0.2.29", findings.StatusPass, []string{"ptr.multiple"}, true, func(t *testing.T, r *PTRResult) {
			if len(r.Names) != 2 || !r.Names[0].Confirmed || r.Names[1].Confirmed {
				t.Errorf("names %+v", r.Names)
			}
		}},
		{"192.0.2.30", findings.StatusError, []string{"ptr.dns-error"}, false, nil},
		{"192.0.2.31", findings.StatusError, []string{"ptr.dns-error"}, false, nil},
		{"192.0.2.32", findings.StatusFail, []string{"ptr.missing"}, false, func(t *testing.T, r *PTRResult) {
			if r.Status != PTRNXDomain || !strings.Contains(r.Findings[0].Fix, "32.2.0.192.in-addr.arpa. PTR") {
				t.Errorf("status %q fix %q", r.Status, r.Findings[0].Fix)
			}
		}},
		{"192.0.2.33", findings.StatusFail, []string{"ptr.missing"}, false, func(t *testing.T, r *PTRResult) {
			if r.Status != PTRNoData {
				t.Errorf("status %q", r.Status)
			}
		}},
		{"192.0.2.34", findings.StatusFail, []string{"ptr.not-fcrdns"}, false, func(t *testing.T, r *PTRResult) {
			if r.Names[0].Status != PTRInvalid {
				t.Errorf("names %+v", r.Names)
			}
		}},
		{"192.0.2.35", findings.StatusPass, nil, true, nil}, // RFC 2317 classless delegation via CNAME
		{"2001:db8::25", findings.StatusPass, nil, true, func(t *testing.T, r *PTRResult) {
			if r.ReverseName != "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa" {
				t.Errorf("reverse name %q", r.ReverseName)
			}
			if slices.Contains(r.Names[0].Addrs, netip.MustParseAddr("192.0.2.25")) {
				t.Errorf("IPv6 FCrDNS looked at A records: %v", r.Names[0].Addrs)
			}
		}},
		{"2001:db8::26", findings.StatusWarn, []string{"ptr.generic"}, true, nil},
		{"2001:db8::27", findings.StatusFail, []string{"ptr.missing"}, false, func(t *testing.T, r *PTRResult) {
			if !slices.Contains(r.Findings[0].BounceCodes, "4.7.25") || !strings.Contains(r.Findings[0].Detail, "IPv6") {
				t.Errorf("IPv6 missing PTR: %+v", r.Findings[0])
			}
		}},
		{"2001:db8::28", findings.StatusFail, []string{"ptr.not-fcrdns"}, false, nil}, // only an A record: not the IPv6's family
		{"::ffff:192.0.2.25", findings.StatusPass, nil, true, nil},
		{"10.9.8.7", findings.StatusSkip, []string{"ptr.unroutable"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			r := CheckPTR(context.Background(), c, netip.MustParseAddr(tt.ip))
			cr := (&PTRCheck{Addresses: []*PTRResult{r}}).CheckResult()
			got := ids(r.Findings)
			if !slices.Equal(got, tt.ids) {
				t.Fatalf("findings %q, want %q", got, tt.ids)
			}
			if cr.Status != tt.status || r.FCrDNS != tt.fcrdns {
				t.Errorf("status %s fcrdns %v, want %s %v (%s)", cr.Status, r.FCrDNS, tt.status, tt.fcrdns, cr.Summary)
			}
			for _, f := range r.Findings {
				if f.Check != "ptr" || (f.Severity == findings.SeverityFail && len(f.BounceCodes) == 0) {
					t.Errorf("finding %+v", f)
				}
			}
			if tt.status == findings.StatusError && find(r.Findings, "ptr.missing") != nil {
				t.Error("DNS failure reported as missing PTR")
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestPTRsForDomain(t *testing.T) {
	srv := dnstest.Start(t, ptrZone)
	c := srv.Client(t)
	an := Analyze(context.Background(), c, "sender.example")
	pc := PTRsForDomain(context.Background(), c, an, netip.MustParseAddr("192.0.2.32"))
	cr := pc.CheckResult()
	if len(pc.Addresses) != 3 {
		t.Fatalf("addresses %+v", pc.Addresses)
	}
	if a := pc.Addresses[0]; a.Role != RoleSender || a.IP.String() != "192.0.2.32" {
		t.Errorf("first is the sending IP: %+v", a)
	}
	if a := pc.Addresses[1]; a.Role != RoleMXHost || a.Host != "mx2.example.com" || a.IP.String() != "192.0.2.99" {
		t.Errorf("second is mx2: %+v", a)
	}
	sev := map[string]findings.Severity{}
	for _, f := range cr.Findings {
		sev[f.Title] = f.Severity
	}
	var sender, mxhost *findings.Finding
	for i, f := range cr.Findings {
		if f.ID == "ptr.missing" && strings.HasPrefix(f.Title, "192.0.2.32") {
			sender = &cr.Findings[i]
		}
		if f.ID == "ptr.missing" && strings.HasPrefix(f.Title, "MX host mx2.example.com: ") {
			mxhost = &cr.Findings[i]
		}
	}
	if sender == nil || sender.Severity != findings.SeverityFail {
		t.Errorf("sending IP without PTR: %+v", sender)
	}
	if mxhost == nil || mxhost.Severity != findings.SeverityWarn || !strings.Contains(mxhost.Detail, "also sends mail") {
		t.Errorf("MX host without PTR is a warning: %+v", mxhost)
	}
	if cr.Status != findings.StatusFail || !strings.Contains(cr.Summary, "sending IP and 3 address(es)") {
		t.Errorf("status %s summary %q", cr.Status, cr.Summary)
	}

	// Without --ip only MX hosts: the worst is a warning.
	cr = PTRsForDomain(context.Background(), c, an, netip.Addr{}).CheckResult()
	if cr.Status != findings.StatusWarn || !strings.Contains(cr.Summary, "often also the outbound servers") {
		t.Errorf("status %s summary %q", cr.Status, cr.Summary)
	}
	// Null MX and missing domains have nothing to check.
	an = Analyze(context.Background(), c, "missing.example")
	if cr := PTRsForDomain(context.Background(), c, an, netip.Addr{}).CheckResult(); cr.Status != findings.StatusSkip {
		t.Errorf("status %s", cr.Status)
	}
}

func TestCheckPTROffline(t *testing.T) {
	c := offlineClient(t, `
$ORIGIN 2.0.192.in-addr.arpa.
@  300 IN SOA ns.example.com. h.example.com. 1 7200 3600 1209600 300
25 300 IN PTR mx1.example.com.
`, "2.0.192.in-addr.arpa.")
	r := CheckPTR(context.Background(), c, netip.MustParseAddr("198.51.100.1"))
	if r.Status != PTROffline || find(r.Findings, "ptr.missing") != nil {
		t.Errorf("reverse zone not loaded: %+v", r)
	}
	r = CheckPTR(context.Background(), c, netip.MustParseAddr("192.0.2.25"))
	if find(r.Findings, "ptr.not-checked") == nil || find(r.Findings, "ptr.not-fcrdns") != nil {
		t.Errorf("forward zone not loaded: %q", ids(r.Findings))
	}
	if cr := (&PTRCheck{Addresses: []*PTRResult{r}}).CheckResult(); cr.Status != findings.StatusSkip {
		t.Errorf("status %s", cr.Status)
	}
}
