package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is returned when a probe would connect to an address
// of the operator's own network.
var ErrPrivateAddress = errors.New("refused: private, loopback, link-local or reserved address (serve --allow-private allows it)")

// notPublic are the ranges a probe run for a stranger must never reach:
// the operator's own network, the host itself, and addresses no public
// mail server has (RFC 6890 special-purpose registries).
var notPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16",
		"3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// nat64 is the well-known NAT64 prefix (RFC 6052): the IPv4 address it
// embeds decides.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// PublicAddr reports whether ip may be probed on behalf of a user.
func PublicAddr(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		b := ip.As16()
		return PublicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// guardedDial returns a dialer for the probes that checks the address it
// is about to connect to, after every name was resolved: the net.Dialer
// Control hook sees the final IP of each attempt, so neither a hostile DNS
// answer nor a redirect to another name can reach a private address.
func guardedDial(allowPrivate bool, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("%s: %w", address, err)
			}
			if !PublicAddr(ip) {
				return fmt.Errorf("%s: %w", ip, ErrPrivateAddress)
			}
			return nil
		}
	}
	return d.DialContext
}
