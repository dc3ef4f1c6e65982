package spf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

// zoneOf writes "name TXT ..." lines as zone text with TTL and class.
func zoneOf(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		name, rest, _ := strings.Cut(l, " ")
		fmt.Fprintf(&b, "%s. 300 IN %s\n", name, rest)
	}
	return b.String()
}

func ids(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestLintFindings(t *testing.T) {
	tests := []struct {
		name   string
		zone   []string
		want   []string // finding IDs that must be present
		absent []string // and must not
		status findings.Status
	}{
		{name: "good", zone: []string{
			`good.example TXT "v=spf1 mx include:_spf.good.example -all"`,
			`good.example MX 10 mx.good.example.`, `mx.good.example A 192.0.2.1`,
			`_spf.good.example TXT "v=spf1 ip4:192.0.2.0/24 ~all"`,
		}, status: findings.StatusPass, absent: []string{"spf.no-all", "spf.void-lookup"}},
		{name: "no record", zone: []string{`norec.example TXT "google-site-verification=x"`},
			want: []string{"spf.no-record"}, status: findings.StatusFail},
		{name: "joined without space", zone: []string{`joined.example TXT "v=spf1" "mx -all"`},
			want: []string{"spf.no-record"}, status: findings.StatusFail},
		{name: "only type 99", zone: []string{`old.example SPF "v=spf1 -all"`, `old.example A 192.0.2.1`},
			want: []string{"spf.no-record"}, status: findings.StatusFail},
		{name: "type 99 too", zone: []string{`both.example SPF "v=spf1 -all"`, `both.example TXT "v=spf1 -all"`},
			want: []string{"spf.deprecated-spf-rr"}, status: findings.StatusWarn},
		{name: "two records", zone: []string{`two.example TXT "v=spf1 mx -all"`, `two.example TXT "v=spf1 include:x.example ~all"`},
			want: []string{"spf.multiple-records"}, status: findings.StatusFail},
		{name: "syntax", zone: []string{`syn.example TXT "v=spf1 ip4:192.0.2.300 -all"`},
			want: []string{"spf.syntax"}, status: findings.StatusFail},
		{name: "split mid-term breaks it", zone: []string{`split.example TXT "v=spf1 ip4:192.0.2.1" "include:x.example -all"`},
			want: []string{"spf.syntax"}, status: findings.StatusFail},
		{name: "split mid-term works", zone: []string{`split2.example TXT "v=spf1 ip4:192.0" ".2.1 -all"`},
			want: []string{"spf.string-split"}, status: findings.StatusPass},
		{name: "too many lookups", zone: []string{
			`many.example TXT "v=spf1 include:a.many.example include:b.many.example include:c.many.example -all"`,
			`a.many.example TXT "v=spf1 a:h1.many.example a:h2.many.example a:h3.many.example -all"`,
			`b.many.example TXT "v=spf1 a:h1.many.example a:h2.many.example a:h3.many.example -all"`,
			`c.many.example TXT "v=spf1 a:h1.many.example a:h2.many.example ~all"`,
			`h1.many.example A 192.0.2.1`, `h2.many.example A 192.0.2.2`, `h3.many.example AAAA 2001:db8::3`,
		}, want: []string{"spf.too-many-lookups"}, status: findings.StatusFail},
		{name: "near the limit", zone: []string{
			`near.example TXT "v=spf1 a mx a:h.near.example mx:h.near.example include:i.near.example -all"`,
			`near.example A 192.0.2.1`, `near.example MX 1 h.near.example.`, `h.near.example A 192.0.2.2`, `h.near.example MX 1 h.near.example.`,
			`i.near.example TXT "v=spf1 a mx a:h.near.example mx:h.near.example -all"`, `i.near.example A 192.0.2.3`, `i.near.example MX 1 h.near.example.`,
		}, want: []string{"spf.near-lookup-limit"}, absent: []string{"spf.too-many-lookups"}, status: findings.StatusWarn},
		{name: "void lookups", zone: []string{`void.example TXT "v=spf1 a:gone1.void.example mx:gone2.void.example a:gone3.void.example -all"`},
			want: []string{"spf.too-many-void-lookups"}, status: findings.StatusFail},
		{name: "one void lookup", zone: []string{`void1.example TXT "v=spf1 a:gone.void1.example -all"`},
			want: []string{"spf.void-lookup"}, status: findings.StatusWarn},
		{name: "include loop", zone: []string{`loop.example TXT "v=spf1 include:l2.loop.example -all"`, `l2.loop.example TXT "v=spf1 include:loop.example -all"`},
			want: []string{"spf.include-loop"}, status: findings.StatusFail},
		{name: "include missing", zone: []string{`miss.example TXT "v=spf1 include:nothere.example -all"`},
			want: []string{"spf.include-missing"}, status: findings.StatusFail},
		{name: "redirect missing", zone: []string{`rmiss.example TXT "v=spf1 redirect=nothere.example"`},
			want: []string{"spf.redirect-missing"}, status: findings.StatusFail},
		{name: "+all", zone: []string{`pall.example TXT "v=spf1 +all"`}, want: []string{"spf.pass-all"}, status: findings.StatusFail},
		{name: "+all through redirect", zone: []string{`rpall.example TXT "v=spf1 ip4:192.0.2.1 redirect=t.rpall.example"`, `t.rpall.example TXT "v=spf1 all"`},
			want: []string{"spf.pass-all"}, status: findings.StatusFail},
		{name: "+all in an include", zone: []string{`ipall.example TXT "v=spf1 include:t.ipall.example -all"`, `t.ipall.example TXT "v=spf1 +all"`},
			want: []string{"spf.pass-all"}, status: findings.StatusFail},
		{name: "?all", zone: []string{`nall.example TXT "v=spf1 ip4:192.0.2.1 ?all"`}, want: []string{"spf.neutral-all"}, status: findings.StatusFail},
		{name: "no all", zone: []string{`noall.example TXT "v=spf1 ip4:192.0.2.1"`}, want: []string{"spf.no-all"}, status: findings.StatusWarn},
		{name: "ptr", zone: []string{`ptr.example TXT "v=spf1 ptr -all"`}, want: []string{"spf.ptr-mechanism"}, status: findings.StatusWarn},
		{name: "wide /8", zone: []string{`wide.example TXT "v=spf1 ip4:10.0.0.0/8 -all"`}, want: []string{"spf.wide-range"}, status: findings.StatusFail},
		{name: "wide /12 warns", zone: []string{`wide2.example TXT "v=spf1 ip4:172.16.0.0/12 -all"`}, want: []string{"spf.wide-range"}, status: findings.StatusWarn},
		{name: "deny range is fine", zone: []string{`wide3.example TXT "v=spf1 -ip4:10.0.0.0/8 ip4:192.0.2.1 -all"`}, absent: []string{"spf.wide-range"}, status: findings.StatusPass},
		{name: "duplicate", zone: []string{`dup.example TXT "v=spf1 ip4:192.0.2.1 ip4:192.0.2.1 -all"`}, want: []string{"spf.duplicate-mechanism"}, status: findings.StatusWarn},
		{name: "duplicate include across records", zone: []string{
			`dupi.example TXT "v=spf1 include:a.dupi.example include:s.dupi.example -all"`,
			`a.dupi.example TXT "v=spf1 include:s.dupi.example -all"`, `s.dupi.example TXT "v=spf1 ip4:192.0.2.1 -all"`,
		}, want: []string{"spf.duplicate-mechanism"}, status: findings.StatusWarn},
		{name: "shadowed by range", zone: []string{`shad.example TXT "v=spf1 ip4:192.0.2.0/24 -ip4:192.0.2.7 -all"`}, want: []string{"spf.shadowed-mechanism"}, status: findings.StatusWarn},
		{name: "after all", zone: []string{`after.example TXT "v=spf1 -all ip4:192.0.2.1"`}, want: []string{"spf.shadowed-mechanism"}, status: findings.StatusWarn},
		{name: "redirect with all", zone: []string{`rwa.example TXT "v=spf1 ip4:192.0.2.1 ~all redirect=x.rwa.example"`}, want: []string{"spf.redirect-with-all"}, status: findings.StatusWarn},
		{name: "too long", zone: []string{`long.example TXT "v=spf1 ` + strings.Repeat("ip4:192.0.2.1 ", 20) + `" "-all"`, `long.example TXT "` + strings.Repeat("x", 200) + `"`},
			want: []string{"spf.record-too-long", "spf.duplicate-mechanism"}, status: findings.StatusWarn},
		{name: "too many mx", zone: append([]string{`tmx.example TXT "v=spf1 mx -all"`}, func() []string {
			var z []string
			for i := range 11 {
				z = append(z, fmt.Sprintf("tmx.example MX %d m%d.tmx.example.", i, i), fmt.Sprintf("m%d.tmx.example A 192.0.2.%d", i, i+1))
			}
			return z
		}()...), want: []string{"spf.too-many-mx"}, status: findings.StatusFail},
	}
	var zoneText strings.Builder
	for _, tt := range tests {
		zoneText.WriteString(zoneOf(tt.zone...))
	}
	srv := dnstest.Start(t, zoneText.String())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			domain, _, _ := strings.Cut(tt.zone[0], " ")
			lr := Lint(context.Background(), srv.Client(t), domain)
			got := ids(lr.Findings)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s; got %v", w, got)
				}
			}
			for _, a := range tt.absent {
				if slices.Contains(got, a) {
					t.Errorf("unexpected %s", a)
				}
			}
			cr := CheckResult(lr, nil, "")
			if cr.Status != tt.status {
				t.Errorf("status %s, want %s (findings %v)", cr.Status, tt.status, got)
			}
			for _, f := range lr.Findings {
				if f.Title == "" || f.Check != "spf" || !strings.HasPrefix(f.ID, "spf.") || strings.Contains(f.Title, "\n") {
					t.Errorf("malformed finding %+v", f)
				}
				if f.Severity == findings.SeverityFail && f.Fix == "" {
					t.Errorf("%s: a failure without a fix", f.ID)
				}
			}
			if _, err := json.Marshal(cr.Data); err != nil {
				t.Errorf("data does not marshal: %v", err)
			}
		})
	}
}

