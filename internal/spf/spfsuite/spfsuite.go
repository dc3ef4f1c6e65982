// Package spfsuite reads the openspf SPF test suites (the YAML files in
// internal/spf/testdata) and serves a scenario's zone data from an
// in-process DNS server, the way the suite's reference driver (pyspf's
// testspf.py) reads it. The spf package's tests and the pyspf differential
// test (tools/spfinterop) share it.
package spfsuite

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// Scenario is one YAML document: zone data and the cases run against it.
type Scenario struct {
	Description string
	Cases       []*Case                // sorted by name
	Zone        map[string][]ZoneEntry // lower-case name -> entries, in file order
}

// Case is one test case.
type Case struct {
	Name        string
	Description string
	Spec        string
	Helo        string
	Host        string
	MailFrom    string
	Results     []string // any of these is acceptable
	Explanation string   // "" unchecked; "DEFAULT": no exp= explanation
}

// ZoneEntry is one line of a scenario's zone data.
type ZoneEntry struct {
	Type    string   // A, AAAA, MX, PTR, CNAME, TXT, SPF, or TIMEOUT
	Strings []string // TXT/SPF character-strings
	Value   string   // A/AAAA/PTR/CNAME data, MX host
	Pref    int      // MX preference
	None    bool     // "TXT: NONE": no TXT records (and none generated from SPF)
}

type rawScenario struct {
	Description string                 `yaml:"description"`
	Tests       map[string]rawCase     `yaml:"tests"`
	ZoneData    map[string][]yaml.Node `yaml:"zonedata"`
}

type rawCase struct {
	Description string    `yaml:"description"`
	Spec        yaml.Node `yaml:"spec"`
	Helo        string    `yaml:"helo"`
	Host        string    `yaml:"host"`
	MailFrom    string    `yaml:"mailfrom"`
	Result      yaml.Node `yaml:"result"`
	Explanation string    `yaml:"explanation"`
}

