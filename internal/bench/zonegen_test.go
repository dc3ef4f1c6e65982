package bench

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
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

// Past 65,535 domains the zone stays valid: every AAAA parses, its PTR
// name is the address's own ip6.arpa name, and no IPv4 address repeats.
func TestReferenceZoneLarge(t *testing.T) {
	t.Parallel()
	const n = 70000
	z := ReferenceZone(ZoneOptions{Domains: n, IncludeDepth: 1})
	// The zone has over a million lines: read them in place (substrings of
	// z, no per-line allocation), looking only at the types checked here.
	ptr6 := make(map[string]bool, n)
	aaaa := make([]netip.Addr, 0, n)
	seen := make(map[string]string, 3*n)
	for line := range strings.Lines(z) {
		line = strings.TrimSuffix(line, "\n")
		owner, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		_, rest, _ = strings.Cut(rest, " ") // TTL
		_, rest, _ = strings.Cut(rest, " ") // class
		typ, value, ok := strings.Cut(rest, " ")
		if !ok {
			continue
		}
		switch typ {
		case "AAAA":
			a, err := netip.ParseAddr(value)
			if err != nil || !a.Is6() {
				t.Fatalf("invalid AAAA: %s", line)
			}
			aaaa = append(aaaa, a)
		case "PTR":
			if strings.HasSuffix(owner, ".ip6.arpa") {
				ptr6[owner] = true
			}
		case "A":
			if strings.HasPrefix(owner, "mx") {
				if prev, ok := seen[value]; ok {
					t.Fatalf("%s is the address of %s and %s", value, prev, owner)
				}
				seen[value] = owner
			}
		}
	}
	if len(aaaa) != n {
		t.Fatalf("%d AAAA records, want %d", len(aaaa), n)
	}
	if len(seen) != 3*n+1 { // and mx.reports.example
		t.Fatalf("%d MX host addresses, want %d", len(seen), 3*n+1)
	}
	for _, a := range []netip.Addr{aaaa[0], aaaa[65535], aaaa[65536], aaaa[n-1]} {
		if !ptr6[reverse6(a)] {
			t.Errorf("no PTR for %s (%s)", a, reverse6(a))
		}
	}
}

func reverse6(a netip.Addr) string {
	b := a.As16()
	var s strings.Builder
	for i := 15; i >= 0; i-- {
		fmt.Fprintf(&s, "%x.%x.", b[i]&15, b[i]>>4)
	}
	return s.String() + "ip6.arpa"
}
