package smtpprobe

import (
	"context"
	"net/netip"
)

// PreferIPv4 orders a host's addresses for dialling: the IPv4 ones first
// (a v4-mapped IPv6 address counts as IPv4 and is returned unmapped), then
// the IPv6 ones, each group in the order given. Many networks a probe runs
// from have no IPv6 route, and an MX host's IPv4 and IPv6 addresses are
// normally the same MTA, so a host reached over either is reached.
func PreferIPv4(as []netip.Addr) []netip.Addr {
	var v4, v6 []netip.Addr
	for _, a := range as {
		if a.Unmap().Is4() {
			v4 = append(v4, a.Unmap())
		} else {
			v6 = append(v6, a)
		}
	}
	return append(v4, v6...)
}

// ProbeAddrs probes host at its addresses in PreferIPv4 order, one after
// the other, until one connects, max addresses have been tried, or ctx
// ends. It returns every probe made, in order: the last one is the
// connected one if any connected; none when there is no address or ctx
// has already ended.
func ProbeAddrs(ctx context.Context, host string, addrs []netip.Addr, port, max int, opts Options) []*Result {
	var out []*Result
	for i, a := range PreferIPv4(addrs) {
		if i >= max || ctx.Err() != nil {
			break
		}
		p := Probe(ctx, host, a, port, opts)
		out = append(out, p)
		if p.Connected {
			break
		}
	}
	return out
}
