package mx_test

import (
	"fmt"
	"net/netip"

	"github.com/deliverdoctor/deliverdoctor/internal/mx"
)

func ExampleGenericPTR() {
	for _, c := range []struct{ name, ip string }{
		{"pool-71-105-3-4.nycmny.fios.verizon.net", "71.105.3.4"},
		{"dhcp-22-17.campus.example.edu", "192.0.2.9"},
		{"mail.example.com", "192.0.2.25"},
	} {
		rule, generic := mx.GenericPTR(c.name, netip.MustParseAddr(c.ip))
		fmt.Println(c.name, generic, rule.Why)
	}
	// Output:
	// pool-71-105-3-4.nycmny.fios.verizon.net true the address in order (1-2-3-4, 1.2.3.4.dsl)
	// dhcp-22-17.campus.example.edu true access-network word
	// mail.example.com false
}
