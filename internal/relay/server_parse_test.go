package relay

import "testing"

func TestParseServer(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
	}{
		{"mx.example.com", "mx.example.com", 25},
		{"MX.Example.COM:2525", "mx.example.com", 2525},
		{"192.0.2.1", "192.0.2.1", 25},
		{"192.0.2.1:587", "192.0.2.1", 587},
		{"2001:db8::1", "2001:db8::1", 25},
		{"[2001:db8::1]", "2001:db8::1", 25},
		{"[2001:db8::1]:2525", "2001:db8::1", 2525},
		{"::ffff:192.0.2.1", "192.0.2.1", 25},
	}
	for _, tt := range tests {
		h, p, err := ParseServer(tt.in)
		if err != nil || h != tt.host || p != tt.port {
			t.Errorf("ParseServer(%q) = %q %d %v", tt.in, h, p, err)
		}
	}
	for _, bad := range []string{"mx.example.com:0", "mx.example.com:99999", "mx.example.com:smtp", "exa mple.com", "fe80::1%eth0", "a:b:c"} {
		if _, _, err := ParseServer(bad); err == nil {
			t.Errorf("ParseServer(%q) accepted", bad)
		}
	}
}
