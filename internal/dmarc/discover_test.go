package dmarc

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// walkZone holds the examples of RFC 9989 4.10, 5.1.8 and B.4, plus the
// cases a linter meets.
const walkZone = `
example.com.            300 IN TXT "v=spf1 -all"
_dmarc.example.com.     300 IN TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:d@example.com"
mail.example.com.       300 IN A 192.0.2.1
_dmarc.signing.example.com. 300 IN TXT "v=DMARC1; p=none; sp=none"
signing.example.com.    300 IN A 192.0.2.2
a.b.c.d.e.f.g.h.i.j.k.example.com. 300 IN A 192.0.2.3

; psd=n below the apex: b.corp.example is an Organizational Domain of its own
_dmarc.corp.example.    300 IN TXT "v=DMARC1; p=reject"
_dmarc.b.corp.example.  300 IN TXT "v=DMARC1; p=none; psd=n; sp=quarantine"
a.b.corp.example.       300 IN A 192.0.2.4

; B.4.3: a Public Suffix Domain with psd=y
_dmarc.bank.example.    300 IN TXT "v=DMARC1; p=reject; psd=y; sp=quarantine; np=reject; rua=mailto:psd@bank.example"
_dmarc.giant.bank.example. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:d@giant.bank.example"
giant.bank.example.     300 IN A 192.0.2.5
mail.giant.bank.example. 300 IN A 192.0.2.6
mega.bank.example.      300 IN A 192.0.2.7
mail.mega.bank.example. 300 IN A 192.0.2.8

; several records
_dmarc.multi.example.   300 IN TXT "v=DMARC1; p=reject"
_dmarc.multi.example.   300 IN TXT "v=DMARC1; p=none"
_dmarc.multi.example.   300 IN TXT "some-verification=abc"
multi.example.          300 IN A 192.0.2.9
`

func lookup(t *testing.T, r dnsx.Resolver, domain string) *Discovery {
	t.Helper()
	d, err := Lookup(context.Background(), r, domain)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", domain, err)
	}
	return d
}

