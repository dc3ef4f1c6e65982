// Package rbl checks IP addresses and domains against DNS blocklists
// (DNSBLs, RFC 5782) and says what a listing means there and how to get off
// it.
//
// The lists themselves are data: lists.yaml, embedded and reviewed like code,
// names every list with its zone, what each answer means, the answers that
// mean "your query was refused" (never a listing, never "clean"), whether it
// answers IPv6 queries and where to ask for removal.
//
// Every list is asked concurrently through the shared resolver, so checking
// an address against thirty lists costs about one round trip to the slowest
// of them. A timeout, a SERVFAIL or a refusal code is an error, never
// "not listed"; an answer outside 127.0.0.0/8 is a resolver rewriting
// NXDOMAIN, not a listing.
package rbl

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

//go:embed lists.yaml
var listsYAML []byte

// Kind says what a list holds.
type Kind string

// Kinds of lists.
const (
	// KindIP lists hold addresses, queried reversed (RFC 5782 2.1, 2.4).
	KindIP Kind = "ip"
	// KindDomain lists hold domain names, queried as they are (RFC 5782 3).
	KindDomain Kind = "domain"
	// KindAny is a zone given by the user whose contents are unknown: it is
	// asked about addresses and domains alike.
	KindAny Kind = "any"
)

// Weight says how much receivers rely on a list.
type Weight string

// Weights.
const (
	// WeightMajor lists are widely used to reject mail at SMTP time.
	WeightMajor Weight = "major"
	// WeightMinor lists are used by few receivers or mostly for scoring.
	WeightMinor Weight = "minor"
)

// Code is one documented answer of a list: an exact address, a range
// LOW-HIGH, or (for bitmask lists) a bit of the last octet.
type Code struct {
	Code    string `yaml:"code,omitempty" json:"code,omitempty"`
	Bit     uint8  `yaml:"bit,omitempty" json:"bit,omitempty"`
	Meaning string `yaml:"meaning" json:"meaning"`
	// Fix replaces the list's generic advice for a listing with this code.
	Fix string `yaml:"fix,omitempty" json:"fix,omitempty"`

	lo, hi netip.Addr
}

// List is one blocklist of the catalogue.
type List struct {
	ID           string `yaml:"id" json:"id"`
	Name         string `yaml:"name" json:"name"`
	Zone         string `yaml:"zone" json:"zone"`
	KeyZone      string `yaml:"key_zone,omitempty" json:"key_zone,omitempty"`
	Kind         Kind   `yaml:"kind" json:"kind"`
	IPv4         bool   `yaml:"ipv4,omitempty" json:"ipv4,omitempty"`
	IPv6         bool   `yaml:"ipv6,omitempty" json:"ipv6,omitempty"`
	Weight       Weight `yaml:"weight" json:"weight"`
	NeedsKey     bool   `yaml:"needs_key,omitempty" json:"needs_key,omitempty"`
	Registration bool   `yaml:"registration,omitempty" json:"registration,omitempty"`
	Bitmask      bool   `yaml:"bitmask,omitempty" json:"bitmask,omitempty"`
	About        string `yaml:"about" json:"about,omitempty"`
	Codes        []Code `yaml:"codes" json:"codes,omitempty"`
	Refused      []Code `yaml:"refused,omitempty" json:"refused,omitempty"`
	Test         string `yaml:"test,omitempty" json:"test,omitempty"`
	Delist       string `yaml:"delist" json:"delist,omitempty"`
	// Fix is what to do about a listing, when the generic advice (stop the
	// cause, then ask for removal) does not fit.
	Fix      string `yaml:"fix,omitempty" json:"fix,omitempty"`
	Source   string `yaml:"source" json:"source,omitempty"`
	Reviewed string `yaml:"reviewed" json:"reviewed,omitempty"`

	// UserGiven is set for lists named with --dnsbl: the user asked about
	// this zone, so any listing on it is a failure whatever its weight.
	UserGiven bool `yaml:"-" json:"user_given,omitempty"`
}

// Catalog is the set of known lists.
type Catalog struct {
	Lists []List
}