func TestLintTooManyLookupsContract(t *testing.T) {
	srv := dnstest.Start(t, zoneOf(
		`big.example TXT "v=spf1 a a a a a a a a a a a -all"`, `big.example A 192.0.2.1`,
	))
	lr := Lint(context.Background(), srv.Client(t), "big.example")
	if lr.Lookups != 11 {
		t.Fatalf("lookups %d, want 11", lr.Lookups)
	}
	for _, f := range lr.Findings {
		if f.ID == "spf.too-many-lookups" {
			if f.Title != "SPF needs 11 DNS lookups; the limit is 10" {
				t.Errorf("title %q", f.Title)
			}
			if !slices.Equal(f.BounceCodes, []string{"5.7.23", "5.7.26", "5.7.509"}) {
				t.Errorf("bounce codes %v", f.BounceCodes)
			}
			return
		}
	}
	t.Fatal("no spf.too-many-lookups finding")
}

func TestLintDNSErrors(t *testing.T) {
	srv := dnstest.Start(t, zoneOf(
		`inc.example TXT "v=spf1 include:broken.example -all"`,
		`broken.example TXT "v=spf1 -all"`,
	))
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("broken.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("slow.example", dnstest.Behavior{Drop: true})
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 100 * time.Millisecond, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"servfail.example", "slow.example", "inc.example"} {
		lr := Lint(context.Background(), c, d)
		cr := CheckResult(lr, nil, "")
		got := ids(lr.Findings)
		if cr.Status != findings.StatusError || !slices.Contains(got, "spf.dns-error") {
			t.Errorf("%s: status %s, findings %v: a DNS failure must be error", d, cr.Status, got)
		}
		if slices.Contains(got, "spf.no-record") || slices.Contains(got, "spf.include-missing") {
			t.Errorf("%s: DNS failure reported as a missing record: %v", d, got)
		}
	}
}

