package mx

import (
	"net/netip"
	"testing"
)

func TestGenericPTR(t *testing.T) {
	tests := []struct {
		name, ip string
		generic  bool
	}{
		// the address embedded
		{"1-2-3-4.dyn.isp.example", "1.2.3.4", true},
		{"ip-10-1-2-3.ec2.internal", "10.1.2.3", true},
		{"pool-71-105-3-4.nycmny.fios.verizon.net", "71.105.3.4", true},
		{"static.88-198-1-2.clients.your-server.de", "88.198.1.2", true},
		{"static-ip-198-51-100-7.isp.example", "198.51.100.7", true},
		{"c-73-1-2-3.hsd1.ca.comcast.net", "73.1.2.3", true},
		{"4.3.2.1.dsl.isp.example", "1.2.3.4", true},
		{"host4-3-2-1.isp.example", "1.2.3.4", true},
		{"cpe-001002003004.isp.example", "1.2.3.4", true},
		{"c0000219.cust.isp.example", "192.0.2.25", true},
		{"3221226009.isp.example", "192.0.2.25", true},
		{"001-002-003-004.isp.example", "1.2.3.4", true},
		// IPv6
		{"2001-db8-0-0-0-0-0-25.dyn.isp.example", "2001:db8::25", true},
		{"20010db8000000000000000000000025.v6.isp.example", "2001:db8::25", true},
		{"0-0-0-25.v6.isp.example", "2001:db8::25", true},
		// access-network words
		{"dhcp-22-17.campus.example.edu", "203.0.114.9", true},
		{"dynamic.example", "203.0.114.9", false}, // only the registered domain
		{"mail.dynamic-dsl.example", "203.0.114.9", false},
		{"dyn.isp.example", "203.0.114.9", true}, // a host called dyn
		{"adsl-dynamic.isp.example", "203.0.114.9", true},
		{"ppp12.isp.example", "203.0.114.9", true},
		{"host123.hosting.example", "203.0.114.9", true},
		{"customer-123.isp.example", "203.0.114.9", true},
		{"unassigned.psychz.example", "203.0.114.9", true},
		{"x.unassigned.psychz.example", "203.0.114.9", true},
		{"12-34-56-78.rev.isp.example", "203.0.114.9", true},
		// names chosen for mail servers
		{"mx1.example.com", "192.0.2.25", false},
		{"mail.example.com", "1.2.3.4", false},
		{"mail-out.example.com", "203.0.114.9", false},
		{"smtp.dynamic-systems.example", "203.0.114.9", false},
		{"mail-sor-f41.google.com", "209.85.220.41", false},
		{"a8-12.smtp-out.amazonses.com", "54.240.8.12", false},
		{"mail-bn1on0065.outbound.protection.outlook.com", "157.56.110.65", false},
		{"o1.email.sendgrid.example", "203.0.114.9", false},
		{"mail1234.example.com", "1.2.3.4", false},       // 1234 is not 1.2.3.4 written out
		{"a11-2-3-4x.example.com", "1.2.3.4", false},     // digit boundaries
		{"mx11-2-3-4.example.com", "1.2.3.4", true},      // mostly a dashed number
		{"smtp1.pool.example.com", "203.0.114.9", false}, // a mail-server name
		{"pool.example.com", "203.0.114.9", true},
	}
	for _, tt := range tests {
		rule, got := GenericPTR(tt.name, netip.MustParseAddr(tt.ip))
		if got != tt.generic {
			t.Errorf("GenericPTR(%q, %s) = %v (%s %s), want %v", tt.name, tt.ip, got, rule.Kind, rule.Pattern, tt.generic)
		}
	}
}

func TestGenericRulesParse(t *testing.T) {
	rs, err := parseGenericRules(genericRules)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range rs {
		kinds[r.Kind]++
		if r.Why == "" {
			t.Errorf("rule %q has no explanation", r.Pattern)
		}
	}
	if kinds["ip4"] == 0 || kinds["ip6"] == 0 || kinds["word"] == 0 || kinds["skip"] == 0 {
		t.Errorf("kinds %v", kinds)
	}
	for _, bad := range []string{"ip4 {nope}", "word (", "what ever", "ip4"} {
		if _, err := parseGenericRules(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzGenericPTR(f *testing.F) {
	f.Add("1-2-3-4.dyn.isp.example", "1.2.3.4")
	f.Add("mx1.example.com", "2001:db8::1")
	f.Fuzz(func(t *testing.T, name, ip string) {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		GenericPTR(name, a)
	})
}
