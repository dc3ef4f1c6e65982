package relay

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// ParseServer reads what a user typed to name one server: HOST,
// HOST:PORT, IPv6, [IPv6] and [IPv6]:PORT. host is an IP's text form or
// an ASCII domain name; port is DefaultPort unless given.
func ParseServer(s string) (host string, port int, err error) {
	s = strings.TrimSpace(s)
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		if ip.Zone() != "" {
			return "", 0, fmt.Errorf("%q: IPv6 zones are not supported", s)
		}
		return ip.Unmap().String(), DefaultPort, nil
	}
	host, port = s, DefaultPort
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, p)
		}
		host, port = h, n
	} else if strings.Count(s, ":") > 0 {
		return "", 0, fmt.Errorf("%q is not HOST or HOST:PORT", s)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().String(), port, nil
	}
	d, err := target.Domain(host)
	if err != nil {
		return "", 0, err
	}
	return d, port, nil
}