func TestLintOffline(t *testing.T) {
	st := zone.NewStore(false)
	if err := st.LoadString(`$ORIGIN example.com.
@ 300 IN SOA ns hostmaster 1 2 3 4 5
@ 300 IN TXT "v=spf1 include:_spf.example.com include:_spf.provider.example -all"
_spf 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
`, "example.com."); err != nil {
		t.Fatal(err)
	}
	c, err := dnsx.New(dnsx.Config{Zones: st, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	lr := Lint(context.Background(), c, "example.com")
	got := ids(lr.Findings)
	if slices.Contains(got, "spf.include-missing") {
		t.Errorf("an include outside the zones was reported missing: %v", got)
	}
	if !slices.Contains(got, "spf.not-checked") || lr.Complete {
		t.Errorf("want spf.not-checked and an incomplete count: %v complete=%v", got, lr.Complete)
	}
	if cr := CheckResult(lr, nil, ""); cr.Status != findings.StatusPass {
		t.Errorf("status %s", cr.Status)
	}
	// A domain outside every zone: skip, not "no record".
	lr = Lint(context.Background(), c, "other.example")
	if cr := CheckResult(lr, nil, ""); cr.Status != findings.StatusSkip || len(lr.Findings) != 0 {
		t.Errorf("outside the zones: status %s findings %v", cr.Status, ids(lr.Findings))
	}
	// CheckHost needing such a name: temperror with ErrOffline.
	ev := CheckHost(context.Background(), c, Args{IP: mustAddr("198.51.100.1"), Domain: "example.com", Sender: "a@example.com"})
	if ev.Result != ResultTemperror || !errorsIs(ev.Err, ErrOffline) {
		t.Errorf("offline include: %s %v", ev.Result, ev.Err)
	}
	f, _ := EvaluationFinding(ev, "198.51.100.1")
	if f.ID != "spf.not-checked" {
		t.Errorf("finding %s", f.ID)
	}
}

// TestLintSendsEachQuestionOnce shows the resolver's cache at work: a tree
// whose records share includes and hosts asks each (name, type) once, and
// exactly the questions the tree needs.
func TestLintSendsEachQuestionOnce(t *testing.T) {
	srv := dnstest.Start(t, zoneOf(
		`shared.example TXT "v=spf1 include:p1.shared.example include:p2.shared.example include:common.shared.example mx -all"`,
		`shared.example MX 10 mx.shared.example.`, `mx.shared.example A 192.0.2.1`,
		`p1.shared.example TXT "v=spf1 include:common.shared.example a:mx.shared.example -all"`,
		`p2.shared.example TXT "v=spf1 include:common.shared.example a:mx.shared.example ~all"`,
		`common.shared.example TXT "v=spf1 ip4:192.0.2.0/24 a:mx.shared.example -all"`,
	))
	c := srv.Client(t)
	lr := Lint(context.Background(), c, "shared.example")
	seen := map[string]int{}
	for _, q := range srv.Queries() {
		seen[fmt.Sprintf("%s/%s", q.Name, dns.TypeToString[q.Type])]++
	}
	// dnstest counts the client's retransmissions as questions (dnsx
	// resends with a new ID), which a loaded machine can cause: packets
	// beyond one a name must all be those, never a second lookup.
	st := c.Stats()
	retried := st.Servers[0].Retried
	extra := 0
	for _, n := range seen {
		extra += n - 1
	}
	if extra > int(retried) {
		t.Errorf("%d packets beyond one a name but %d retransmissions: a name was looked up twice: %v", extra, retried, seen)
	}
	// TXT and SPF(99) of the root, TXT of p1, p2, common, MX of the root,
	// A and AAAA of mx.shared.example (asked by a: in three records).
	want := []string{
		"shared.example./TXT", "shared.example./SPF", "shared.example./MX",
		"p1.shared.example./TXT", "p2.shared.example./TXT", "common.shared.example./TXT",
		"mx.shared.example./A", "mx.shared.example./AAAA",
	}
	if len(seen) != len(want) {
		t.Errorf("%d distinct questions, want %d: %v", len(seen), len(want), seen)
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("%s: not asked", w)
		}
	}
	// Yet common is evaluated, and counted, three times: 4 terms at the
	// root, 2+1 under p1, 2+1 under p2, 1 for the root's own include.
	if lr.Lookups != 11 {
		t.Errorf("lookups %d, want 11", lr.Lookups)
	}
	if st.Sent-retried != int64(len(want)) {
		t.Errorf("client sent %d packets, %d of them again", st.Sent, retried)
	}
	t.Logf("lint of a tree with shared includes: %d questions for %d distinct (name, type); %d lookups counted", srv.Total(), len(seen), lr.Lookups)
}

// TestLintLevelsConcurrent: the includes of one level are fetched together,
// so the time is about one answer per level, not one per record: all eight
// include questions are in flight at once (a dnstest barrier).
func TestLintLevelsConcurrent(t *testing.T) {
	lines := []string{`wide.example TXT "v=spf1 ` + strings.Repeat("include:%d.wide.example ", 0)}
	var incs []string
	for i := range 8 {
		incs = append(incs, fmt.Sprintf("include:i%d.wide.example", i))
		lines = append(lines, fmt.Sprintf(`i%d.wide.example TXT "v=spf1 ip4:192.0.2.%d -all"`, i, i))
	}
	lines[0] = `wide.example TXT "v=spf1 ` + strings.Join(incs, " ") + ` -all"`
	srv := dnstest.Start(t, zoneOf(lines...))
	// The eight includes' TXT questions must all be in flight together.
	bar := srv.SetBarrier(8, 10*time.Second, func(name string, qt uint16) bool {
		return qt == dns.TypeTXT && strings.HasSuffix(name, ".wide.example.") && strings.HasPrefix(name, "i")
	})
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 20 * time.Second, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	lr := Lint(context.Background(), c, "wide.example")
	if lr.Lookups != 8 || len(lr.Tree.Children) != 8 {
		t.Fatalf("lookups %d children %d", lr.Lookups, len(lr.Tree.Children))
	}
	if !bar.Reached() {
		t.Errorf("at most %d of the 8 includes were asked at once: not fetched concurrently", bar.Most())
	}
}

func TestBranches(t *testing.T) {
	srv := dnstest.Start(t, zoneOf(
		`tree.example TXT "v=spf1 mx include:_spf.tree.example a:gone.tree.example ~all"`,
		`tree.example MX 10 mx.tree.example.`, `mx.tree.example A 192.0.2.1`,
		`_spf.tree.example TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
	))
	lr := Lint(context.Background(), srv.Client(t), "tree.example")
	var got []string
	for _, b := range lr.Tree.Branches() {
		s := b.Term.Text
		if b.Child != nil {
			s += fmt.Sprintf(" → %s [%d]", b.Child.Record, b.Child.Cost())
		}
		if b.Term.Void {
			s += " (void)"
		}
		got = append(got, s)
	}
	want := []string{"mx", "include:_spf.tree.example → v=spf1 ip4:192.0.2.0/24 -all [1]", "a:gone.tree.example (void)"}
	if !slices.Equal(got, want) || lr.Tree.Cost() != 3 || lr.Tree.TotalVoid != 1 {
		t.Errorf("branches %q (cost %d, void %d), want %q", got, lr.Tree.Cost(), lr.Tree.TotalVoid, want)
	}
	js, err := json.Marshal(lr)
	if err != nil || !strings.Contains(string(js), `"total_lookups":3`) || !strings.Contains(string(js), `"via":"include"`) {
		t.Errorf("JSON tree: %v %s", err, js)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestLintHostileRecordIsBounded(t *testing.T) {
	rec := "v=spf1" + strings.Repeat(" a:x.hostile.example", 400) + strings.Repeat(" include:hostile.example", 50) + " -all"
	srv := dnstest.Start(t, fmt.Sprintf("hostile.example. 300 IN TXT %s\n", txtChunks(rec)))
	lr := Lint(context.Background(), srv.Client(t), "hostile.example")
	if srv.Total() > 10 {
		t.Errorf("%d queries for one hostile record", srv.Total())
	}
	if !slices.Contains(ids(lr.Findings), "spf.too-many-lookups") || lr.Lookups < 450 {
		t.Errorf("findings %v", ids(lr.Findings))
	}
}

func txtChunks(s string) string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, `"`+s[:255]+`"`)
		s = s[255:]
	}
	return strings.Join(append(parts, `"`+s+`"`), " ")
}

// TestPassAllFix (issue 22): the fix for "v=spf1 +all" must not be "v=spf1
// ~all", which authorises no server if copied; a record with mechanisms
// keeps them.
func TestPassAllFix(t *testing.T) {
	srv := dnstest.Start(t, zoneOf(`only.example TXT "v=spf1 +all"`, `some.example TXT "v=spf1 ip4:192.0.2.1 mx +all"`))
	fix := func(domain string) string {
		for _, f := range Lint(context.Background(), srv.Client(t), domain).Findings {
			if f.ID == "spf.pass-all" {
				return f.Fix
			}
		}
		t.Fatalf("%s: no spf.pass-all", domain)
		return ""
	}
	if f := fix("only.example"); strings.Contains(f, `"v=spf1 ~all".`) || !strings.Contains(f, "List the servers") {
		t.Errorf("only +all: %q", f)
	}
	if f := fix("some.example"); !strings.Contains(f, `"v=spf1 ip4:192.0.2.1 mx ~all"`) {
		t.Errorf("with mechanisms: %q", f)
	}
}

// TestTreeAndEvidenceCountAlike (issue 22: the tree said 11 where the
// evidence said 12): an include's line in the tree and its line in the
// lookup evidence give the same number, and the root's total is the sum.
func TestTreeAndEvidenceCountAlike(t *testing.T) {
	srv := dnstest.Start(t, zoneOf(
		`deep.example TXT "v=spf1 include:a.deep.example mx -all"`,
		`deep.example MX 10 mx.deep.example.`, `mx.deep.example A 192.0.2.1`,
		`a.deep.example TXT "v=spf1 include:b.deep.example a:mx.deep.example -all"`,
		`b.deep.example TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
	))
	lr := Lint(context.Background(), srv.Client(t), "deep.example")
	ev := strings.Join(lookupEvidence(lr.Tree), "\n")
	inc := lr.Tree.Branches()[0].Child
	if inc == nil || inc.Cost() != 3 || !strings.Contains(ev, "include:a.deep.example: 3 lookup(s)") || lr.Tree.Cost() != 4 || lr.Lookups != 4 {
		t.Errorf("include costs %v, evidence:\n%s\nroot %d, lookups %d", inc, ev, lr.Tree.Cost(), lr.Lookups)
	}
}
