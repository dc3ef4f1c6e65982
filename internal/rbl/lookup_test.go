package rbl

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// blZone makes dnstest play the real lists, so the catalogue's meanings
// are what the tests check.
const blZone = `
; 192.0.2.1: on ZEN as SBL, with a reason
1.2.0.192.zen.spamhaus.org.     60 IN A   127.0.0.2
1.2.0.192.zen.spamhaus.org.     60 IN TXT "Listed by SBL, see https://check.spamhaus.org/sbl/query/SBL999"
; 192.0.2.2: on ZEN three times over
2.2.0.192.zen.spamhaus.org.     60 IN A   127.0.0.2
2.2.0.192.zen.spamhaus.org.     60 IN A   127.0.0.4
2.2.0.192.zen.spamhaus.org.     60 IN A   127.0.0.10
; 192.0.2.3: Spamhaus refuses the query (public resolver)
3.2.0.192.zen.spamhaus.org.     60 IN A   127.255.255.254
; 192.0.2.4: a resolver rewriting NXDOMAIN to an advertising server
4.2.0.192.bl.spamcop.net.       60 IN A   198.51.100.80
; 192.0.2.5: an answer SpamCop does not document
5.2.0.192.bl.spamcop.net.       60 IN A   127.0.0.77
; 192.0.2.6: on a minor list only
6.2.0.192.dnsbl-2.uceprotect.net. 60 IN A 127.0.0.2
; 2001:db8::25 on ZEN (IPv6 nibbles)
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org. 60 IN A 127.0.0.3
; domains
spam.example.dbl.spamhaus.org.  60 IN A   127.0.1.2
spam.example.dbl.spamhaus.org.  60 IN TXT "https://www.spamhaus.org/query/domain/spam.example"
host.abused.example.dbl.spamhaus.org. 60 IN A 127.0.1.102
phish.example.multi.uribl.com.  60 IN A   127.0.0.6
refused.example.multi.uribl.com. 60 IN A  127.0.0.1
`

func lists(t testing.TB, ids ...string) []List {
	t.Helper()
	var out []List
	for _, id := range ids {
		l, ok := Default().ByID(id)
		if !ok {
			t.Fatalf("no list %s", id)
		}
		out = append(out, l)
	}
	return out
}

func find(t *testing.T, rep *Report, list, checked string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.ListID == list && r.Checked == checked {
			return r
		}
	}
	t.Fatalf("no result for %s on %s; results: %+v", checked, list, rep.Results)
	return Result{}
}

func findingIDs(rep *Report) []string {
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestCheckIP(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	srv.Set("7.2.0.192.zen.spamhaus.org", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("8.2.0.192.zen.spamhaus.org", dnstest.Behavior{Drop: true})
	ipLists := lists(t, "spamhaus-zen", "spamcop", "uceprotect-2")
	tests := []struct {
		ip       string
		list     string
		status   Status
		kind     ErrorKind
		meaning  string
		repState findings.Status
		finding  string
	}{
		{"192.0.2.1", "spamhaus-zen", StatusListed, "", "SBL", findings.StatusFail, "rbl.listed"},
		{"192.0.2.2", "spamhaus-zen", StatusListed, "", "XBL", findings.StatusFail, "rbl.listed"},
		{"192.0.2.3", "spamhaus-zen", StatusError, KindRefused, "", findings.StatusError, "rbl.query-refused"},
		{"192.0.2.4", "spamcop", StatusError, KindBogus, "", findings.StatusError, "rbl.bogus-answer"},
		{"192.0.2.5", "spamcop", StatusListed, "", "not in SpamCop's documentation", findings.StatusFail, "rbl.listed"},
		{"192.0.2.6", "uceprotect-2", StatusListed, "", "allocation", findings.StatusWarn, "rbl.minor-listing"},
		{"192.0.2.7", "spamhaus-zen", StatusError, KindDNS, "", findings.StatusError, "rbl.dns-error"},
		{"192.0.2.8", "spamhaus-zen", StatusError, KindDNS, "", findings.StatusError, "rbl.dns-error"},
		{"192.0.2.9", "spamhaus-zen", StatusClean, "", "", findings.StatusPass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			t.Parallel() // one server, answering each address its own way; a client each
			rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr(tt.ip), Options{Lists: ipLists, Timeout: 700 * time.Millisecond})
			res := find(t, rep, tt.list, tt.ip)
			if res.Status != tt.status || res.ErrorKind != tt.kind {
				t.Fatalf("status %s/%s, want %s/%s (%s)", res.Status, res.ErrorKind, tt.status, tt.kind, res.Reason)
			}
			if tt.meaning != "" && !strings.Contains(strings.Join(res.Meanings, "|"), tt.meaning) {
				t.Errorf("meanings %q lack %q", res.Meanings, tt.meaning)
			}
			if rep.Status != tt.repState {
				t.Errorf("report status %s, want %s (findings %v)", rep.Status, tt.repState, findingIDs(rep))
			}
			if tt.finding != "" && !slices.Contains(findingIDs(rep), tt.finding) {
				t.Errorf("findings %v lack %s", findingIDs(rep), tt.finding)
			}
			if tt.status == StatusError && (!strings.Contains(rep.Summary, "could not") || strings.Contains(rep.Summary, "not listed on any")) {
				t.Errorf("an error was summarised as clean: %q", rep.Summary)
			}
		})
	}
}

