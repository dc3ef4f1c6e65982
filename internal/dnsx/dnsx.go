// Package dnsx is deliverdoctor's DNS resolver. Every check gets a Resolver
// injected; no package calls net.Lookup*.
//
// It keeps apart the outcomes that mail checks must never confuse: records
// found, NXDOMAIN (the name does not exist), NODATA (the name exists without
// records of that type) and temporary failure (SERVFAIL, REFUSED, timeout),
// which is an error: a DNS failure is never "no record".
package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Resolver answers one DNS question. Implementations follow CNAME chains and
// return a non-nil error only when the answer could not be determined
// (ErrTemporary) or the question itself was malformed (ErrInvalidName).
// NXDOMAIN and NODATA are answers, reported in Result.Status.
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) (*Result, error)
}

// Status is the kind of a definite DNS answer.
type Status string

const (
	// StatusOK means records of the asked type were returned.
	StatusOK Status = "ok"
	// StatusNXDomain means the name does not exist (RCODE 3).
	StatusNXDomain Status = "nxdomain"
	// StatusNoData means the name exists but has no records of the type.
	StatusNoData Status = "nodata"
)

// Result is a definite answer to one question.
type Result struct {
	Name    string   // the name asked, lower-case FQDN
	Type    uint16   // the type asked
	Status  Status   // ok, nxdomain or nodata
	Records []dns.RR // records of Type owned by the end of the CNAME chain
	CNAMEs  []string // alias targets followed from Name, in order
	AD      bool     // the resolver validated the answer (DNSSEC AD bit)
	Source  string   // "zone", "offline" or the server that answered
	// Offline is set when the answer was made up because --offline forbids
	// asking anyone: the name is outside every loaded zone. Checks that
	// need an outside answer (blocklists) must report skip, not "not found".
	Offline bool
}

// Exists reports whether records of the asked type were found.
func (r *Result) Exists() bool { return r != nil && r.Status == StatusOK && len(r.Records) > 0 }

// Target is the name at the end of the CNAME chain.
func (r *Result) Target() string {
	if len(r.CNAMEs) > 0 {
		return r.CNAMEs[len(r.CNAMEs)-1]
	}
	return r.Name
}

// TXT returns each TXT (or SPF type 99) record's strings decoded to raw
// bytes and joined without separator, as RFC 7208 3.3 and RFC 6376 3.6.2.2
// require. Raw bytes may hold anything: sanitize before printing.
func (r *Result) TXT() []string {
	var out []string
	for _, segs := range r.TXTSegments() {
		out = append(out, strings.Join(segs, ""))
	}
	return out
}

// TXTSegments returns each TXT record's character-strings unjoined and
// decoded, for linters that care how a record was split.
func (r *Result) TXTSegments() [][]string {
	var out [][]string
	for _, rr := range r.Records {
		var txt []string
		switch t := rr.(type) {
		case *dns.TXT:
			txt = t.Txt
		case *dns.SPF:
			txt = t.Txt
		default:
			continue
		}
		segs := make([]string, len(txt))
		for i, s := range txt {
			segs[i] = UnescapeTXT(s)
		}
		out = append(out, segs)
	}
	return out
}

