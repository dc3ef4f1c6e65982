package bench

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

func TestCriticalPath(t *testing.T) {
	t0 := time.Unix(0, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	L := 50 * time.Millisecond
	qs := []Query{
		{Name: "a.example.", Type: dns.TypeMX, At: ms(0), Answer: []dns.RR{rr("a.example. 1 IN MX 10 mx.a.example.")}},
		{Name: "a.example.", Type: dns.TypeTXT, At: ms(0), Answer: []dns.RR{rr(`a.example. 1 IN TXT "v=spf1 mx include:_spf.esp.example ip4:192.0.2.9 ~all"`)}},
		{Name: "_dmarc.a.example.", Type: dns.TypeTXT, At: ms(1), Answer: []dns.RR{rr(`_dmarc.a.example. 1 IN TXT "v=DMARC1; p=none; rua=mailto:d@rep.example"`)}},
		{Name: "mx.a.example.", Type: dns.TypeA, At: ms(51), Answer: []dns.RR{rr("mx.a.example. 1 IN A 192.0.2.1")}},
		{Name: "_spf.esp.example.", Type: dns.TypeTXT, At: ms(51), Answer: []dns.RR{rr(`_spf.esp.example. 1 IN TXT "v=spf1 include:_nb.esp.example -all"`)}},
		{Name: "a.example._report._dmarc.rep.example.", Type: dns.TypeTXT, At: ms(52)},
		{Name: "1.2.0.192.in-addr.arpa.", Type: dns.TypePTR, At: ms(102), Answer: []dns.RR{rr("1.2.0.192.in-addr.arpa. 1 IN PTR mx.a.example.")}},
		{Name: "1.2.0.192.zen.spamhaus.org.", Type: dns.TypeA, At: ms(102)},
		{Name: "9.2.0.192.zen.spamhaus.org.", Type: dns.TypeA, At: ms(53)},
		{Name: "_nb.esp.example.", Type: dns.TypeTXT, At: ms(103)},
		{Name: "mx.a.example.", Type: dns.TypeA, At: ms(153)}, // FCrDNS: already asked: a duplicate
		// Asked at once with the TXT (speculative): depends on nothing.
		{Name: "selector1._domainkey.a.example.", Type: dns.TypeTXT, At: ms(2)},
	}
	p := CriticalPath(qs, L)
	if p.Depth != 3 || p.Unique != 11 || p.Duplicates != 1 {
		t.Fatalf("path %+v", p)
	}
	// A question asked before its parent's answer existed does not depend on it.
	qs2 := []Query{qs[0], {Name: "mx.a.example.", Type: dns.TypeA, At: ms(10)}}
	if p := CriticalPath(qs2, L); p.Depth != 1 {
		t.Errorf("causality ignored: %+v", p)
	}
}

func TestEmbeddedIP(t *testing.T) {
	for name, want := range map[string]string{
		"4.3.2.1.in-addr.arpa.": "1.2.3.4",
		"4.3.2.1.zen.example.":  "1.2.3.4",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.": "2001:db8::1",
	} {
		got, ok := embeddedIP(name)
		if !ok || got != netip.MustParseAddr(want) {
			t.Errorf("%s: %v %v", name, got, ok)
		}
	}
	if _, ok := embeddedIP("example.com."); ok {
		t.Error("example.com has no IP")
	}
}