// TestPerListTimeout: a list that never answers is given up after
// Options.Timeout even when the resolver would wait much longer. The
// resolver's own timeout outlasts the test's hang guard, so only the
// per-list timeout can end the lookup before it: an error (the DNS kind,
// never "clean"), with the guard's context still alive.
func TestPerListTimeout(t *testing.T) {
	const guard = 30 * time.Second
	srv := dnstest.Start(t, blZone)
	srv.Set("8.2.0.192.zen.spamhaus.org", dnstest.Behavior{Drop: true})
	patient, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 2 * guard, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	res := Lookup(ctx, patient, lists(t, "spamhaus-zen")[0], Subject{Kind: "ip", Value: "192.0.2.8", IP: netip.MustParseAddr("192.0.2.8")}, 200*time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("the lookup ran into the test's %s hang guard: the 200ms per-list timeout was not applied", guard)
	}
	if res.Status != StatusError || res.ErrorKind != KindDNS {
		t.Errorf("status %s/%s (%s), want error/%s", res.Status, res.ErrorKind, res.Reason, KindDNS)
	}
	if n := srv.Count("8.2.0.192.zen.spamhaus.org", dns.TypeA); n == 0 {
		t.Error("the list was never asked")
	}
}

func TestListedFinding(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr("192.0.2.1"), Options{Lists: lists(t, "spamhaus-zen", "spamcop")})
	res := find(t, rep, "spamhaus-zen", "192.0.2.1")
	if len(res.TXT) != 1 || !strings.Contains(res.TXT[0], "SBL999") {
		t.Errorf("TXT reason not fetched: %q", res.TXT)
	}
	if res.Delist != "https://check.spamhaus.org/" || res.Query != "1.2.0.192.zen.spamhaus.org" {
		t.Errorf("result %+v", res)
	}
	if r := find(t, rep, "spamcop", "192.0.2.1"); r.Status != StatusClean || r.TXT != nil {
		t.Errorf("spamcop: %+v", r)
	}
	if len(rep.Findings) != 1 {
		t.Fatalf("findings %v", findingIDs(rep))
	}
	f := rep.Findings[0]
	if f.ID != "rbl.listed" || f.Severity != findings.SeverityFail || f.Check != "rbl" {
		t.Errorf("finding %+v", f)
	}
	for _, want := range []string{"192.0.2.1", "Spamhaus ZEN", "SBL"} {
		if !strings.Contains(f.Title, want) {
			t.Errorf("title %q lacks %q", f.Title, want)
		}
	}
	if !slices.Equal(f.BounceCodes, []string{"5.7.1", "5.7.606", "4.7.0"}) {
		t.Errorf("bounce codes %v", f.BounceCodes)
	}
	if !strings.Contains(f.Fix, "check.spamhaus.org") || !strings.Contains(f.Detail, "554 5.7.1") || !strings.Contains(f.Detail, "SBL999") {
		t.Errorf("fix %q / detail %q", f.Fix, f.Detail)
	}
	if !slices.Contains(f.Evidence, "1.2.0.192.zen.spamhaus.org A 127.0.0.2") {
		t.Errorf("evidence %q", f.Evidence)
	}
	if rep.Counts != (Counts{Listed: 1, Clean: 1}) || rep.Summary != "192.0.2.1: listed on Spamhaus ZEN" {
		t.Errorf("counts %+v summary %q", rep.Counts, rep.Summary)
	}
}

