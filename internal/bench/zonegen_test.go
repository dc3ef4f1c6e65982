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

// Past 65,535 domains the zone stays valid: every AAAA parses and its PTR
// name is the address's own ip6.arpa name (a window of domains around the
// boundary, generated alone: the whole 70,000-domain zone took 16 s, 140 s
// under -race), and no MX host address repeats in a zone of 70,000
// domains (ipFor, which gives every address).
func TestReferenceZoneLarge(t *testing.T) {
	const first, n = 65530, 65542
	z := ReferenceZone(ZoneOptions{First: first, Domains: n, IncludeDepth: 1})
	ptr6 := map[string]bool{}
	var aaaa []netip.Addr
	for line := range strings.Lines(z) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		switch f[3] {
		case "AAAA":
			a, err := netip.ParseAddr(f[4])
			if err != nil || !a.Is6() {
				t.Fatalf("invalid AAAA: %s", line)
			}
			aaaa = append(aaaa, a)
		case "PTR":
			if strings.HasSuffix(f[0], ".ip6.arpa") {
				ptr6[f[0]] = true
			}
		case "MX":
			if strings.HasPrefix(f[0], DomainName(first-1)) {
				t.Errorf("a domain below First: %s", line)
			}
		}
	}
	if len(aaaa) != n-first {
		t.Fatalf("%d AAAA records, want %d", len(aaaa), n-first)
	}
	for _, a := range aaaa {
		if !ptr6[reverse6(a)] {
			t.Errorf("no PTR for %s (%s)", a, reverse6(a))
		}
	}
	if aaaa[5] == aaaa[6] || aaaa[5].String() != "2001:2:0:ffff::1" || aaaa[6].String() != "2001:2:1::1" {
		t.Errorf("addresses around domain 65,535: %s %s", aaaa[5], aaaa[6])
	}
	seen := make(map[string]int, 4*70000)
	for i := 0; i < 70000; i++ {
		for h := 0; h < 4; h++ {
			ip := ipFor(i, h)
			a, err := netip.ParseAddr(ip)
			if err != nil || !a.Is4() {
				t.Fatalf("domain %d host %d: invalid address %q", i, h, ip)
			}
			if prev, ok := seen[ip]; ok {
				t.Fatalf("%s is the address of domains %d and %d", ip, prev, i)
			}
			seen[ip] = i
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
