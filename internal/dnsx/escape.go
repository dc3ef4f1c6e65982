package dnsx

import (
	"fmt"
	"strings"
)

// EscapeName writes a domain name that may hold any byte (SPF macro
// expansion can produce spaces, RFC 7208 7.3 "%_") in DNS presentation
// format, escaping each byte the way miekg/dns does when it reads a name off
// the wire: a space and '@;()"\ as "\c", other bytes outside printable
// ASCII as "\DDD". Dots stay label separators. So a question for such a
// name and zone data holding it (internal/dnstest) agree. A name that needs
// no escaping is returned as it is.
func EscapeName(name string) string {
	clean := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || strings.IndexByte(`'@;()"\`, c) >= 0 {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			b.WriteByte('.')
		case c == ' ' || strings.IndexByte(`'@;()"\`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
