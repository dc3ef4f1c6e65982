package spf

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// RFC 7208 7.4, verbatim.
func TestMacroExamples(t *testing.T) {
	env := &MacroEnv{
		Sender: "strong-bad@email.example.com", Local: "strong-bad", SenderDomain: "email.example.com",
		Domain: "email.example.com", IP: netip.MustParseAddr("192.0.2.3"), HELO: "mx.example.org",
		ReceivingHost: "receiver.example.net", Now: time.Unix(1700000000, 0),
		ValidatedDomain: func() (string, error) { return "mx.example.org", nil },
	}
	for in, want := range map[string]string{
		"%{s}":                              "strong-bad@email.example.com",
		"%{o}":                              "email.example.com",
		"%{d}":                              "email.example.com",
		"%{d4}":                             "email.example.com",
		"%{d3}":                             "email.example.com",
		"%{d2}":                             "example.com",
		"%{d1}":                             "com",
		"%{dr}":                             "com.example.email",
		"%{d2r}":                            "example.email",
		"%{l}":                              "strong-bad",
		"%{l-}":                             "strong.bad",
		"%{lr}":                             "strong-bad",
		"%{lr-}":                            "bad.strong",
		"%{l1r-}":                           "strong",
		"%{ir}.%{v}._spf.%{d2}":             "3.2.0.192.in-addr._spf.example.com",
		"%{lr-}.lp._spf.%{d2}":              "bad.strong.lp._spf.example.com",
		"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}":   "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
		"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}":  "3.2.0.192.in-addr.strong.lp._spf.example.com",
		"%{d2}.trusted-domains.example.net": "example.com.trusted-domains.example.net",
		"%{p}":                              "mx.example.org",
		"%{p2}":                             "example.org",
		"%%%_%-":                            "% %20",
		"%{S}":                              "strong-bad%40email.example.com",
		"%{h}":                              "mx.example.org",
		"%{d999}":                           "email.example.com",
	} {
		ms, err := ParseMacroString(in, macroDomain)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got, err := ms.Expand(env); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", in, got, err, want)
		}
	}
	env.IP = netip.MustParseAddr("2001:db8::cb01")
	ms, _ := ParseMacroString("%{ir}.%{v}._spf.%{d2}", macroDomain)
	if got, _ := ms.Expand(env); got != "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com" {
		t.Errorf("IPv6: %s", got)
	}
	exp, err := ParseExplanation("%{c} at %{t} via %{r}: see %{d}")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := exp.Expand(env); got != "2001:db8::cb01 at 1700000000 via receiver.example.net: see email.example.com" {
		t.Errorf("explanation: %q", got)
	}
	for _, bad := range []string{"%", "%x", "%{", "%{}", "%{q}", "%{c}", "%{d0}", "%{dx}", "a b", "%{d2r+x}"} {
		if _, err := ParseMacroString(bad, macroDomain); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestExpandDomainTruncates(t *testing.T) {
	long := strings.Repeat("abcdefghij.", 30) + "example.com" // 341 octets
	ms, _ := ParseMacroString("%{d}", macroDomain)
	got, err := expandDomain(ms, &MacroEnv{Domain: long})
	if err != nil || len(got) > 253 || !strings.HasSuffix(got, ".example.com") || strings.HasPrefix(got, ".") {
		t.Errorf("%d %q %v", len(got), got, err)
	}
}

func evalZone(t *testing.T, lines ...string) (*dnstest.Server, *dnsx.Client) {
	t.Helper()
	srv := dnstest.Start(t, zoneOf(lines...))
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 200 * time.Millisecond, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// The MX hosts of one mechanism are asked together, but the result is what
// a left-to-right evaluation gives: a DNS failure before the matching host
// is temperror; a match before the failing host is a match.
func TestMXOrderSemantics(t *testing.T) {
	srv, c := evalZone(t,
		`first.example TXT "v=spf1 mx -all"`, `first.example MX 10 bad.example.`, `first.example MX 20 good.example.`,
		`second.example TXT "v=spf1 mx -all"`, `second.example MX 10 good.example.`, `second.example MX 20 bad.example.`,
		`good.example A 192.0.2.10`, `bad.example A 192.0.2.99`,
	)
	srv.Set("bad.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	ip := netip.MustParseAddr("192.0.2.10")
	if ev := CheckHost(context.Background(), c, Args{IP: ip, Sender: "a@first.example"}); ev.Result != ResultTemperror || !dnsx.IsTemporary(ev.Err) {
		t.Errorf("failing host first: %s %v", ev.Result, ev.Err)
	}
	if ev := CheckHost(context.Background(), c, Args{IP: ip, Sender: "a@second.example"}); ev.Result != ResultPass || ev.Mechanism != "mx" {
		t.Errorf("matching host first: %s %q %v", ev.Result, ev.Mechanism, ev.Err)
	}
}

// Evaluation stops at the first match: terms after it are never looked up.
func TestEvaluationStopsAtMatch(t *testing.T) {
	srv, c := evalZone(t,
		`stop.example TXT "v=spf1 ip4:192.0.2.1 a:never.example include:never2.example -all"`,
	)
	ev := CheckHost(context.Background(), c, Args{IP: netip.MustParseAddr("192.0.2.1"), Sender: "x@stop.example"})
	if ev.Result != ResultPass || ev.Mechanism != "ip4:192.0.2.1" || ev.Lookups != 0 {
		t.Errorf("%+v", ev)
	}
	if n := srv.Count("never.example", 0) + srv.Count("never2.example", 0); n != 0 {
		t.Errorf("terms after the match were looked up (%d queries)", n)
	}
	if srv.Total() != 1 {
		t.Errorf("%d queries, want 1 (the record)", srv.Total())
	}
}

func TestEvaluationDetails(t *testing.T) {
	_, c := evalZone(t,
		`ex.example TXT "v=spf1 include:inc.ex.example redirect=r.ex.example"`,
		`inc.ex.example TXT "v=spf1 ip4:192.0.2.5 -all"`,
		`r.ex.example TXT "v=spf1 ?ip4:192.0.2.6 -all exp=why.ex.example"`,
		`why.ex.example TXT "%{i} may not send for %{d} (sender %{S})"`,
	)
	tests := []struct {
		ip, mech, match, expl string
		res                   Result
	}{
		{"192.0.2.5", "include:inc.ex.example", "ex.example", "", ResultPass},
		{"192.0.2.6", "?ip4:192.0.2.6", "r.ex.example", "", ResultNeutral},
		{"192.0.2.7", "-all", "r.ex.example", "192.0.2.7 may not send for r.ex.example (sender bob%40ex.example)", ResultFail},
	}
	for _, tt := range tests {
		ev := CheckHost(context.Background(), c, Args{IP: netip.MustParseAddr(tt.ip), Sender: "bob@ex.example", HELO: "mail.ex.example"})
		if ev.Result != tt.res || ev.Mechanism != tt.mech || ev.MatchDomain != tt.match || ev.Explanation != tt.expl {
			t.Errorf("%s: %s %q in %q, exp %q; want %s %q in %q, exp %q", tt.ip, ev.Result, ev.Mechanism, ev.MatchDomain, ev.Explanation, tt.res, tt.mech, tt.match, tt.expl)
		}
		if ev.Lookups != 2 && tt.res != ResultPass || len(ev.Trace) < 3 || ev.Domain != "ex.example" || ev.Record == "" {
			t.Errorf("%s: lookups %d trace %d %+v", tt.ip, ev.Lookups, len(ev.Trace), ev)
		}
	}
	// A null sender uses postmaster@HELO (RFC 7208 2.4).
	ev := CheckHost(context.Background(), c, Args{IP: netip.MustParseAddr("192.0.2.5"), HELO: "inc.ex.example"})
	if ev.Domain != "inc.ex.example" || ev.Sender != "postmaster@inc.ex.example" || ev.Result != ResultPass {
		t.Errorf("null sender: %+v", ev)
	}
	// IPv4-mapped IPv6 clients are IPv4 (RFC 7208 5).
	ev = CheckHost(context.Background(), c, Args{IP: netip.MustParseAddr("::ffff:192.0.2.5"), Sender: "a@inc.ex.example"})
	if ev.Result != ResultPass {
		t.Errorf("mapped: %s", ev.Result)
	}
	ev = CheckHost(context.Background(), c, Args{Sender: "a@inc.ex.example"})
	if ev.Result != ResultPermerror || ev.Err == nil {
		t.Errorf("no IP: %s", ev.Result)
	}
}

func TestLookup(t *testing.T) {
	srv := dnstest.Start(t, zoneOf(
		`one.example TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"`,
		`one.example TXT "other"`,
		`two.example TXT "v=spf1 -all"`, `two.example TXT "v=spf1 +all"`,
		`bad.example TXT "v=spf1 moo"`,
		`none.example A 192.0.2.1`,
	))
	srv.Set("fail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)
	ctx := context.Background()
	rec, txt, err := Lookup(ctx, c, "one.example")
	if err != nil || txt != "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all" || len(Addresses(rec)) != 2 {
		t.Errorf("one: %v %q", err, txt)
	}
	if _, _, err := Lookup(ctx, c, "two.example"); !errors.Is(err, ErrMultipleRecords) {
		t.Errorf("two: %v", err)
	}
	if _, txt, err := Lookup(ctx, c, "bad.example"); !errors.Is(err, ErrSyntax) || txt != "v=spf1 moo" {
		t.Errorf("bad: %v", err)
	}
	for _, d := range []string{"none.example", "nxdomain.example"} {
		if _, _, err := Lookup(ctx, c, d); !errors.Is(err, ErrNoRecord) || dnsx.IsTemporary(err) {
			t.Errorf("%s: %v", d, err)
		}
	}
	if _, _, err := Lookup(ctx, c, "fail.example"); !dnsx.IsTemporary(err) || errors.Is(err, ErrNoRecord) {
		t.Errorf("fail: %v", err)
	}
	if _, _, err := Lookup(ctx, c, "localhost"); !errors.Is(err, ErrInvalidDomain) {
		t.Errorf("single label: %v", err)
	}
}