type catalogFile struct {
	Lists []List `yaml:"lists"`
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default returns the embedded catalogue. It panics if the embedded file is
// broken, which the package tests rule out.
func Default() *Catalog {
	defaultOnce.Do(func() { defaultCat, defaultErr = ParseCatalog(listsYAML) })
	if defaultErr != nil {
		panic("rbl: embedded lists.yaml: " + defaultErr.Error())
	}
	return defaultCat
}

// ParseCatalog parses and validates catalogue YAML. Unknown fields are an
// error: a typo in a reviewed data file must not pass silently.
func ParseCatalog(data []byte) (*Catalog, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f catalogFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	zones := map[string]bool{}
	for i := range f.Lists {
		l := &f.Lists[i]
		if err := l.validate(); err != nil {
			return nil, fmt.Errorf("list %d (%s): %w", i+1, l.ID, err)
		}
		if ids[l.ID] {
			return nil, fmt.Errorf("list %s: duplicate id", l.ID)
		}
		ids[l.ID] = true
		for _, z := range []string{l.Zone, l.KeyZone} {
			if z == "" {
				continue
			}
			if zones[z] {
				return nil, fmt.Errorf("list %s: zone %s appears twice", l.ID, z)
			}
			zones[z] = true
		}
	}
	return &Catalog{Lists: f.Lists}, nil
}

func (l *List) validate() error {
	if l.ID == "" || l.Name == "" {
		return errors.New("id and name are required")
	}
	if l.Zone == "" && l.KeyZone == "" {
		return errors.New("zone or key_zone is required")
	}
	if l.Zone == "" && !l.NeedsKey {
		return errors.New("a list without a public zone must set needs_key")
	}
	for _, z := range []*string{&l.Zone, &l.KeyZone} {
		if *z == "" {
			continue
		}
		fq, err := dnsx.CanonicalName(*z)
		if err != nil {
			return fmt.Errorf("zone %q: %w", *z, err)
		}
		*z = strings.TrimSuffix(fq, ".")
	}
	switch l.Kind {
	case KindIP:
		if !l.IPv4 && !l.IPv6 {
			return errors.New("an ip list must answer ipv4, ipv6 or both")
		}
	case KindDomain:
		if l.IPv4 || l.IPv6 {
			return errors.New("ipv4/ipv6 apply to ip lists only")
		}
	default:
		return fmt.Errorf("kind %q: want ip or domain", l.Kind)
	}
	if l.Weight != WeightMajor && l.Weight != WeightMinor {
		return fmt.Errorf("weight %q: want major or minor", l.Weight)
	}
	if l.Delist == "" || l.Source == "" || l.Reviewed == "" {
		return errors.New("delist, source and reviewed are required")
	}
	if len(l.Codes) == 0 {
		return errors.New("at least one code is required")
	}
	for i := range l.Codes {
		c := &l.Codes[i]
		if l.Bitmask {
			if c.Code != "" || c.Bit == 0 || c.Bit&(c.Bit-1) != 0 {
				return fmt.Errorf("code %d: a bitmask list needs bit: a power of two, and no code", i+1)
			}
		} else if err := c.parse(); err != nil {
			return fmt.Errorf("code %d: %w", i+1, err)
		}
		if c.Meaning == "" {
			return fmt.Errorf("code %d: meaning is required", i+1)
		}
	}
	for i := range l.Refused {
		c := &l.Refused[i]
		if err := c.parse(); err != nil {
			return fmt.Errorf("refused %d: %w", i+1, err)
		}
		if c.Meaning == "" {
			return fmt.Errorf("refused %d: meaning is required", i+1)
		}
	}
	return nil
}

// parse reads "A" or "A-B" into the range [lo, hi].
func (c *Code) parse() error {
	if c.Bit != 0 {
		return errors.New("bit is only for bitmask lists")
	}
	lo, hi, isRange := strings.Cut(c.Code, "-")
	a, err := netip.ParseAddr(strings.TrimSpace(lo))
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address or range", c.Code)
	}
	b := a
	if isRange {
		b, err = netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil || !b.Is4() || b.Less(a) {
			return fmt.Errorf("%q is not a valid range", c.Code)
		}
	}
	if !loopback.Contains(a) || !loopback.Contains(b) {
		// RFC 5782 2.1: answers are conventionally in 127.0.0.0/8 so a
		// leaked answer can never point at a real host.
		return fmt.Errorf("%q is outside 127.0.0.0/8", c.Code)
	}
	c.lo, c.hi = a, b
	return nil
}

func (c *Code) contains(a netip.Addr) bool {
	return c.lo.IsValid() && !a.Less(c.lo) && !c.hi.Less(a)
}

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// ByID returns the list with id.
func (c *Catalog) ByID(id string) (List, bool) {
	for _, l := range c.Lists {
		if l.ID == id {
			return l, true
		}
	}
	return List{}, false
}

