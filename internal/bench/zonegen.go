// Package bench measures deliverdoctor against the physical limit of DNS: a
// deterministic reference zone set of realistic sending domains, and the
// critical-path lower bound of a run computed from the data dependencies of
// the questions it asked.
package bench

import (
	"fmt"
	"strings"
)

// ZoneOptions shape the reference zone set.
type ZoneOptions struct {
	Domains int // sending domains c00000.example ...
	// First skips the domains below it (their records and listings): a
	// window of a large zone, for tests of what happens past a boundary.
	First        int
	IncludeDepth int // depth of the ESP include chain below _spf.espN.example (>= 1)
	DNSBLs       int // blocklist zones (see DNSBLZones); 0: none
}

// DNSBLZones names the reference set's n blocklist zones as --dnsbl takes
// them: the first n-n/5 list addresses (ip:blNN.dnsbl.example), the rest
// domains (domain:dblNN.dnsbl.example). Each holds its RFC 5782 test entry,
// and a few reference domains or their first MX address are listed.
func DNSBLZones(n int) []string {
	var out []string
	ipLists := n - n/5
	for k := 1; k <= n; k++ {
		if k <= ipLists {
			out = append(out, fmt.Sprintf("ip:bl%02d.dnsbl.example", k))
		} else {
			out = append(out, fmt.Sprintf("domain:dbl%02d.dnsbl.example", k))
		}
	}
	return out
}

// listed reports whether reference domain i (or its first MX address) is on
// blocklist k: about one domain in 97 per list, different ones per list.
func listed(i, k int) bool { return (i+7*k)%97 == 0 }

// dkimKey is a real 2048-bit RSA public key, so DKIM checks parse it.
const dkimKey = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArcJVlh3fu1ofCgU87H8rTQe78XfTPd0OnYk8hF4SVg8jyRW14YOxnXP3REdata2EMb5N9W/vxziGQ//sxzE5S2QQA8w6QCMi9lWB/2rbGKuONZNOjySlwsdJVK9ebz1Z9tLRkofFI36sr6xYpy/jE4pyVqTMyeU+L042WYERWgui2EAd13gmVIyaB9+ldgwBMXwTfaDbap9cdUprEtKlSblLNPjV8sNsrI+1EaOQmHK1uq9+2HLo33ywev0IHUSJnjHGmcuMu4zpsxnvrSTpGU+RqTvk8dfBiL2B9XXWn2fY4v7ApdqSdWtpu/6Hb2pcz4FHCXM/NBhfnFN9nBDzsQIDAQAB"

// DomainName is the name of reference domain i.
func DomainName(i int) string { return fmt.Sprintf("c%05d.example", i) }

// ipFor gives host h (0..3) of domain i an address of its own: in
// 198.18.0.0/15, the RFC 2544 benchmarking range, for the first 32,768
// domains, then in 100.64.0.0/10 (RFC 6598), so a zone of up to about a
// million domains has no address twice.
func ipFor(i, h int) string {
	n := i*4 + h
	if n < 1<<17 {
		return fmt.Sprintf("198.%d.%d.%d", 18+(n>>16)&1, (n>>8)&255, n&255)
	}
	n -= 1 << 17
	return fmt.Sprintf("100.%d.%d.%d", 64+(n>>16)&63, (n>>8)&255, n&255)
}

