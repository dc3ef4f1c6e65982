package rbl_test

import (
	"fmt"
	"net/netip"

	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
)

func ExampleIPQuery() {
	fmt.Println(rbl.IPQuery(netip.MustParseAddr("192.0.2.25"), "zen.spamhaus.org"))
	fmt.Println(rbl.IPQuery(netip.MustParseAddr("2001:db8::25"), "zen.spamhaus.org"))
	// Output:
	// 25.2.0.192.zen.spamhaus.org
	// 5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org
}

func ExampleDomainNames() {
	// Domain lists are asked about the registered domain, and about the
	// name itself when it is a subdomain.
	fmt.Println(rbl.DomainNames("news.shop.example.co.uk"))
	// Output: [example.co.uk news.shop.example.co.uk]
}

func ExampleList_Meaning() {
	zen, _ := rbl.Default().ByID("spamhaus-zen")
	for _, a := range []string{"127.0.0.2", "127.0.0.10", "127.255.255.254"} {
		meaning, refused, _ := zen.Meaning(netip.MustParseAddr(a))
		fmt.Printf("%s refused=%v %s\n", a, refused, meaning)
	}
	// Output:
	// 127.0.0.2 refused=false SBL: a verified spam source or spam operation
	// 127.0.0.10 refused=false PBL: the ISP says this address should not send mail directly
	// 127.255.255.254 refused=true query refused: it came through a public or open resolver (or one with generic reverse DNS)
}

func ExampleCatalog_Resolve() {
	// --dnsbl zones: a keyed zone is matched to its catalogue entry.
	ls, _ := rbl.Default().Resolve([]string{"MYKEY.zen.dq.spamhaus.net", "ip:bl.example.net"})
	for _, l := range ls {
		fmt.Println(l.Name, l.Zone, l.Kind)
	}
	// Output:
	// Spamhaus ZEN mykey.zen.dq.spamhaus.net ip
	// bl.example.net bl.example.net ip
}
