package bench

import (
	"context"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
)

// The reference set's blocklists answer like real ones: their RFC 5782
// test entries, and listings for the domains listed() names, by address
// (IP lists) and by name (domain lists).
func TestReferenceDNSBLs(t *testing.T) {
	const domains, lists = 200, 20
	srv := dnstest.Start(t, ReferenceZone(ZoneOptions{Domains: domains, IncludeDepth: 2, DNSBLs: lists}))
	c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	zones := DNSBLZones(lists)
	if len(zones) != lists || zones[0] != "ip:bl01.dnsbl.example" || zones[lists-1] != "domain:dbl20.dnsbl.example" {
		t.Fatalf("zones %v", zones)
	}
	ls, err := rbl.Default().Resolve(zones)
	if err != nil {
		t.Fatal(err)
	}
	opts := rbl.Options{Lists: ls, Health: true}
	// 90 is on bl01 (by its first MX address), 75 on dbl17 (by name).
	if !listed(90, 1) || !listed(75, 17) {
		t.Fatal("listed() changed: pick other domains")
	}
	for _, i := range []int{0, 5, 26, 40, 75, 90} {
		want := 0
		for k := 1; k <= lists; k++ {
			if listed(i, k) {
				want++
			}
		}
		rep := rbl.CheckDomain(context.Background(), c, DomainName(i), opts)
		if rep.Counts.Listed != want || rep.Counts.Error != 0 {
			t.Errorf("%s: %d listings, %d errors; want %d listings (%s)", DomainName(i), rep.Counts.Listed, rep.Counts.Error, want, rep.Summary)
		}
	}
}