// ReferenceZone returns zone text (root-relative names) for opts: per domain
// 3 MX hosts with forward-confirmed PTRs, an SPF record with an ESP include
// tree and a per-domain include, DMARC with an external rua and its
// authorisation record, three DKIM selectors (one CNAME-delegated to the
// ESP), MTA-STS and TLS-RPT records; and opts.DNSBLs blocklist zones.
func ReferenceZone(opts ZoneOptions) string {
	if opts.IncludeDepth < 1 {
		opts.IncludeDepth = 1
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	// Three ESPs with include chains of the requested depth, two branches each.
	for e := 0; e < 3; e++ {
		esp := fmt.Sprintf("esp%d.example", e)
		w("_spf.%s 300 IN TXT \"v=spf1 include:_nb1.%s include:_nb2.%s ~all\"", esp, esp, esp)
		for br := 1; br <= 2; br++ {
			for d := 1; d <= opts.IncludeDepth; d++ {
				name := fmt.Sprintf("_nb%d%s.%s", br, strings.Repeat("x", d-1), esp)
				next := fmt.Sprintf("_nb%d%s.%s", br, strings.Repeat("x", d), esp)
				rec := fmt.Sprintf("v=spf1 ip4:198.19.%d.0/24", e*16+br)
				if d < opts.IncludeDepth {
					rec += " include:" + next
				}
				w("%s 300 IN TXT \"%s ~all\"", name, rec)
			}
		}
		w("dkim.%s 300 IN TXT \"v=DKIM1; k=rsa; p=%s\"", esp, dkimKey)
	}
	zones := DNSBLZones(opts.DNSBLs)
	for k, z := range zones {
		kind, zone, _ := strings.Cut(z, ":")
		if kind == "ip" {
			w("2.0.0.127.%s 300 IN A 127.0.0.2", zone)
			w("2.0.0.127.%s 300 IN TXT \"RFC 5782 test entry\"", zone)
		} else {
			w("test.%s 300 IN A 127.0.1.2", zone)
		}
		for i := opts.First; i < opts.Domains; i++ {
			if !listed(i, k+1) {
				continue
			}
			if kind == "ip" {
				p := strings.Split(ipFor(i, 1), ".")
				w("%s.%s.%s.%s.%s 300 IN A 127.0.0.2", p[3], p[2], p[1], p[0], zone)
				w("%s.%s.%s.%s.%s 300 IN TXT \"listed for the benchmark\"", p[3], p[2], p[1], p[0], zone)
			} else {
				w("%s.%s 300 IN A 127.0.1.2", DomainName(i), zone)
			}
		}
	}
	w("reports.example 300 IN MX 10 mx.reports.example")
	w("mx.reports.example 300 IN A 192.0.2.254")
	for i := opts.First; i < opts.Domains; i++ {
		d := DomainName(i)
		for h := 1; h <= 3; h++ {
			w("%s 300 IN MX %d mx%d.%s", d, h*10, h, d)
			ip := ipFor(i, h)
			w("mx%d.%s 300 IN A %s", h, d, ip)
			p := strings.Split(ip, ".")
			w("%s.%s.%s.%s.in-addr.arpa 300 IN PTR mx%d.%s", p[3], p[2], p[1], p[0], h, d)
		}
		// 2001:2:H:L::1 with H:L the domain's number: a group is 16 bits,
		// so past 65,535 domains the number takes two groups.
		w("mx1.%s 300 IN AAAA 2001:2:%x:%x::1", d, i>>16, i&0xffff)
		w("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.%s.%s.2.0.0.0.1.0.0.2.ip6.arpa 300 IN PTR mx1.%s", nibbles16(i), nibbles16(i>>16), d)
		w("%s 300 IN TXT \"v=spf1 mx include:_spf.esp%d.example include:spf.%s ip4:%s ~all\"", d, i%3, d, ipFor(i, 1))
		w("spf.%s 300 IN TXT \"v=spf1 ip4:%s/30 -all\"", d, ipFor(i, 0))
		w("_dmarc.%s 300 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@reports.example\"", d)
		w("%s._report._dmarc.reports.example 300 IN TXT \"v=DMARC1\"", d)
		w("s1._domainkey.%s 300 IN TXT \"v=DKIM1; k=rsa; p=%s\"", d, dkimKey)
		w("google._domainkey.%s 300 IN TXT \"v=DKIM1; k=rsa; p=%s\"", d, dkimKey)
		w("selector1._domainkey.%s 300 IN CNAME dkim.esp%d.example", d, i%3)
		w("_mta-sts.%s 300 IN TXT \"v=STSv1; id=2026112301\"", d)
		w("_smtp._tls.%s 300 IN TXT \"v=TLSRPTv1; rua=mailto:tls@reports.example\"", d)
	}
	return b.String()
}

// nibbles16 writes the low 16 bits of i as reversed nibble labels.
func nibbles16(i int) string {
	return fmt.Sprintf("%x.%x.%x.%x", i&15, (i>>4)&15, (i>>8)&15, (i>>12)&15)
}
