package dnsx

import (
	"context"
	"net/netip"

	"github.com/miekg/dns"
)

// LookupTXT returns the TXT strings at name (each record's strings joined).
// The Result tells NXDOMAIN from NODATA.
func LookupTXT(ctx context.Context, r Resolver, name string) ([]string, *Result, error) {
	res, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, nil, err
	}
	return res.TXT(), res, nil
}

// AddrResult is the combined answer for A and AAAA.
type AddrResult struct {
	Addrs   []netip.Addr
	A, AAAA *Result
}

// Status is nxdomain when the name does not exist, ok when any address was
// found, nodata otherwise.
func (a *AddrResult) Status() Status {
	switch {
	case len(a.Addrs) > 0:
		return StatusOK
	case a.A != nil && a.A.Status == StatusNXDomain, a.AAAA != nil && a.AAAA.Status == StatusNXDomain:
		return StatusNXDomain
	default:
		return StatusNoData
	}
}

// Offline reports whether either answer was synthesised by --offline.
func (a *AddrResult) Offline() bool {
	return (a.A != nil && a.A.Offline) || (a.AAAA != nil && a.AAAA.Offline)
}

// LookupIP asks A and AAAA concurrently. If either fails temporarily, the
// error is returned with whatever the other found: callers decide whether a
// partial answer is enough.
func LookupIP(ctx context.Context, r Resolver, name string) (*AddrResult, error) {
	type one struct {
		res *Result
		err error
	}
	aaaa := make(chan one, 1)
	go func() {
		res, err := r.Lookup(ctx, name, dns.TypeAAAA)
		aaaa <- one{res, err}
	}()
	a4, err4 := r.Lookup(ctx, name, dns.TypeA)
	a6 := <-aaaa
	out := &AddrResult{A: a4, AAAA: a6.res}
	if a4 != nil {
		out.Addrs = append(out.Addrs, a4.IPs()...)
	}
	if a6.res != nil {
		out.Addrs = append(out.Addrs, a6.res.IPs()...)
	}
	if err4 != nil {
		return out, err4
	}
	return out, a6.err
}

// LookupMX returns the MX records of name.
func LookupMX(ctx context.Context, r Resolver, name string) ([]*dns.MX, *Result, error) {
	res, err := r.Lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, nil, err
	}
	return res.MX(), res, nil
}

// LookupPTR returns the PTR names of ip (lower-case FQDNs).
func LookupPTR(ctx context.Context, r Resolver, ip netip.Addr) ([]string, *Result, error) {
	res, err := r.Lookup(ctx, ReverseName(ip), dns.TypePTR)
	if err != nil {
		return nil, nil, err
	}
	return res.Names(), res, nil
}

// LookupFunc adapts a Resolver to the func(domain) ([]string, error) shape
// that go-msgauth's LookupTXT options take. NXDOMAIN and NODATA become an
// empty answer with a nil error.
func LookupFunc(ctx context.Context, r Resolver) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		txt, _, err := LookupTXT(ctx, r, name)
		return txt, err
	}
}
