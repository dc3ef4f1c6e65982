package mx

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

// Addresses in 203.0.114.0/24 and 2001:db9::/32 are not special-purpose,
// so only the scenarios that want mx.private-address get it.
const mxZone = `
good.example.        300 IN MX 10 mx1.good.example.
good.example.        300 IN MX 20 mx2.good.example.
mx1.good.example.    300 IN A    203.0.114.10
mx1.good.example.    300 IN AAAA 2001:db9::10
mx2.good.example.    300 IN A    203.0.114.11

implicit.example.    300 IN A    203.0.114.20
nomail.example.      300 IN TXT  "v=spf1 -all"
nullmx.example.      300 IN MX 0 .
nullmx10.example.    300 IN MX 10 .
mixed.example.       300 IN MX 0 .
mixed.example.       300 IN MX 10 mx1.good.example.

cname.example.       300 IN MX 10 alias.cname.example.
alias.cname.example. 300 IN CNAME mx1.good.example.

iplit.example.       300 IN MX 10 203.0.114.30.
origin.example.      300 IN MX 10 203.0.114.31.origin.example.
twice.example.       300 IN MX 10 mx.twice.example.twice.example.
gone.example.        300 IN MX 10 mx.nowhere.example.
halfgone.example.    300 IN MX 10 mx1.good.example.
halfgone.example.    300 IN MX 20 mx.nowhere.example.
nodatahost.example.  300 IN MX 10 txtonly.example.
txtonly.example.     300 IN TXT "no address here"
invalid.example.     300 IN MX 10 mx\032space.example.

private.example.     300 IN MX 10 mx.private.example.
mx.private.example.  300 IN A 10.1.2.3
loop.example.        300 IN MX 10 localhost.loop.example.
localhost.loop.example. 300 IN A 127.0.0.1
mixedpriv.example.   300 IN MX 10 mx.mixedpriv.example.
mx.mixedpriv.example. 300 IN A 203.0.114.40
mx.mixedpriv.example. 300 IN A 192.168.1.40

equal.example.       300 IN MX 10 mx1.good.example.
equal.example.       300 IN MX 10 mx2.good.example.
shared.example.      300 IN MX 10 mx1.good.example.
shared.example.      300 IN MX 20 backup.shared.example.
backup.shared.example. 300 IN A 203.0.114.10

servfail.example.    300 IN MX 10 mx1.good.example.
hostfail.example.    300 IN MX 10 mx.hostfail.example.
mx.hostfail.example. 300 IN A 203.0.114.50
partial.example.     300 IN MX 10 mx.partial.example.
mx.partial.example.  300 IN A 203.0.114.51
`

