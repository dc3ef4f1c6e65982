package dnsx_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

// BenchmarkExchange measures the network path: every question is new, so
// each one is a packet to the test server and a reply through the UDP
// multiplexer (the hot path of a batch run).
func BenchmarkExchange(b *testing.B) {
	srv := dnstest.Start(b, testZone)
	c := srv.Client(b)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := "n" + strconv.FormatInt(n.Add(1), 10) + ".example.com"
			if _, err := c.Lookup(ctx, name, dns.TypeA); err != nil {
				b.Fatal(err)
			}
		}
	})
}