// Load reads a suite file.
func Load(file string) ([]*Scenario, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var out []*Scenario
	for {
		var raw rawScenario
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		sc := &Scenario{Description: raw.Description, Zone: map[string][]ZoneEntry{}}
		for name, rc := range raw.Tests {
			c := &Case{Name: name, Description: rc.Description, Spec: rc.Spec.Value, Helo: rc.Helo, Host: rc.Host,
				MailFrom: rc.MailFrom, Explanation: rc.Explanation}
			if rc.Result.Kind == yaml.SequenceNode {
				for _, n := range rc.Result.Content {
					c.Results = append(c.Results, strings.TrimSpace(n.Value))
				}
			} else {
				c.Results = []string{rc.Result.Value}
			}
			sc.Cases = append(sc.Cases, c)
		}
		sort.Slice(sc.Cases, func(i, j int) bool { return sc.Cases[i].Name < sc.Cases[j].Name })
		for name, nodes := range raw.ZoneData {
			key := strings.ToLower(strings.TrimSuffix(name, "."))
			for _, n := range nodes {
				e, err := parseZoneEntry(&n)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: zone %s: %w", file, sc.Description, name, err)
				}
				sc.Zone[key] = append(sc.Zone[key], e)
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

func parseZoneEntry(n *yaml.Node) (ZoneEntry, error) {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "TIMEOUT" {
			return ZoneEntry{}, fmt.Errorf("unknown entry %q", n.Value)
		}
		return ZoneEntry{Type: "TIMEOUT"}, nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return ZoneEntry{}, fmt.Errorf("unexpected node at line %d", n.Line)
	}
	e := ZoneEntry{Type: n.Content[0].Value}
	v := n.Content[1]
	switch e.Type {
	case "TXT", "SPF":
		if v.Kind == yaml.SequenceNode {
			for _, s := range v.Content {
				e.Strings = append(e.Strings, s.Value)
			}
		} else if v.Value == "NONE" {
			e.None = true
		} else {
			e.Strings = []string{v.Value}
		}
	case "MX":
		if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
			return e, fmt.Errorf("MX at line %d: want [pref, host]", v.Line)
		}
		if _, err := fmt.Sscan(v.Content[0].Value, &e.Pref); err != nil {
			return e, fmt.Errorf("MX at line %d: %w", v.Line, err)
		}
		e.Value = v.Content[1].Value
	case "A", "AAAA", "PTR", "CNAME":
		e.Value = v.Value
	default:
		return e, fmt.Errorf("unknown type %q", e.Type)
	}
	return e, nil
}

// ZoneText renders the scenario as zone text the way the suite's reference
// driver reads it: SPF entries are served as type 99 and, when the name
// has no TXT entry at all ("TXT: NONE" counts), also as TXT, after the
// other entries. "TIMEOUT" makes every type without an answer before it
// time out; the returned map holds those names with the types they still
// answer.
func (sc *Scenario) ZoneText() (string, map[string][]uint16) {
	var b strings.Builder
	timeouts := map[string][]uint16{}
	names := make([]string, 0, len(sc.Zone))
	for n := range sc.Zone {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		entries := slices.Clone(sc.Zone[name])
		hasTXT := false
		for _, e := range entries {
			if e.Type == "TXT" {
				hasTXT = true
			}
		}
		if !hasTXT {
			for _, e := range sc.Zone[name] {
				if e.Type == "SPF" {
					entries = append(entries, ZoneEntry{Type: "TXT", Strings: e.Strings})
				}
			}
		}
		owner := dnsx.EscapeName(name) + "."
		timedOut := false
		var answered []uint16
		for _, e := range entries {
			if e.Type == "TIMEOUT" {
				timedOut = true
				continue
			}
			if e.None {
				continue
			}
			if !timedOut {
				answered = append(answered, dns.StringToType[e.Type])
			}
			fmt.Fprintf(&b, "%s 300 IN %s %s\n", owner, e.Type, e.rdata())
		}
		if timedOut {
			timeouts[name] = answered
		}
	}
	return b.String(), timeouts
}

func (e ZoneEntry) rdata() string {
	switch e.Type {
	case "TXT", "SPF":
		return TXTData(e.Strings)
	case "MX":
		host := strings.TrimSuffix(e.Value, ".")
		if host == "" {
			return fmt.Sprintf("%d .", e.Pref)
		}
		return fmt.Sprintf("%d %s.", e.Pref, dnsx.EscapeName(host))
	case "PTR", "CNAME":
		return dnsx.EscapeName(strings.TrimSuffix(e.Value, ".")) + "."
	default:
		return e.Value
	}
}

// TXTData is the zone-text rdata of a TXT record with these strings (a
// string longer than 255 octets is split; no strings at all is "\# 0").
func TXTData(strs []string) string {
	if len(strs) == 0 {
		return `\# 0` // a TXT record without any string (RFC 7208 3.3 test)
	}
	var parts []string
	for _, s := range strs {
		for len(s) > 255 {
			parts = append(parts, quoteTXT(s[:255]))
			s = s[255:]
		}
		parts = append(parts, quoteTXT(s))
	}
	return strings.Join(parts, " ")
}

// quoteTXT quotes a character-string, escaping every byte that is not
// printable ASCII as \DDD.
func quoteTXT(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\%03d", c)
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// QueriedTypes are the types an SPF evaluation may ask; TIMEOUT drops them
// unless the name answers them before its TIMEOUT entry.
var QueriedTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeSPF, dns.TypePTR, dns.TypeCNAME}

// Serve starts a DNS server on 127.0.0.1 for the scenario; close it when
// done.
func (sc *Scenario) Serve() (*dnstest.Server, error) {
	text, timeouts := sc.ZoneText()
	srv, err := dnstest.New(text)
	if err != nil {
		return nil, err
	}
	for name, answered := range timeouts {
		var drop []uint16
		for _, q := range QueriedTypes {
			if !slices.Contains(answered, q) {
				drop = append(drop, q)
			}
		}
		srv.Set(dnsx.EscapeName(name), dnstest.Behavior{Drop: true, Types: drop})
	}
	return srv, nil
}

// HasTimeout reports whether the scenario has TIMEOUT entries.
func (sc *Scenario) HasTimeout() bool {
	for _, es := range sc.Zone {
		for _, e := range es {
			if e.Type == "TIMEOUT" {
				return true
			}
		}
	}
	return false
}
