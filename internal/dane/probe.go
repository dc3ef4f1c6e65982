package dane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
)

// maxAddrs is how many addresses of a host are tried until one connects.
const maxAddrs = 2

// SMTPProbe returns an Options.Probe that gets a host's certificate chain
// with the mx package's SMTP probe: it looks up the host's addresses
// through r (IPv4 first, at most two tried), connects on port, says EHLO,
// STARTTLS, EHLO and QUIT; it never sends MAIL or DATA.
func SMTPProbe(r dnsx.Resolver, port int, opts smtpprobe.Options) func(ctx context.Context, host string) ProbeResult {
	return func(ctx context.Context, host string) ProbeResult {
		ar, err := dnsx.LookupIP(ctx, r, host)
		var addrs []netip.Addr
		if ar != nil {
			addrs = ar.Addrs
		}
		if len(addrs) == 0 {
			if err == nil {
				err = fmt.Errorf("%s has no address", host)
			}
			return ProbeResult{Err: err}
		}
		var last *smtpprobe.Result
		if ps := smtpprobe.ProbeAddrs(ctx, host, addrs, port, maxAddrs, opts); len(ps) > 0 {
			last = ps[len(ps)-1]
		}
		return fromProbe(last)
	}
}

// fromProbe reads what DANE needs from a probe result.
func fromProbe(p *smtpprobe.Result) ProbeResult {
	switch {
	case p == nil:
		return ProbeResult{Err: errors.New("no address was tried")}
	case len(p.PeerCertificates) > 0:
		return ProbeResult{Chain: p.PeerCertificates}
	case p.Reached() && !p.StartTLSOffered:
		return ProbeResult{NoSTARTTLS: true}
	case p.TLSError != "":
		return ProbeResult{Err: fmt.Errorf("%s:%d: STARTTLS failed: %s", p.Addr, p.Port, p.TLSError)}
	case p.Err != nil:
		return ProbeResult{Err: fmt.Errorf("%s:%d: %w", p.Addr, p.Port, p.Err)}
	default:
		return ProbeResult{Err: fmt.Errorf("%s:%d: no TLS session (%s)", p.Addr, p.Port, p.Error)}
	}
}