// Select returns the lists to query by default: the major ones, or all of
// them. Lists that need a key are never selected: they answer nothing
// without one.
func (c *Catalog) Select(which string) ([]List, error) {
	switch which {
	case "", "major", "all":
	default:
		return nil, fmt.Errorf("--lists %q: want major or all", which)
	}
	var out []List
	for _, l := range c.Lists {
		if l.NeedsKey || l.Zone == "" {
			continue
		}
		if which == "all" || l.Weight == WeightMajor {
			out = append(out, l)
		}
	}
	return out, nil
}

// Resolve turns zones given with --dnsbl into lists. A zone the catalogue
// knows gets its documented meanings (a keyed zone KEY.key_zone matches its
// entry); any other zone is asked about addresses and domains alike and
// every 127.0.0.0/8 answer but 127.0.0.1 counts as a listing. A zone may be
// prefixed with "ip:" or "domain:" to say what it holds.
func (c *Catalog) Resolve(zones []string) ([]List, error) {
	var out []List
	seen := map[string]bool{}
	for _, raw := range zones {
		z := strings.TrimSpace(raw)
		kind := KindAny
		if k, rest, ok := strings.Cut(z, ":"); ok {
			switch k {
			case "ip":
				kind = KindIP
			case "domain":
				kind = KindDomain
			default:
				return nil, fmt.Errorf("--dnsbl %q: prefix %q: want ip or domain before the colon", raw, k)
			}
			z = rest
		}
		fq, err := dnsx.CanonicalName(z)
		if err != nil || strings.Count(fq, ".") < 2 {
			return nil, fmt.Errorf("--dnsbl %q is not a DNS zone name", raw)
		}
		z = strings.TrimSuffix(fq, ".")
		if seen[z] {
			continue
		}
		seen[z] = true
		l, ok := c.match(z)
		if !ok {
			l = List{ID: z, Name: z, Zone: z, Kind: kind, IPv4: true, IPv6: true, Weight: WeightMajor,
				About: "a zone given with --dnsbl; its return codes are not in deliverdoctor's catalogue"}
			if kind == KindDomain {
				l.IPv4, l.IPv6 = false, false
			}
		} else if kind != KindAny && kind != l.Kind {
			return nil, fmt.Errorf("--dnsbl %q: %s is %s list, not %s", raw, l.Name, article(l.Kind), kind)
		}
		l.UserGiven = true
		out = append(out, l)
	}
	return out, nil
}

func article(k Kind) string {
	if k == KindIP {
		return "an IP"
	}
	return "a domain"
}

// match finds the catalogue entry for zone z: its public zone, or a keyed
// query zone KEY.key_zone (the key is a single label).
func (c *Catalog) match(z string) (List, bool) {
	for _, l := range c.Lists {
		if l.Zone != "" && l.Zone == z {
			return l, true
		}
		if l.KeyZone != "" && strings.HasSuffix(z, "."+l.KeyZone) && !strings.Contains(strings.TrimSuffix(z, "."+l.KeyZone), ".") {
			l.Zone = z
			return l, true
		}
	}
	return List{}, false
}

// answersIP reports whether list l is asked about addresses of ip's family.
func (l List) answersIP(ip netip.Addr) bool {
	switch l.Kind {
	case KindIP, KindAny:
		if ip.Is4() {
			return l.IPv4
		}
		return l.IPv6
	}
	return false
}

// answersDomain reports whether list l is asked about domains.
func (l List) answersDomain() bool { return l.Kind == KindDomain || l.Kind == KindAny }

// Meaning says what answer a means on list l, and whether it is a refusal
// (an error code) rather than a listing. ok is false for an answer the list
// does not document.
func (l List) Meaning(a netip.Addr) (meaning string, refused, ok bool) {
	for _, c := range l.Refused {
		if c.contains(a) {
			return c.Meaning, true, true
		}
	}
	if l.Bitmask {
		b := a.As4()[3]
		var parts []string
		for _, c := range l.Codes {
			if b&c.Bit != 0 {
				parts = append(parts, c.Meaning)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; "), false, true
		}
	} else {
		for _, c := range l.Codes {
			if c.contains(a) {
				return c.Meaning, false, true
			}
		}
	}
	if a == localhost {
		// RFC 5782 5: a list must not list 127.0.0.1. Lists answer it
		// when they refuse a query or "list the world" on shutdown.
		return "127.0.0.1 is never a listing (RFC 5782 5): the list refused the query or lists everything", true, true
	}
	return "", false, false
}

var localhost = netip.MustParseAddr("127.0.0.1")