func TestPBLAdvice(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr("192.0.2.2"), Options{Lists: lists(t, "spamhaus-zen")})
	res := find(t, rep, "spamhaus-zen", "192.0.2.2")
	if len(res.Meanings) != 3 {
		t.Fatalf("meanings %q", res.Meanings)
	}
	// The first code with its own advice decides: PBL says "use a smarthost".
	if f := rep.Findings[0]; !strings.Contains(f.Fix, "smarthost") {
		t.Errorf("fix %q", f.Fix)
	}
}

func TestCheckIPv6(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr("2001:db8::25"), Options{Lists: lists(t, "spamhaus-zen", "spamcop")})
	if r := find(t, rep, "spamhaus-zen", "2001:db8::25"); r.Status != StatusListed || !strings.Contains(r.Meanings[0], "CSS") {
		t.Errorf("zen: %+v", r)
	}
	r := find(t, rep, "spamcop", "2001:db8::25")
	if r.Status != StatusSkip || !strings.Contains(r.Reason, "IPv6") {
		t.Errorf("spamcop has no IPv6 zone and must be skipped, got %+v", r)
	}
	if srv.Count("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.spamcop.net", 0) != 0 {
		t.Error("an IPv4-only list was asked about an IPv6 address")
	}
	if f := rep.Findings[0]; !slices.Contains(f.Refs, "RFC 5782 2.4") {
		t.Errorf("refs %v", f.Refs)
	}
}

func TestRefusedFinding(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr("192.0.2.3"), Options{Lists: lists(t, "spamhaus-zen")})
	if len(rep.Findings) != 1 {
		t.Fatalf("findings %v", findingIDs(rep))
	}
	f := rep.Findings[0]
	if f.ID != "rbl.query-refused" || f.Severity != findings.SeverityError {
		t.Fatalf("%+v", f)
	}
	if !strings.Contains(f.Title, "127.255.255.254") || !strings.Contains(f.Detail, "public or open resolver") || !strings.Contains(f.Fix, "resolver of your own") {
		t.Errorf("finding %+v", f)
	}
	if rep.Counts.Clean != 0 || rep.Counts.Listed != 0 {
		t.Errorf("a refusal counted as an answer: %+v", rep.Counts)
	}
}

func TestCheckDomainLists(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	ls := lists(t, "spamhaus-dbl", "uribl", "spamhaus-zen")
	rep := CheckDomain(context.Background(), srv.Client(t), "spam.example", Options{Lists: ls})
	if r := find(t, rep, "spamhaus-dbl", "spam.example"); r.Status != StatusListed || len(r.TXT) != 1 {
		t.Errorf("dbl: %+v", r)
	}
	if r := find(t, rep, "uribl", "spam.example"); r.Status != StatusClean {
		t.Errorf("uribl: %+v", r)
	}
	for _, r := range rep.Results {
		if r.ListID == "spamhaus-zen" {
			t.Errorf("a domain was asked on an IP list: %+v", r)
		}
	}
	f := rep.Findings[0]
	if f.ID != "rbl.listed" || !slices.Equal(f.BounceCodes, []string{"5.7.1"}) || !slices.Contains(f.Refs, "RFC 5782 3") {
		t.Errorf("finding %+v", f)
	}

	// A subdomain: the registered domain and the name itself are asked.
	rep = CheckDomain(context.Background(), srv.Client(t), "host.abused.example", Options{Lists: ls})
	if r := find(t, rep, "spamhaus-dbl", "host.abused.example"); r.Status != StatusListed || !strings.Contains(r.Meanings[0], "abused legitimate") {
		t.Errorf("subdomain: %+v", r)
	}
	if r := find(t, rep, "spamhaus-dbl", "abused.example"); r.Status != StatusClean {
		t.Errorf("registered domain: %+v", r)
	}

	rep = CheckDomain(context.Background(), srv.Client(t), "phish.example", Options{Lists: ls})
	if r := find(t, rep, "uribl", "phish.example"); r.Status != StatusListed || !strings.Contains(strings.Join(r.Meanings, ""), "grey") {
		t.Errorf("uribl bitmask: %+v", r)
	}
	rep = CheckDomain(context.Background(), srv.Client(t), "refused.example", Options{Lists: ls})
	if r := find(t, rep, "uribl", "refused.example"); r.Status != StatusError || r.ErrorKind != KindRefused {
		t.Errorf("uribl 127.0.0.1: %+v", r)
	}
}

