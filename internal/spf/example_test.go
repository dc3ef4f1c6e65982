package spf_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

func ExampleParseRecord() {
	rec, err := spf.ParseRecord("v=spf1 ip4:192.0.2.0/24 include:_spf.example.com moo ~all")
	fmt.Println(err)
	rec, _ = spf.ParseRecord("V=SPF1  MX  -ALL")
	fmt.Println(rec.String())
	// Output:
	// SPF syntax error: term 3 "moo" (byte 49): unknown mechanism "moo" (known: all include a mx ptr ip4 ip6 exists)
	// v=spf1 mx -all
}

func ExampleCheckHost() {
	srv, _ := dnstest.New(`
example.com.      300 IN TXT "v=spf1 include:_spf.example.com -all"
_spf.example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
`)
	defer srv.Close()
	r, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}})
	for _, ip := range []string{"192.0.2.25", "198.51.100.1"} {
		ev := spf.CheckHost(context.Background(), r, spf.Args{IP: netip.MustParseAddr(ip), Sender: "bob@example.com"})
		fmt.Println(ip, ev.Result, ev.Mechanism, ev.Lookups)
	}
	// Output:
	// 192.0.2.25 pass include:_spf.example.com 1
	// 198.51.100.1 fail -all 1
}
