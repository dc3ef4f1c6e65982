package rbl

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const senderZone = `
sender.example.        300 IN MX  10 mx1.sender.example.
sender.example.        300 IN MX  20 mx2.sender.example.
sender.example.        300 IN TXT "v=spf1 mx ip4:192.0.2.10 ip4:198.51.100.0/24 ip6:2001:db8::25 -ip4:192.0.2.66 include:_spf.provider.example ~all"
mx1.sender.example.    300 IN A   192.0.2.10
mx2.sender.example.    300 IN A   192.0.2.11
mx2.sender.example.    300 IN AAAA 2001:db8::11
internal.sender.example. 300 IN A 10.1.2.3
10.2.0.192.zen.spamhaus.org. 60 IN A 127.0.0.2
11.2.0.192.bl.spamcop.net.   60 IN A 127.0.0.2
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org. 60 IN A 127.0.0.4

private.example.       300 IN MX  10 internal.sender.example.
nomail.example.        300 IN TXT "v=spf1 -all"
slowspf.example.       300 IN MX  10 mx2.sender.example.
`

func TestSendingIPs(t *testing.T) {
	srv := dnstest.Start(t, senderZone)
	subs, notes, problems := SendingIPs(context.Background(), srv.Client(t), "sender.example", 20)
	if len(problems) != 0 {
		t.Fatalf("problems %+v", problems)
	}
	var got []string
	for _, s := range subs {
		got = append(got, s.Value+" <- "+strings.Join(s.Sources, "; "))
	}
	want := []string{
		"192.0.2.10 <- MX mx1.sender.example (preference 10); SPF ip4:192.0.2.10",
		"192.0.2.11 <- MX mx2.sender.example (preference 20)",
		"2001:db8::11 <- MX mx2.sender.example (preference 20)",
		"2001:db8::25 <- SPF ip6:2001:db8::25",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sending addresses:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(strings.Join(notes, "|"), "ip4:198.51.100.0/24") {
		t.Errorf("the wide SPF network is not mentioned: %q", notes)
	}
	for _, s := range subs {
		if s.Value == "192.0.2.66" {
			t.Error("-ip4:192.0.2.66 forbids sending; it is not a sending address")
		}
	}

	subs, _, _ = SendingIPs(context.Background(), srv.Client(t), "private.example", 20)
	if len(subs) != 1 || subs[0].Skip == "" {
		t.Errorf("a private MX address must be listed but not asked: %+v", subs)
	}
}

func TestCheckDomainSendingIPs(t *testing.T) {
	srv := dnstest.Start(t, senderZone)
	ls := lists(t, "spamhaus-zen", "spamcop", "spamhaus-dbl")
	rep := CheckDomain(context.Background(), srv.Client(t), "sender.example", Options{Lists: ls})
	if rep.Status != findings.StatusFail {
		t.Fatalf("status %s: %s", rep.Status, rep.Summary)
	}
	if r := find(t, rep, "spamhaus-zen", "192.0.2.10"); r.Status != StatusListed {
		t.Errorf("%+v", r)
	}
	if r := find(t, rep, "spamcop", "192.0.2.11"); r.Status != StatusListed {
		t.Errorf("%+v", r)
	}
	if r := find(t, rep, "spamhaus-zen", "2001:db8::25"); r.Status != StatusListed {
		t.Errorf("%+v", r)
	}
	if r := find(t, rep, "spamhaus-dbl", "sender.example"); r.Status != StatusClean {
		t.Errorf("%+v", r)
	}
	// The finding says where the address came from.
	var titles []string
	for _, f := range rep.Findings {
		titles = append(titles, f.Title)
		if strings.Contains(f.Title, "192.0.2.10") && !strings.Contains(f.Detail, "MX mx1.sender.example (preference 10); SPF ip4:192.0.2.10") {
			t.Errorf("detail does not say where 192.0.2.10 came from: %q", f.Detail)
		}
	}
	if len(rep.Findings) != 3 {
		t.Errorf("findings %q", titles)
	}
	if !strings.HasPrefix(rep.Summary, "sender.example and 4 sending addresses: listed on Spamhaus ZEN, SpamCop") {
		t.Errorf("summary %q", rep.Summary)
	}
}

func TestCheckDomainLookupFailures(t *testing.T) {
	srv := dnstest.Start(t, senderZone)
	srv.Set("slowspf.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure, Types: []uint16{dns.TypeTXT}})
	rep := CheckDomain(context.Background(), srv.Client(t), "slowspf.example", Options{Lists: lists(t, "spamhaus-zen")})
	if rep.Status != findings.StatusError || !slices.Contains(findingIDs(rep), "rbl.dns-error") {
		t.Errorf("a failed SPF lookup must make the check an error: %s %v", rep.Status, findingIDs(rep))
	}
	// The MX addresses were still checked.
	if r := find(t, rep, "spamhaus-zen", "192.0.2.11"); r.Status != StatusClean {
		t.Errorf("%+v", r)
	}
	if !strings.Contains(rep.Summary, "1 lookup failed") || strings.Contains(rep.Summary, "not listed on Spamhaus ZEN") {
		t.Errorf("summary %q hides the failure", rep.Summary)
	}

	rep = CheckDomain(context.Background(), srv.Client(t), "nomail.example", Options{Lists: lists(t, "spamhaus-zen", "spamhaus-dbl")})
	if rep.Status != findings.StatusPass || !strings.Contains(strings.Join(rep.Notes, "|"), "found no sending address") {
		t.Errorf("status %s notes %q", rep.Status, rep.Notes)
	}
}