func TestOfflineIsSkipNotClean(t *testing.T) {
	c, err := dnsx.New(dnsx.Config{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Default().Select("all")
	rep := CheckIP(context.Background(), c, netip.MustParseAddr("127.0.0.2"), Options{Lists: all})
	if rep.Status != findings.StatusSkip || rep.Counts.Clean != 0 || rep.Counts.Skip != len(rep.Results) {
		t.Errorf("status %s counts %+v", rep.Status, rep.Counts)
	}
	if !strings.Contains(rep.Summary, "not checked") || !strings.Contains(rep.Summary, "offline") {
		t.Errorf("summary %q", rep.Summary)
	}
	for _, r := range rep.Results {
		if r.Status != StatusSkip {
			t.Errorf("%s: %s", r.List, r.Status)
		}
	}
	if c.Stats().Sent != 0 {
		t.Errorf("offline sent %d packets", c.Stats().Sent)
	}
}

func TestHugeAndHostileTXT(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	srv.Set("1.2.0.192.zen.spamhaus.org", dnstest.Behavior{BigTXT: 5000, Types: []uint16{dns.TypeTXT}})
	rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr("192.0.2.1"), Options{Lists: lists(t, "spamhaus-zen")})
	r := find(t, rep, "spamhaus-zen", "192.0.2.1")
	if r.Status != StatusListed || len(r.TXT) != 1 || len(r.TXT[0]) > MaxTXT+64 || !strings.Contains(r.TXT[0], "more bytes") {
		t.Errorf("TXT not bounded: %d bytes", len(strings.Join(r.TXT, "")))
	}
}

func TestEveryQuestionOnceAndConcurrently(t *testing.T) {
	srv := dnstest.Start(t, blZone)
	all, _ := Default().Select("all")
	c := srv.Client(t)
	rep := CheckIP(context.Background(), c, netip.MustParseAddr("192.0.2.9"), Options{Lists: all})
	ipLists := 0
	for _, l := range all {
		if l.Kind == KindIP && l.IPv4 {
			ipLists++
		}
	}
	// One question a list. Packets beyond that must be the client's own
	// retransmissions (dnstest counts them: dnsx resends with a new ID),
	// which a loaded machine can cause; never a second lookup.
	distinct := map[string]bool{}
	for _, q := range srv.Queries() {
		distinct[q.Name+"/"+dns.TypeToString[q.Type]] = true
	}
	retried := int(c.Stats().Servers[0].Retried)
	if got := srv.Total(); len(distinct) != ipLists || got-ipLists > retried {
		t.Errorf("%d questions (%d distinct, %d retransmitted) for %d IPv4 lists", got, len(distinct), retried, ipLists)
	}
	if rep.Status != findings.StatusPass || rep.Counts.Clean != ipLists {
		t.Errorf("status %s counts %+v", rep.Status, rep.Counts)
	}
}

// TestOneRoundTrip: thirty lists are asked at once: all thirty questions
// are in flight together (a dnstest barrier), not one after another.
func TestOneRoundTrip(t *testing.T) {
	srv := dnstest.Start(t, "")
	bar := srv.SetBarrier(30, 10*time.Second, nil)
	rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr("192.0.2.9"), Options{Lists: syntheticLists(30), Timeout: 20 * time.Second})
	if rep.Counts.Clean != 30 {
		t.Fatalf("counts %+v", rep.Counts)
	}
	if !bar.Reached() {
		t.Errorf("at most %d of 30 list questions were in flight at once: not asked concurrently", bar.Most())
	}
}

