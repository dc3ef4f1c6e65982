package rbl

import (
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

const hexDigits = "0123456789abcdef"

// ReverseIP returns the label sequence a DNSBL is queried with for ip,
// without the zone: the four octets of an IPv4 address in reverse order
// (RFC 5782 2.1), or the 32 nibbles of an IPv6 address in reverse order
// (RFC 5782 2.4, the ip6.arpa form of RFC 3596 2.5). An IPv4-mapped IPv6
// address is queried as IPv6: RFC 5782 5's IPv6 test entry ::ffff:7f00:2 is
// one. Callers unmap addresses that should be checked as IPv4.
func ReverseIP(ip netip.Addr) string {
	if ip.Is4() {
		b := ip.As4()
		var sb strings.Builder
		for i := 3; i >= 0; i-- {
			sb.WriteString(strconv.Itoa(int(b[i])))
			if i > 0 {
				sb.WriteByte('.')
			}
		}
		return sb.String()
	}
	b := ip.As16()
	out := make([]byte, 0, 63)
	for i := 15; i >= 0; i-- {
		if i < 15 {
			out = append(out, '.')
		}
		out = append(out, hexDigits[b[i]&0x0f], '.', hexDigits[b[i]>>4])
	}
	return string(out)
}

// IPQuery is the name to look up for ip on zone.
func IPQuery(ip netip.Addr, zone string) string { return ReverseIP(ip) + "." + zone }

// DomainQuery is the name to look up for domain on zone (RFC 5782 3: the
// name itself, prepended to the zone).
func DomainQuery(domain, zone string) string {
	return strings.TrimSuffix(strings.ToLower(domain), ".") + "." + zone
}

// DomainNames returns the names to look up on domain lists for domain.
//
// Domain lists list registered domains (URIBL strips host parts; Spamhaus
// DBL and SURBL list registrable names and some host names), so the
// registered domain (the public-suffix-list "eTLD+1", from
// golang.org/x/net/publicsuffix) is always asked. When domain is a
// subdomain, the name as given is asked too: DBL and SURBL do list some
// host names, and a listing of either hurts mail from it. A name that is
// itself a public suffix, or that the list cannot place, is asked as given.
func DomainNames(domain string) []string {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	reg, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil || reg == d {
		return []string{d}
	}
	return []string{reg, d}
}
