package rbl

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

func TestReverseIP(t *testing.T) {
	tests := []struct{ ip, want string }{
		// RFC 5782 2.1: the octets in reverse order.
		{"192.168.42.23", "23.42.168.192"},
		{"127.0.0.2", "2.0.0.127"},
		{"0.0.0.0", "0.0.0.0"},
		{"255.255.255.255", "255.255.255.255"},
		// RFC 5782 2.4: IPv6 addresses are 32 nibbles, reversed (its example).
		{"2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"},
		// RFC 5782 5: the IPv6 test entry is an IPv4-mapped address, asked as IPv6.
		{"::ffff:7f00:2", "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"},
	}
	for _, tt := range tests {
		if got := ReverseIP(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("ReverseIP(%s) = %s, want %s", tt.ip, got, tt.want)
		}
	}
}

func FuzzReverseIP(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1})
	f.Add([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		// The reversed labels are exactly the in-addr.arpa / ip6.arpa name.
		want := dnsx.ReverseName(ip)
		if ip.Is4In6() {
			return // ReverseName unmaps; blocklists ask mapped addresses as IPv6
		}
		got := ReverseIP(ip) + "."
		if !strings.HasPrefix(want, got) {
			t.Fatalf("%s: %q is not a prefix of %q", ip, got, want)
		}
		if _, err := dnsx.CanonicalName(IPQuery(ip, "zen.spamhaus.org")); err != nil {
			t.Fatalf("%s: query name invalid: %v", ip, err)
		}
	})
}

func TestDomainNames(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"example.com", []string{"example.com"}},
		{"Example.COM.", []string{"example.com"}},
		{"mail.example.com", []string{"example.com", "mail.example.com"}},
		{"a.b.example.co.uk", []string{"example.co.uk", "a.b.example.co.uk"}},
		{"co.uk", []string{"co.uk"}},         // a public suffix: as given
		{"localhost", []string{"localhost"}}, // no suffix: as given
		{"xn--bcher-kva.example", []string{"xn--bcher-kva.example"}},
	}
	for _, tt := range tests {
		if got := DomainNames(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("DomainNames(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := DomainQuery("Example.com.", "dbl.spamhaus.org"); got != "example.com.dbl.spamhaus.org" {
		t.Errorf("DomainQuery = %s", got)
	}
}