// TestConcurrencyBound: with Concurrency 5, five questions are in flight
// and a sixth never joins them: a barrier of six holds the first five
// until its timeout (which only ends the wait) and is not reached.
func TestConcurrencyBound(t *testing.T) {
	srv := dnstest.Start(t, "")
	run := func() {
		t.Helper()
		// No retransmissions: a held question must not be asked twice. A
		// fresh client each run: nothing comes from a cache.
		c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 20 * time.Second, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		rep := CheckIP(context.Background(), c, netip.MustParseAddr("192.0.2.9"), Options{Lists: syntheticLists(30), Concurrency: 5, Timeout: 20 * time.Second})
		if rep.Counts.Clean != 30 {
			t.Fatalf("counts %+v", rep.Counts)
		}
	}
	// The bound is used: five questions are waiting at once. The barrier
	// holds them until they are; its timeout is only a hang guard.
	bar := srv.SetBarrier(5, 30*time.Second, nil)
	run()
	if !bar.Reached() {
		t.Errorf("Concurrency 5: at most %d questions in flight at once, want 5", bar.Most())
	}
	// And never exceeded: a sixth never joins five held questions. A loaded
	// machine can only make fewer arrive in the barrier's time, never more,
	// so this cannot fail spuriously.
	bar = srv.SetBarrier(6, 300*time.Millisecond, nil)
	run()
	if bar.Reached() {
		t.Errorf("Concurrency 5: 6 questions in flight at once")
	}
	if DefaultConcurrency < 100 {
		t.Errorf("DefaultConcurrency %d: a domain with 4 addresses on 25 lists would need several round trips", DefaultConcurrency)
	}
}

func syntheticLists(n int) []List {
	var ls []List
	for i := range n {
		z := "bl" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example.net"
		ls = append(ls, List{ID: z, Name: z, Zone: z, Kind: KindIP, IPv4: true, Weight: WeightMajor,
			Codes: []Code{{Code: "127.0.0.2", Meaning: "listed", lo: testIPv4, hi: testIPv4}}})
	}
	return ls
}

