package mx

import (
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// genericRules is the data behind GenericPTR: see the file's header.
//
//go:embed generic_ptr.txt
var genericRules string

// GenericRule is one line of generic_ptr.txt.
type GenericRule struct {
	Kind    string // ip4, ip6, word, skip
	Pattern string
	Why     string
	re      *regexp.Regexp // word and skip rules
	// shape is an ip4/ip6 template with every placeholder widened to any
	// value of its form: a cheap, compiled-once filter, so the exact
	// per-address expression is compiled only for names that could match.
	shape *regexp.Regexp
}

var (
	rulesOnce sync.Once
	rules     []GenericRule
	rulesErr  error
)

func loadRules() ([]GenericRule, error) {
	rulesOnce.Do(func() { rules, rulesErr = parseGenericRules(genericRules) })
	return rules, rulesErr
}

func parseGenericRules(text string) ([]GenericRule, error) {
	var out []GenericRule
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		why := ""
		if i := strings.Index(line, " # "); i >= 0 {
			line, why = strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+3:])
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("generic_ptr.txt:%d: want KIND PATTERN", n+1)
		}
		r := GenericRule{Kind: f[0], Pattern: f[1], Why: why}
		switch r.Kind {
		case "word", "skip":
			re, err := regexp.Compile("(?i)" + r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("generic_ptr.txt:%d: %w", n+1, err)
			}
			r.re = re
		case "ip4", "ip6":
			// Check that the template compiles for some address.
			probe := netip.MustParseAddr("192.0.2.1")
			if r.Kind == "ip6" {
				probe = netip.MustParseAddr("2001:db8::1")
			}
			if _, err := compileTemplate(r.Pattern, probe); err != nil {
				return nil, fmt.Errorf("generic_ptr.txt:%d: %w", n+1, err)
			}
			shape, err := regexp.Compile("(?i)" + placeholder().ReplaceAllStringFunc(r.Pattern, shapeOf))
			if err != nil {
				return nil, fmt.Errorf("generic_ptr.txt:%d: %w", n+1, err)
			}
			r.shape = shape
		default:
			return nil, fmt.Errorf("generic_ptr.txt:%d: unknown kind %q", n+1, r.Kind)
		}
		out = append(out, r)
	}
	return out, nil
}

var placeholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{[a-z0-9]+\}`) })

// shapeOf is the class of every value a placeholder can stand for in
// compileTemplate's output.
func shapeOf(ph string) string {
	switch name := ph[1 : len(ph)-1]; name {
	case "a", "b", "c", "d":
		return "[0-9]{1,3}"
	case "a3", "b3", "c3", "d3":
		return "[0-9]{3}"
	case "hex":
		return "[0-9a-f]{8}"
	case "int":
		return "[0-9]{1,10}"
	case "hex32":
		return "[0-9a-f]{32}"
	default: // g1..g8
		return "[0-9a-f]{1,4}"
	}
}

// compileTemplate turns an ip4/ip6 template into a regular expression for
// ip: placeholders become the address's parts, and the whole is anchored
// at digit (or hex digit) boundaries so 11-2-3-4 does not match 1.2.3.4.
func compileTemplate(tmpl string, ip netip.Addr) (*regexp.Regexp, error) {
	ip = ip.Unmap()
	var bad error
	hexish := false
	body := placeholder().ReplaceAllStringFunc(tmpl, func(ph string) string {
		name := ph[1 : len(ph)-1]
		if ip.Is4() {
			b := ip.As4()
			switch name {
			case "a", "b", "c", "d":
				switch v := int(b[name[0]-'a']); {
				case v < 10:
					return "0{0,2}" + strconv.Itoa(v)
				case v < 100:
					return "0?" + strconv.Itoa(v)
				default:
					return strconv.Itoa(v)
				}
			case "a3", "b3", "c3", "d3":
				return fmt.Sprintf("%03d", b[name[0]-'a'])
			case "hex":
				hexish = true
				return hex.EncodeToString(b[:])
			case "int":
				return strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])), 10)
			}
		} else {
			b := ip.As16()
			hexish = true
			switch {
			case name == "hex32":
				return hex.EncodeToString(b[:])
			case len(name) == 2 && name[0] == 'g' && name[1] >= '1' && name[1] <= '8':
				i := int(name[1]-'1') * 2
				g := strings.TrimLeft(hex.EncodeToString(b[i:i+2]), "0")
				if g == "" {
					return "0{1,4}"
				}
				return fmt.Sprintf("0{0,%d}%s", 4-len(g), g)
			}
		}
		bad = fmt.Errorf("placeholder %s does not apply to %s", ph, ip)
		return ""
	})
	if bad != nil {
		return nil, bad
	}
	edge := "0-9"
	if hexish {
		edge = "0-9a-f"
	}
	return regexp.Compile(fmt.Sprintf("(?i)(?:^|[^%s])%s(?:[^%s]|$)", edge, body, edge))
}

// GenericPTR reports whether name, the PTR of ip, looks like a generic
// ISP-assigned name rather than one chosen for a mail server, and which
// rule says so.
func GenericPTR(name string, ip netip.Addr) (GenericRule, bool) {
	rs, err := loadRules()
	if err != nil {
		panic(err) // embedded data is tested; a broken file is a build bug
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	ip = ip.Unmap()
	for _, r := range rs {
		if (r.Kind == "ip4" && ip.Is4()) || (r.Kind == "ip6" && ip.Is6()) {
			if !r.shape.MatchString(name) {
				continue
			}
			re, err := compileTemplate(r.Pattern, ip)
			if err == nil && re.MatchString(name) {
				return r, true
			}
		}
	}
	host := hostPart(name)
	if host == "" {
		return GenericRule{}, false
	}
	for _, r := range rs {
		if r.Kind == "skip" && r.re.MatchString(host+".") {
			return GenericRule{}, false
		}
	}
	for _, r := range rs {
		if r.Kind == "word" && r.re.MatchString(host) {
			return r, true
		}
	}
	return GenericRule{}, false
}

// hostPart drops the last two labels (roughly the registered domain, which
// may itself contain words like "dynamic" without saying anything about the
// host).
func hostPart(name string) string {
	labels := strings.Split(name, ".")
	if len(labels) <= 2 {
		return ""
	}
	return strings.Join(labels[:len(labels)-2], ".")
}