func stepNames(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

func TestWalkNames(t *testing.T) {
	// RFC 9989 4.10's example: 13 labels give exactly these eight queries.
	got := walkNames("a.b.c.d.e.f.g.h.i.j.mail.example.com")
	want := []string{"a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com", "h.i.j.mail.example.com",
		"i.j.mail.example.com", "j.mail.example.com", "mail.example.com", "example.com", "com"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	// RFC 9989 5.1.8: the psd=n record at b.c.d.e.f.g.example.com is never
	// asked for mail.a.b.c.d.e.f.g.example.com.
	got = walkNames("mail.a.b.c.d.e.f.g.example.com")
	want = []string{"mail.a.b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com", "d.e.f.g.example.com", "e.f.g.example.com",
		"f.g.example.com", "g.example.com", "example.com", "com"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	// Eight labels: no short cut.
	if got := walkNames("a.b.c.d.e.f.example.com"); len(got) != 8 || got[1] != "b.c.d.e.f.example.com" {
		t.Errorf("8 labels: %v", got)
	}
	if got := walkNames("example.com."); !reflect.DeepEqual(got, []string{"example.com", "com"}) {
		t.Errorf("got %v", got)
	}
	if got := walkNames("com"); !reflect.DeepEqual(got, []string{"com"}) {
		t.Errorf("got %v", got)
	}
}

func TestLookup(t *testing.T) {
	srv := dnstest.Start(t, walkZone)
	c := srv.Client(t)
	tests := []struct {
		domain          string
		foundAt, source string
		tag             string
		policy          Policy
		org, rule       string
		sub, nonexist   Policy
		subFrom         string
		walk            int
		exists          string
		psdDomain       string
		recordNil       bool
		firstStatus     StepStatus
		expect          string
	}{
		// Record at the domain; the org domain is the record with the fewest labels.
		{domain: "example.com", foundAt: "example.com", source: "domain", tag: "p", policy: PolicyReject,
			org: "example.com", rule: OrgRuleFewest, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "example.com", walk: 2, exists: "yes"},
		// An existing subdomain without a record: sp of the Organizational Domain.
		{domain: "mail.example.com", foundAt: "example.com", source: "organizational-domain", tag: "sp", policy: PolicyQuarantine,
			org: "example.com", rule: OrgRuleFewest, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "example.com", walk: 3, exists: "yes"},
		// A non-existent subdomain: np (RFC 9989 4.10.1, A.4).
		{domain: "ghost.example.com", foundAt: "example.com", source: "organizational-domain", tag: "np", policy: PolicyReject,
			org: "example.com", rule: OrgRuleFewest, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "example.com", walk: 3, exists: "no"},
		// B.4.1: a record at the subdomain applies with its p; org is example.com;
		// its own sp does not govern its subdomains.
		{domain: "signing.example.com", foundAt: "signing.example.com", source: "domain", tag: "p", policy: PolicyNone,
			org: "example.com", rule: OrgRuleFewest, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "example.com", walk: 3, exists: "yes"},
		// B.4.2: a deep name; the short cut skips to seven labels; example.com's sp.
		{domain: "a.b.c.d.e.f.g.h.i.j.k.example.com", foundAt: "example.com", source: "organizational-domain", tag: "sp", policy: PolicyQuarantine,
			org: "example.com", rule: OrgRuleFewest, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "example.com", walk: 8, exists: "yes"},
		// psd=n stops the walk and makes b.corp.example the org domain.
		{domain: "a.b.corp.example", foundAt: "b.corp.example", source: "organizational-domain", tag: "sp", policy: PolicyQuarantine,
			org: "b.corp.example", rule: OrgRulePSDNo, sub: PolicyQuarantine, nonexist: PolicyQuarantine, subFrom: "b.corp.example", walk: 2, exists: "yes"},
		// B.4.3: giant.bank.example is the org domain (one below psd=y).
		{domain: "giant.bank.example", foundAt: "giant.bank.example", source: "domain", tag: "p", policy: PolicyQuarantine,
			org: "giant.bank.example", rule: OrgRulePSDYes, sub: PolicyQuarantine, nonexist: PolicyQuarantine, subFrom: "giant.bank.example", walk: 2, exists: "yes", psdDomain: "bank.example"},
		{domain: "mail.giant.bank.example", foundAt: "giant.bank.example", source: "organizational-domain", tag: "p", policy: PolicyQuarantine,
			org: "giant.bank.example", rule: OrgRulePSDYes, sub: PolicyQuarantine, nonexist: PolicyQuarantine, subFrom: "giant.bank.example", walk: 3, exists: "yes", psdDomain: "bank.example"},
		// mega.bank.example publishes nothing: the PSD's policy applies.
		{domain: "mail.mega.bank.example", foundAt: "bank.example", source: "public-suffix-domain", tag: "sp", policy: PolicyQuarantine,
			org: "mega.bank.example", rule: OrgRulePSDYes, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "bank.example", walk: 3, exists: "yes", psdDomain: "bank.example"},
		{domain: "nope.bank.example", foundAt: "bank.example", source: "public-suffix-domain", tag: "np", policy: PolicyReject,
			org: "nope.bank.example", rule: OrgRulePSDYes, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "bank.example", walk: 2, exists: "no", psdDomain: "bank.example"},
		// psd=y at the start: it is its own org domain.
		{domain: "bank.example", foundAt: "bank.example", source: "domain", tag: "p", policy: PolicyReject,
			org: "bank.example", rule: OrgRuleFewest, sub: PolicyQuarantine, nonexist: PolicyReject, subFrom: "bank.example", walk: 1, exists: "yes", psdDomain: "bank.example"},
		// Several records: discarded, no policy.
		{domain: "multi.example", recordNil: true, org: "multi.example", rule: OrgRuleNoRecord, walk: 2, exists: "yes", firstStatus: StepMultiple},
		{domain: "nothing.example", recordNil: true, org: "nothing.example", rule: OrgRuleNoRecord, walk: 2, exists: "no", firstStatus: StepNXDomain},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			d := lookup(t, c, tt.domain)
			if len(d.Walk) != tt.walk {
				t.Errorf("walk %v, want %d steps", stepNames(d.Walk), tt.walk)
			}
			if d.OrgDomain != tt.org || d.OrgRule != tt.rule {
				t.Errorf("org %s (%s), want %s (%s)", d.OrgDomain, d.OrgRule, tt.org, tt.rule)
			}
			if d.Exists != tt.exists {
				t.Errorf("exists %s, want %s", d.Exists, tt.exists)
			}
			if d.PSDDomain != tt.psdDomain {
				t.Errorf("psd domain %q, want %q", d.PSDDomain, tt.psdDomain)
			}
			if tt.recordNil {
				if d.Record != nil {
					t.Errorf("record %q found at %s", d.Text, d.FoundAt)
				}
				if d.Walk[0].Status != tt.firstStatus {
					t.Errorf("first step %s, want %s", d.Walk[0].Status, tt.firstStatus)
				}
				return
			}
			if d.Record == nil {
				t.Fatalf("no record; walk %+v", d.Walk)
			}
			if d.FoundAt != tt.foundAt || d.Source != tt.source || d.PolicyTag != tt.tag || d.Policy != tt.policy {
				t.Errorf("found at %s (%s), %s=%s; want %s (%s), %s=%s", d.FoundAt, d.Source, d.PolicyTag, d.Policy, tt.foundAt, tt.source, tt.tag, tt.policy)
			}
			if d.SubdomainPolicy != tt.sub || d.NonexistentPolicy != tt.nonexist || d.SubdomainPolicyFrom != tt.subFrom {
				t.Errorf("subdomains %s, non-existent %s from %s; want %s, %s from %s", d.SubdomainPolicy, d.NonexistentPolicy, d.SubdomainPolicyFrom, tt.sub, tt.nonexist, tt.subFrom)
			}
		})
	}
}

// TestWalkShortCutQueries checks on the wire that the short cut skips the
// intermediate names and that every name is asked once.
func TestWalkShortCutQueries(t *testing.T) {
	srv := dnstest.Start(t, walkZone)
	c := patientClient(t, srv)
	d := lookup(t, c, "a.b.c.d.e.f.g.h.i.j.k.example.com")
	if d.Walk[1].Name != "_dmarc.g.h.i.j.k.example.com" || d.Walk[1].Note == "" {
		t.Errorf("second step %+v", d.Walk[1])
	}
	for _, skipped := range []string{"_dmarc.b.c.d.e.f.g.h.i.j.k.example.com", "_dmarc.f.g.h.i.j.k.example.com"} {
		if n := srv.Count(skipped, dns.TypeTXT); n != 0 {
			t.Errorf("%s asked %d times", skipped, n)
		}
	}
	for _, st := range d.Walk {
		if n := srv.Count(st.Name, dns.TypeTXT); n != 1 {
			t.Errorf("%s asked %d times", st.Name, n)
		}
	}
	if total := srv.Total(); total > maxWalkQueries+1 {
		t.Errorf("%d queries sent, want at most %d walk names plus the existence check", total, maxWalkQueries+1)
	}
}

// TestWalkConcurrent: the walk's names are asked at once, so a slow
// server costs one round trip, not eight: all eight _dmarc questions are
// in flight together (a dnstest barrier).
func TestWalkConcurrent(t *testing.T) {
	srv := dnstest.Start(t, walkZone)
	bar := srv.SetBarrier(8, 10*time.Second, func(name string, qt uint16) bool {
		return qt == dns.TypeTXT && strings.HasPrefix(name, "_dmarc.")
	})
	c := patientClient(t, srv)
	d := lookup(t, c, "a.b.c.d.e.f.g.h.i.j.k.example.com")
	if len(d.Walk) != 8 || !bar.Reached() {
		t.Errorf("walk of %d names: at most %d asked at once, want 8", len(d.Walk), bar.Most())
	}
}

func TestWalkDNSFailure(t *testing.T) {
	srv := dnstest.Start(t, walkZone)
	srv.Set("_dmarc.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)
	// The failing name is needed: the walk cannot conclude "no record".
	d, err := Lookup(context.Background(), c, "mail.example.com")
	if !dnsx.IsTemporary(err) {
		t.Fatalf("err %v, want temporary", err)
	}
	if d.Record != nil || d.Walk[len(d.Walk)-1].Status != StepError {
		t.Errorf("walk %+v", d.Walk)
	}
	// The author's own record is known even when a parent fails.
	d, err = Lookup(context.Background(), c, "signing.example.com")
	if !dnsx.IsTemporary(err) || d.Record == nil || d.Policy != PolicyNone || d.OrgDomain != "" {
		t.Errorf("err %v, record %v, org %q", err, d.Record, d.OrgDomain)
	}
	if _, err := lookupOrgDomain(context.Background(), c, "signing.example.com"); !dnsx.IsTemporary(err) {
		t.Errorf("OrganizationalDomain err %v", err)
	}
	// A failure beyond a psd stop does not matter.
	srv.Set("_dmarc.corp.example", dnstest.Behavior{Drop: true})
	d, err = Lookup(context.Background(), c, "a.b.corp.example")
	if err != nil || d.OrgDomain != "b.corp.example" {
		t.Errorf("err %v, org %s", err, d.OrgDomain)
	}
}

func TestLookupInvalidName(t *testing.T) {
	srv := dnstest.Start(t, walkZone)
	_, err := Lookup(context.Background(), srv.Client(t), "exa mple.com")
	if !errors.Is(err, dnsx.ErrInvalidName) {
		t.Errorf("err %v", err)
	}
}

func TestOrganizationalDomains(t *testing.T) {
	srv := dnstest.Start(t, walkZone)
	orgs, err := OrganizationalDomains(context.Background(), srv.Client(t),
		"mail.example.com", "signing.example.com", "mail.mega.bank.example", "Mail.Giant.Bank.Example.", "", "other.test")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"mail.example.com": "example.com", "signing.example.com": "example.com",
		"mail.mega.bank.example": "mega.bank.example", "mail.giant.bank.example": "giant.bank.example", "other.test": "other.test"}
	if !reflect.DeepEqual(orgs, want) {
		t.Errorf("got %v", orgs)
	}
}

// patientClient does not time out (and retry) under a loaded test run, so
// query counts are exact.
func patientClient(t *testing.T, srv *dnstest.Server) *dnsx.Client {
	t.Helper()
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 5 * time.Second, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