// UnescapeTXT decodes the presentation form miekg/dns keeps TXT strings in
// (\DDD decimal escapes, \" and \\) back to the bytes on the wire.
func UnescapeTXT(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v <= 255 {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// IPs returns the addresses of A and AAAA records.
func (r *Result) IPs() []netip.Addr {
	var out []netip.Addr
	for _, rr := range r.Records {
		switch t := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(t.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(t.AAAA.To16()); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// MX returns the MX records.
func (r *Result) MX() []*dns.MX {
	var out []*dns.MX
	for _, rr := range r.Records {
		if mx, ok := rr.(*dns.MX); ok {
			out = append(out, mx)
		}
	}
	return out
}

// Names returns the targets of PTR, CNAME or NS records, lower-case FQDNs.
func (r *Result) Names() []string {
	var out []string
	for _, rr := range r.Records {
		switch t := rr.(type) {
		case *dns.PTR:
			out = append(out, strings.ToLower(t.Ptr))
		case *dns.NS:
			out = append(out, strings.ToLower(t.Ns))
		case *dns.CNAME:
			out = append(out, strings.ToLower(t.Target))
		}
	}
	return out
}

// ErrTemporary marks a lookup whose answer could not be determined:
// SERVFAIL, REFUSED, timeout, network error. Checks map it to status error.
var ErrTemporary = errors.New("temporary DNS failure")

// ErrInvalidName marks a question whose name is not a valid DNS name.
var ErrInvalidName = errors.New("invalid DNS name")

// ErrCNAMELoop marks a CNAME chain that loops or is too long.
var ErrCNAMELoop = errors.New("CNAME chain loops or is too long")

// ErrReleased marks a question asked through a Scope after Release: a bug
// in the caller (a goroutine that outlived its check), refused cleanly.
var ErrReleased = errors.New("resolver scope already released")

// Error describes a failed lookup.
type Error struct {
	Name   string
	Type   uint16
	Server string // empty when no server was reached
	Reason string // "SERVFAIL", "REFUSED", "timeout", ...
	Err    error  // ErrTemporary, ErrInvalidName or ErrCNAMELoop
}

func (e *Error) Error() string {
	s := fmt.Sprintf("DNS %s lookup of %s failed: %s", TypeString(e.Type), strings.TrimSuffix(e.Name, "."), e.Reason)
	if e.Server != "" {
		s += " (" + e.Server + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err means "could not be determined".
func IsTemporary(err error) bool { return errors.Is(err, ErrTemporary) }

// TypeString names a record type ("TXT", "TYPE99" for unknown ones).
func TypeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// CanonicalName validates a domain name and returns it as a lower-case FQDN.
func CanonicalName(name string) (string, error) {
	if isCanonical(name) {
		return name, nil // the common case: no allocation
	}
	if name == "" {
		return "", &Error{Name: name, Reason: "empty name", Err: ErrInvalidName}
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' && i+1 < len(name) && name[i+1] >= ' ' && name[i+1] < 0x7f {
			// A presentation-format escape (\X or \DDD, RFC 1035 5.1), the
			// way miekg/dns writes a label holding a space or another odd
			// byte: SPF macro expansion can make such names (RFC 7208 7.3).
			i++
			continue
		}
		if c := name[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "", &Error{Name: name, Reason: fmt.Sprintf("character %q is not allowed in a host name", rune(c)), Err: ErrInvalidName}
		}
	}
	fq := strings.ToLower(dns.Fqdn(name))
	if _, ok := dns.IsDomainName(fq); !ok || len(fq) > 254 {
		return "", &Error{Name: name, Reason: "not a valid domain name", Err: ErrInvalidName}
	}
	if longLabel(fq) {
		return "", &Error{Name: name, Reason: "label longer than 63 octets", Err: ErrInvalidName}
	}
	return fq, nil
}

// longLabel reports whether a label of name (presentation format) holds
// more than 63 octets; an escape (\X or \DDD) is one octet.
func longLabel(name string) bool {
	n := 0
	for i := 0; i < len(name); i++ {
		switch {
		case name[i] == '.':
			n = 0
			continue
		case name[i] == '\\' && i+3 < len(name) && isDigit(name[i+1]) && isDigit(name[i+2]) && isDigit(name[i+3]):
			i += 3
		case name[i] == '\\':
			i++
		}
		if n++; n > 63 {
			return true
		}
	}
	return false
}

// ReverseName returns the in-addr.arpa or ip6.arpa name of ip.
func ReverseName(ip netip.Addr) string {
	name, err := dns.ReverseAddr(ip.Unmap().String())
	if err != nil { // cannot happen for a valid netip.Addr
		return ""
	}
	return name
}

// isCanonical reports whether name is already a lower-case FQDN of plain
// host-name characters within the length limits.
func isCanonical(name string) bool {
	n := len(name)
	if n < 2 || n > 254 || name[n-1] != '.' || name[0] == '.' {
		return false
	}
	label := 0
	for i := 0; i < n-1; i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			label++
			if label > 63 {
				return false
			}
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		default:
			return false
		}
	}
	return label > 0
}
