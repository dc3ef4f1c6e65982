package mx

import (
	"context"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

// TestMailHosts: the one rule for a domain's mail hosts, which mx, rbl,
// relay, dane and mta-sts share.
func TestMailHosts(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, `
two.example.      300 IN MX 20 b.two.example.
two.example.      300 IN MX 10 A.two.example.
two.example.      300 IN MX 30 a.two.example.
null.example.     300 IN MX 0 .
mixed.example.    300 IN MX 0 .
mixed.example.    300 IN MX 10 mx.mixed.example.
implicit.example. 300 IN A 192.0.2.1
`)
	srv.Set("servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	r := srv.Client(t)
	tests := []struct {
		domain string
		kind   HostSetKind
		names  []string
		err    bool
	}{
		{"two.example", HostsMX, []string{"a.two.example", "b.two.example"}, false},
		{"null.example", HostsNull, nil, false},
		{"mixed.example", HostsNull, nil, false}, // a null MX means no mail, whatever sits beside it
		{"implicit.example", HostsImplicit, []string{"implicit.example"}, false},
		{"missing.example", HostsNXDomain, nil, false},
		{"servfail.example", "", nil, true}, // a DNS failure is never "no MX"
	}
	for _, tt := range tests {
		set, err := MailHosts(context.Background(), r, tt.domain)
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.domain, err)
			continue
		}
		if err != nil {
			continue
		}
		if set.Kind != tt.kind || !slices.Equal(set.Names(), tt.names) {
			t.Errorf("%s: %s %v, want %s %v", tt.domain, set.Kind, set.Names(), tt.kind, tt.names)
		}
	}
}