func ids(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func find(fs []findings.Finding, id string) *findings.Finding {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
}

func TestAnalyze(t *testing.T) {
	srv := dnstest.Start(t, mxZone)
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("mx.hostfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("mx.partial.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure, Types: []uint16{dns.TypeAAAA}})
	c := srv.Client(t)
	tests := []struct {
		domain   string
		status   findings.Status
		ids      []string // exactly these findings, in any order
		severity map[string]findings.Severity
		check    func(t *testing.T, r *Result)
	}{
		{"good.example", findings.StatusPass, nil, nil, func(t *testing.T, r *Result) {
			if len(r.Hosts) != 2 || r.Hosts[0].Name != "mx1.good.example" || r.Hosts[0].Preference != 10 || len(r.Hosts[0].Addrs) != 2 {
				t.Errorf("hosts %+v", r.Hosts)
			}
		}},
		{"missing.example", findings.StatusFail, []string{"mx.nxdomain"}, nil, func(t *testing.T, r *Result) {
			if r.Exists {
				t.Error("Exists for NXDOMAIN")
			}
		}},
		{"implicit.example", findings.StatusWarn, []string{"mx.implicit"}, nil, func(t *testing.T, r *Result) {
			if !r.Implicit || len(r.Hosts) != 1 || r.Hosts[0].Name != "implicit.example" {
				t.Errorf("implicit %v hosts %+v", r.Implicit, r.Hosts)
			}
		}},
		{"nomail.example", findings.StatusFail, []string{"mx.no-mail-host"}, nil, nil},
		{"nullmx.example", findings.StatusFail, []string{"mx.null-mx"}, nil, nil},
		{"nullmx10.example", findings.StatusFail, []string{"mx.null-mx"}, nil, func(t *testing.T, r *Result) {
			if !strings.Contains(r.Findings[0].Detail, "preference 10") {
				t.Errorf("detail %q", r.Findings[0].Detail)
			}
		}},
		{"mixed.example", findings.StatusFail, []string{"mx.null-mx-mixed"}, nil, nil},
		{"cname.example", findings.StatusFail, []string{"mx.target-cname"}, nil, func(t *testing.T, r *Result) {
			if r.Hosts[0].CNAME != "mx1.good.example" || len(r.Hosts[0].Addrs) == 0 {
				t.Errorf("host %+v", r.Hosts[0])
			}
		}},
		{"iplit.example", findings.StatusFail, []string{"mx.target-ip-literal"}, nil, nil},
		{"origin.example", findings.StatusFail, []string{"mx.target-unresolvable"}, nil, func(t *testing.T, r *Result) {
			if ev := strings.Join(r.Findings[0].Evidence, " "); !strings.Contains(ev, "203.0.114.31 with the zone origin appended") {
				t.Errorf("no trailing-dot hint: %q", ev)
			}
		}},
		{"twice.example", findings.StatusFail, []string{"mx.target-unresolvable"}, nil, func(t *testing.T, r *Result) {
			if ev := strings.Join(r.Findings[0].Evidence, " "); !strings.Contains(ev, "missing trailing dot") {
				t.Errorf("no trailing-dot hint: %q", ev)
			}
		}},
		{"gone.example", findings.StatusFail, []string{"mx.target-unresolvable"}, nil, nil},
		{"halfgone.example", findings.StatusWarn, []string{"mx.target-unresolvable"}, map[string]findings.Severity{"mx.target-unresolvable": findings.SeverityWarn}, nil},
		{"nodatahost.example", findings.StatusFail, []string{"mx.target-unresolvable"}, nil, func(t *testing.T, r *Result) {
			if r.Hosts[0].Status != HostNoData {
				t.Errorf("status %q", r.Hosts[0].Status)
			}
		}},
		{"invalid.example", findings.StatusFail, []string{"mx.target-invalid-name"}, nil, nil},
		{"private.example", findings.StatusWarn, []string{"mx.private-address"}, nil, func(t *testing.T, r *Result) {
			if f := r.Findings[0]; !strings.Contains(f.Title, "1 of 1 MX hosts resolve only") || !strings.Contains(f.Evidence[0], "(private)") {
				t.Errorf("finding %+v", f)
			}
		}},
		{"loop.example", findings.StatusWarn, []string{"mx.private-address"}, nil, func(t *testing.T, r *Result) {
			if !strings.Contains(r.Findings[0].Evidence[0], "loopback") {
				t.Errorf("evidence %q", r.Findings[0].Evidence)
			}
		}},
		{"mixedpriv.example", findings.StatusWarn, []string{"mx.private-address"}, nil, func(t *testing.T, r *Result) {
			if !strings.Contains(r.Findings[0].Title, "1 address(es)") {
				t.Errorf("title %q", r.Findings[0].Title)
			}
		}},
		{"equal.example", findings.StatusPass, []string{"mx.equal-preference"}, map[string]findings.Severity{"mx.equal-preference": findings.SeverityInfo}, nil},
		{"shared.example", findings.StatusPass, []string{"mx.shared-address"}, map[string]findings.Severity{"mx.shared-address": findings.SeverityInfo}, nil},
		{"servfail.example", findings.StatusError, []string{"mx.dns-error"}, nil, nil},
		{"hostfail.example", findings.StatusError, []string{"mx.dns-error"}, nil, nil},
		{"partial.example", findings.StatusWarn, []string{"mx.partial-dns-error"}, nil, func(t *testing.T, r *Result) {
			if r.Hosts[0].Status != HostOK || r.Hosts[0].PartialError == "" {
				t.Errorf("host %+v", r.Hosts[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			r := Analyze(context.Background(), c, tt.domain)
			cr := r.CheckResult()
			got := ids(r.Findings)
			slices.Sort(got)
			want := slices.Clone(tt.ids)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("findings %q, want %q", got, want)
			}
			if cr.Status != tt.status {
				t.Errorf("status %s, want %s (%s)", cr.Status, tt.status, cr.Summary)
			}
			for _, f := range r.Findings {
				if f.Check != "mx" || f.Title == "" {
					t.Errorf("finding %+v", f)
				}
				if want, ok := tt.severity[f.ID]; ok && f.Severity != want {
					t.Errorf("%s severity %s, want %s", f.ID, f.Severity, want)
				}
				if f.Severity == findings.SeverityFail && len(f.BounceCodes) == 0 {
					t.Errorf("%s: a failure without bounce codes", f.ID)
				}
			}
			if tt.status == findings.StatusError && (find(r.Findings, "mx.nxdomain") != nil || find(r.Findings, "mx.no-mail-host") != nil) {
				t.Error("a DNS failure reported as a missing record")
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestAnalyzeInvalidDomain(t *testing.T) {
	srv := dnstest.Start(t, mxZone)
	r := Analyze(context.Background(), srv.Client(t), "exa mple.com")
	if got := ids(r.Findings); !slices.Equal(got, []string{"mx.invalid-name"}) || r.CheckResult().Status != findings.StatusFail {
		t.Errorf("findings %q", got)
	}
	if srv.Total() != 0 {
		t.Errorf("an invalid name was sent to the DNS")
	}
}

func TestAnalyzeTooManyHosts(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "many.example. 300 IN MX %d mx%d.many.example.\nmx%d.many.example. 300 IN A 203.0.114.%d\n", i, i, i, i+1)
	}
	srv := dnstest.Start(t, b.String())
	r := Analyze(context.Background(), srv.Client(t), "many.example")
	if len(r.Hosts) != maxHosts || find(r.Findings, "mx.too-many") == nil {
		t.Fatalf("%d hosts, findings %q", len(r.Hosts), ids(r.Findings))
	}
	// The summary counts the records, not the hosts checked (issue 23.11:
	// "32 MX host(s)" for 200).
	if sum := r.CheckResult().Summary; !strings.HasPrefix(sum, "40 MX host(s), the first 32 checked") {
		t.Errorf("summary %q", sum)
	}
}

// TestAnalyzeConcurrentAndCached: host lookups run in parallel through the
// shared cache, so each (name, type) is asked once.
func TestAnalyzeAsksOnce(t *testing.T) {
	srv := dnstest.Start(t, mxZone)
	c := srv.Client(t)
	Analyze(context.Background(), c, "shared.example")
	Analyze(context.Background(), c, "equal.example")
	if n, once := srv.AskedOnce(c, "mx1.good.example", dns.TypeA); !once {
		t.Errorf("mx1.good.example A asked %d times", n)
	}
}

func offlineClient(t *testing.T, zoneText, origin string) *dnsx.Client {
	t.Helper()
	st := zone.NewStore(false)
	if err := st.Load(strings.NewReader(zoneText), origin, "test"); err != nil {
		t.Fatal(err)
	}
	c, err := dnsx.New(dnsx.Config{Zones: st, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAnalyzeOffline(t *testing.T) {
	c := offlineClient(t, `
$ORIGIN zoned.example.
@    300 IN SOA ns hostmaster 1 7200 3600 1209600 300
@    300 IN NS ns
@    300 IN MX 10 mx1
@    300 IN MX 20 mx.elsewhere.example.
mx1  300 IN A 203.0.114.60
`, "zoned.example.")
	r := Analyze(context.Background(), c, "outside.example")
	if cr := r.CheckResult(); !r.Offline() || cr.Status != findings.StatusSkip || len(r.Findings) != 0 {
		t.Errorf("outside the zones: offline %v status %s findings %q", r.Offline(), cr.Status, ids(r.Findings))
	}
	r = Analyze(context.Background(), c, "zoned.example")
	cr := r.CheckResult()
	if got := ids(r.Findings); !slices.Equal(got, []string{"mx.host-not-checked"}) {
		t.Fatalf("findings %q", got)
	}
	if cr.Status != findings.StatusPass || r.Hosts[1].Status != HostOffline || !strings.Contains(cr.Summary, "1 not checked") {
		t.Errorf("status %s host %+v summary %q", cr.Status, r.Hosts[1], cr.Summary)
	}
	r = Analyze(context.Background(), c, "nothere.zoned.example")
	if find(r.Findings, "mx.nxdomain") == nil {
		t.Errorf("a name inside a loaded zone that does not exist is NXDOMAIN: %q", ids(r.Findings))
	}
}

func TestReserved(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1": "private", "127.0.0.1": "loopback", "192.0.2.1": "documentation", "100.64.1.1": "carrier-grade NAT",
		"fe80::1": "link-local", "2001:db8::1": "documentation", "::ffff:10.0.0.1": "private", "8.8.8.8": "", "2a00:1450::1": "",
		"0.1.2.3": "this network", "240.0.0.1": "reserved",
	} {
		if got := Reserved(netip.MustParseAddr(in)); got != want {
			t.Errorf("Reserved(%s) = %q, want %q", in, got, want)
		}
	}
}