func TestHealth(t *testing.T) {
	srv := dnstest.Start(t, `
2.0.0.127.good.example.net.  60 IN A 127.0.0.2
*.world.example.net.         60 IN A 127.0.0.2
test.dgood.example.net.      60 IN A 127.0.0.2
`)
	mk := func(zone string, kind Kind) List {
		l := List{ID: zone, Name: zone, Zone: zone, Kind: kind, Weight: WeightMajor,
			Codes: []Code{{Code: "127.0.0.2", Meaning: "listed", lo: testIPv4, hi: testIPv4}}}
		if kind == KindIP {
			l.IPv4 = true
		}
		return l
	}
	good, dead, world, dgood := mk("good.example.net", KindIP), mk("dead.example.net", KindIP), mk("world.example.net", KindIP), mk("dgood.example.net", KindDomain)
	c := srv.Client(t)
	for _, tt := range []struct {
		l    List
		want HealthStatus
		all  bool
	}{{good, HealthOK, false}, {dead, HealthBad, false}, {world, HealthBad, true}, {dgood, HealthOK, false}} {
		h := CheckHealth(context.Background(), c, tt.l, time.Second)
		if h.Status != tt.want || h.ListsAll != tt.all {
			t.Errorf("%s: %+v", tt.l.Zone, h)
		}
	}
	srv.Set("2.0.0.127.good.example.net", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	if h := CheckHealth(context.Background(), srv.Client(t), good, time.Second); h.Status != HealthError {
		t.Errorf("SERVFAIL on the test entry: %+v", h)
	}

	// With --health, the answers of unhealthy lists are not trusted.
	rep := CheckIP(context.Background(), c, netip.MustParseAddr("192.0.2.50"), Options{Lists: []List{good, dead, world}, Health: true})
	if r := find(t, rep, "good.example.net", "192.0.2.50"); r.Status != StatusClean {
		t.Errorf("healthy list: %+v", r)
	}
	if r := find(t, rep, "dead.example.net", "192.0.2.50"); r.Status != StatusError || r.ErrorKind != KindUnhealthy {
		t.Errorf("dead list's clean must be an error: %+v", r)
	}
	if r := find(t, rep, "world.example.net", "192.0.2.50"); r.Status != StatusError || r.ErrorKind != KindUnhealthy {
		t.Errorf("a list listing everything must not produce a listing: %+v", r)
	}
	if rep.Status != findings.StatusError || !slices.Contains(findingIDs(rep), "rbl.list-unhealthy") || slices.Contains(findingIDs(rep), "rbl.listed") {
		t.Errorf("status %s findings %v", rep.Status, findingIDs(rep))
	}
	if len(rep.Health) != 3 {
		t.Errorf("health %+v", rep.Health)
	}
}

func TestUserZone(t *testing.T) {
	srv := dnstest.Start(t, `
9.2.0.192.bl.local.test. 60 IN A 127.0.0.5
bad.example.bl.local.test. 60 IN A 127.0.0.2
`)
	ls, err := Default().Resolve([]string{"bl.local.test"})
	if err != nil {
		t.Fatal(err)
	}
	rep := CheckIP(context.Background(), srv.Client(t), netip.MustParseAddr("192.0.2.9"), Options{Lists: ls})
	r := find(t, rep, "bl.local.test", "192.0.2.9")
	if r.Status != StatusListed || r.Meanings[0] != "127.0.0.5: listed" {
		t.Errorf("%+v", r)
	}
	// A zone the user named is one they rely on: a listing there fails.
	if rep.Findings[0].Severity != findings.SeverityFail {
		t.Errorf("severity %s", rep.Findings[0].Severity)
	}
	rep = CheckDomain(context.Background(), srv.Client(t), "bad.example", Options{Lists: ls})
	if r := find(t, rep, "bl.local.test", "bad.example"); r.Status != StatusListed {
		t.Errorf("domain on a user zone: %+v", r)
	}
}

func TestInvalidQueryName(t *testing.T) {
	srv := dnstest.Start(t, "")
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 50) + ".example"
	rep := CheckDomain(context.Background(), srv.Client(t), long, Options{Lists: lists(t, "spamhaus-dbl")})
	for _, r := range rep.Results {
		if r.Checked == long && (r.Status != StatusError || r.ErrorKind != KindName) {
			t.Errorf("%+v", r)
		}
	}
}

// BenchmarkThirtyLists checks one address against thirty lists that each
// take 20 ms to answer. The rtts metric is wall time over that latency:
// about 1 means the lists were asked at once, 30 would mean one by one.
func BenchmarkThirtyLists(b *testing.B) {
	srv := dnstest.Start(b, "")
	const latency = 20 * time.Millisecond
	srv.SetLatency(latency, 0)
	ls := syntheticLists(30)
	ip := netip.MustParseAddr("192.0.2.9")
	var total time.Duration
	for b.Loop() {
		c := srv.Client(b) // a fresh cache: every question goes to the server
		start := time.Now()
		rep := CheckIP(context.Background(), c, ip, Options{Lists: ls, Timeout: 5 * time.Second})
		total += time.Since(start)
		if rep.Counts.Clean != 30 {
			b.Fatalf("counts %+v", rep.Counts)
		}
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(latency), "rtts")
}

func TestResultErr(t *testing.T) {
	t.Parallel()
	if err := (&Result{Status: StatusClean}).Err(); err != nil {
		t.Errorf("clean: %v", err)
	}
	for kind, want := range map[ErrorKind]error{KindDNS: ErrDNS, KindRefused: ErrRefused, KindBogus: ErrBogus, KindUnhealthy: ErrUnhealthy, KindName: ErrName} {
		err := (&Result{List: "l", Status: StatusError, ErrorKind: kind, Reason: "why"}).Err()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v is not %v", kind, err, want)
		}
	}
}
