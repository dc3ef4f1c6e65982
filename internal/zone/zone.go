// Package zone holds DNS records parsed from RFC 1035 zone text and answers
// queries from them the way an authoritative server would: answer, CNAME,
// NODATA (the name exists, or has descendants, but not that type) or
// NXDOMAIN, with wildcard synthesis per RFC 4592.
//
// It is shared by the resolver's --zone layer (internal/dnsx) and the test
// DNS server (internal/dnstest), so that both answer identically.
package zone

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Outcome is how a name/type question is answered from a zone.
type Outcome int

const (
	// NotAuthoritative means no zone in the store covers the name.
	NotAuthoritative Outcome = iota
	// Answer means records of the asked type, or a CNAME, were found.
	Answer
	// NoData means the name exists (or is an empty non-terminal) but holds no
	// records of the asked type.
	NoData
	// NXDomain means the name does not exist in an authoritative zone.
	NXDomain
)

func (o Outcome) String() string {
	switch o {
	case Answer:
		return "answer"
	case NoData:
		return "nodata"
	case NXDomain:
		return "nxdomain"
	default:
		return "not-authoritative"
	}
}

// Store is a set of zones. The zero value is empty and usable; a Store is
// safe for concurrent reads once loading is finished.
type Store struct {
	origins []string            // lower-case FQDNs the store is authoritative for
	names   map[string][]dns.RR // owner (lower-case FQDN) -> records
	exists  map[string]struct{} // every owner and every ancestor up to its origin (empty non-terminals)
	all     bool                // authoritative for every name (test servers)
}

// MaxZoneBytes bounds how much zone text is read from one source: zone files
// are user input, and a runaway file must not eat the machine.
const MaxZoneBytes = 64 << 20

// NewStore returns an empty store. With authoritativeForAll, names outside
// every origin are answered NXDOMAIN instead of NotAuthoritative: a test server
// that plays "the whole DNS".
func NewStore(authoritativeForAll bool) *Store {
	return &Store{names: map[string][]dns.RR{}, exists: map[string]struct{}{}, all: authoritativeForAll}
}

// LoadFile parses a zone file. The origin is the file's $ORIGIN or SOA
// owner; failing both, the file name without a .zone/.db suffix, so that
// "example.com.zone" with relative names works as users expect.
func (s *Store) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	base := filepath.Base(path)
	for _, suf := range []string{".zone", ".db", ".txt"} {
		base = strings.TrimSuffix(base, suf)
	}
	origin := ""
	if _, ok := dns.IsDomainName(base); ok && strings.Contains(base, ".") {
		origin = dns.Fqdn(base)
	}
	return s.Load(io.LimitReader(f, MaxZoneBytes), origin, path)
}

// Load parses zone text. origin may be empty when the text sets $ORIGIN or
// uses only absolute names. name is used in error messages.
func (s *Store) Load(r io.Reader, origin, name string) error {
	zp := dns.NewZoneParser(r, origin, name)
	zp.SetIncludeAllowed(false)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("zone %s: %w", name, err)
	}
	if len(rrs) == 0 {
		return fmt.Errorf("zone %s: no records", name)
	}
	zoneOrigin := ""
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeSOA {
			zoneOrigin = strings.ToLower(rr.Header().Name)
			break
		}
	}
	if zoneOrigin == "" && origin != "" {
		zoneOrigin = strings.ToLower(dns.Fqdn(origin))
	}
	if zoneOrigin == "" {
		zoneOrigin = commonSuffix(rrs)
	}
	s.AddOrigin(zoneOrigin)
	for _, rr := range rrs {
		s.Add(rr)
	}
	return nil
}

// LoadString is Load for zone text held in a string.
func (s *Store) LoadString(text, origin string) error {
	return s.Load(strings.NewReader(text), origin, "zone text")
}

// AddOrigin makes the store authoritative for origin and everything below it.
func (s *Store) AddOrigin(origin string) {
	origin = strings.ToLower(dns.Fqdn(origin))
	for _, o := range s.origins {
		if o == origin {
			return
		}
	}
	s.origins = append(s.origins, origin)
	// Longest first, so the most specific zone wins.
	sort.Slice(s.origins, func(i, j int) bool { return dns.CountLabel(s.origins[i]) > dns.CountLabel(s.origins[j]) })
	s.exists[origin] = struct{}{}
}

// Add inserts one record. Its owner and every ancestor (down to the root)
// are marked as existing, which gives empty non-terminals NODATA, not
// NXDOMAIN (RFC 8020).
func (s *Store) Add(rr dns.RR) {
	h := rr.Header()
	h.Name = strings.ToLower(dns.Fqdn(h.Name))
	if h.Class == 0 {
		h.Class = dns.ClassINET
	}
	s.names[h.Name] = append(s.names[h.Name], rr)
	for name := h.Name; ; {
		s.exists[name] = struct{}{}
		off, end := dns.NextLabel(name, 0)
		if end {
			break
		}
		name = name[off:]
	}
}

// Origins lists the zones the store is authoritative for.
func (s *Store) Origins() []string { return append([]string(nil), s.origins...) }

// Authoritative reports whether the store answers for name.
func (s *Store) Authoritative(name string) bool {
	if s.all {
		return true
	}
	name = strings.ToLower(dns.Fqdn(name))
	for _, o := range s.origins {
		if dns.IsSubDomain(o, name) {
			return true
		}
	}
	return false
}

// Lookup answers one question. For Answer, rrs holds either the records of
// qtype at name, or a single CNAME record when name is an alias (the caller
// chases it). Wildcards are expanded with the query name as owner.
func (s *Store) Lookup(name string, qtype uint16) (Outcome, []dns.RR) {
	name = strings.ToLower(dns.Fqdn(name))
	if !s.Authoritative(name) {
		return NotAuthoritative, nil
	}
	if rrs, ok := s.names[name]; ok {
		return pick(rrs, name, qtype)
	}
	if _, ok := s.exists[name]; ok {
		return NoData, nil
	}
	// RFC 4592: the closest encloser's wildcard answers names that do not
	// exist, as long as no ancestor between them exists.
	for n := name; ; {
		off, end := dns.NextLabel(n, 0)
		if end {
			break
		}
		n = n[off:]
		if rrs, ok := s.names["*."+n]; ok {
			return pick(rrs, name, qtype)
		}
		if _, ok := s.exists[n]; ok {
			break
		}
	}
	return NXDomain, nil
}

func pick(rrs []dns.RR, owner string, qtype uint16) (Outcome, []dns.RR) {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
			out = append(out, withOwner(rr, owner))
		}
	}
	if len(out) > 0 {
		return Answer, out
	}
	if qtype != dns.TypeCNAME {
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeCNAME {
				return Answer, []dns.RR{withOwner(rr, owner)}
			}
		}
	}
	return NoData, nil
}

func withOwner(rr dns.RR, owner string) dns.RR {
	if rr.Header().Name == owner {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Name = owner
	return c
}

func commonSuffix(rrs []dns.RR) string {
	suffix := strings.ToLower(rrs[0].Header().Name)
	for _, rr := range rrs[1:] {
		n := strings.ToLower(rr.Header().Name)
		for !dns.IsSubDomain(suffix, n) {
			off, end := dns.NextLabel(suffix, 0)
			if end {
				return "."
			}
			suffix = suffix[off:]
		}
	}
	return suffix
}
