package smtpprobe

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

func TestPreferIPv4(t *testing.T) {
	in := []netip.Addr{
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("::ffff:192.0.2.2"),
		netip.MustParseAddr("2001:db8::2"),
		netip.MustParseAddr("192.0.2.3"),
	}
	want := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("192.0.2.2"),
		netip.MustParseAddr("192.0.2.3"),
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("2001:db8::2"),
	}
	if got := PreferIPv4(in); !slices.Equal(got, want) {
		t.Errorf("PreferIPv4 = %v, want %v", got, want)
	}
	if got := PreferIPv4(nil); len(got) != 0 {
		t.Errorf("PreferIPv4(nil) = %v", got)
	}
}

// Addresses are tried IPv4 first until one connects, at most max of them.
func TestProbeAddrs(t *testing.T) {
	srv := smtptest.Start(t, nil, nil)
	// Nothing listens on the port at 127.0.0.2 (all of 127/8 is loopback on
	// Linux); the IPv6 address would come last and is never reached.
	addrs := []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.2"), loopback}
	var dialed []string
	opts := Options{Timeout: 3 * time.Second, HELO: "probe.deliverdoctor.test",
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, addr)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	ctx := context.Background()
	port := int(srv.Addr.Port())

	ps := ProbeAddrs(ctx, "mx.test.example", addrs, port, 3, opts)
	if len(ps) != 2 || ps[0].Connected || !ps[1].Connected || ps[1].Addr != loopback {
		t.Fatalf("probes %+v", ps)
	}
	if want := []string{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(port)).String(), srv.Addr.String()}; !slices.Equal(dialed, want) {
		t.Errorf("dialed %q, want %q", dialed, want)
	}

	dialed = nil
	if ps := ProbeAddrs(ctx, "mx.test.example", addrs, port, 1, opts); len(ps) != 1 || ps[0].Connected {
		t.Errorf("max 1: %+v", ps)
	}
	if ps := ProbeAddrs(ctx, "mx.test.example", nil, port, 3, opts); ps != nil {
		t.Errorf("no addresses: %+v", ps)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if ps := ProbeAddrs(done, "mx.test.example", addrs, port, 3, opts); ps != nil {
		t.Errorf("ended context: %+v", ps)
	}
	srv.Log.AssertNoData(t)
}
