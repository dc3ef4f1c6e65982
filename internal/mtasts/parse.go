package mtasts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
	"github.com/deliverdoctor/deliverdoctor/internal/txtrecord"
)

// ErrRecordSyntax marks a _mta-sts TXT record that does not follow RFC 8461 3.1.
var ErrRecordSyntax = errors.New("MTA-STS record syntax error")

// ErrPolicySyntax marks a policy file that does not follow RFC 8461 3.2.
var ErrPolicySyntax = errors.New("MTA-STS policy syntax error")

// Extension is an unknown key=value (record) or key: value (policy) field,
// kept so a parsed record prints back.
type Extension struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Record is the _mta-sts TXT record (RFC 8461 3.1), e.g.
// "v=STSv1; id=20160831085700Z;".
type Record struct {
	Version    string      `json:"version"` // always "STSv1"
	ID         string      `json:"id"`
	Extensions []Extension `json:"extensions,omitempty"`
	// Duplicates lists fields given more than once (the first counts).
	Duplicates []string `json:"duplicates,omitempty"`
}

// String prints the record in its canonical form.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=STSv1; id=" + r.ID + ";")
	for _, e := range r.Extensions {
		b.WriteString(" " + e.Key + "=" + e.Value + ";")
	}
	return b.String()
}

// IsSTSRecord reports whether a TXT string is meant as an MTA-STS record:
// RFC 8461 3.1 discards records that do not begin with "v=STSv1;" when
// several TXT records exist. We also count "v=STSv1" followed by space or
// the end, so that a broken record is reported as broken, not ignored.
func IsSTSRecord(txt string) bool { return recordKind.IsRecord(txt) }

// ParseRecord parses a _mta-sts TXT record strictly (RFC 8461 3.1):
//
//	sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//	sts-version     = %s"v=STSv1"
//	sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//	sts-field-delim = *WSP ";" *WSP
func ParseRecord(txt string) (*Record, error) {
	fail := func(format string, a ...any) (*Record, error) {
		return nil, fmt.Errorf("%w: %s", ErrRecordSyntax, fmt.Sprintf(format, a...))
	}
	r := &Record{Version: "STSv1"}
	seen := map[string]bool{}
	fields := 0
	for f, err := range recordKind.Fields(txt) {
		if err != nil {
			return fail("%v", err)
		}
		k, v := f.Name, f.Value
		fields++
		dup := seen[k]
		seen[k] = true
		if dup {
			r.Duplicates = append(r.Duplicates, k)
		}
		switch {
		case k == "id":
			if !isID(v) {
				return fail("id %q must be 1 to 32 letters and digits", clip(v))
			}
			if !dup { // RFC 8461 3.2: for repeated fields the first is used
				r.ID = v
			}
		case k == "v":
			return fail("v= must appear only once, first")
		case !txtrecord.ValidName(k):
			return fail("bad field name %q", clip(k))
		case !txtrecord.ValidValue(v):
			return fail("bad value %q for %s (no spaces, \"=\" or \";\")", clip(v), k)
		default:
			r.Extensions = append(r.Extensions, Extension{k, v})
		}
	}
	if fields == 0 {
		return fail("no fields after v=STSv1 (id= is required)")
	}
	if r.ID == "" {
		return fail("id= is missing")
	}
	return r, nil
}

// isID: 1*32(ALPHA / DIGIT) (RFC 8461 3.1).
func isID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ascii.IsAlnum(s[i]) {
			return false
		}
	}
	return true
}

func trimWSP(s string) string { return strings.TrimLeft(s, " \t") }

// Mode is a policy's mode (RFC 8461 5).
type Mode string

// Policy modes.
const (
	ModeEnforce Mode = "enforce" // senders must not deliver without valid TLS to a matching MX
	ModeTesting Mode = "testing" // senders deliver anyway and report failures (TLS-RPT)
	ModeNone    Mode = "none"    // the domain withdraws its policy
)

// MaxMaxAge is the largest max_age allowed (RFC 8461 3.2: about a year).
const MaxMaxAge = 31557600

// MXPattern is one "mx:" value: a host name or "*." plus a domain.
type MXPattern struct {
	Wildcard bool   `json:"wildcard"`
	Domain   string `json:"domain"` // lower-case, no trailing dot
}

// String prints the pattern as written in a policy.
func (p MXPattern) String() string {
	if p.Wildcard {
		return "*." + p.Domain
	}
	return p.Domain
}

// Matches reports whether an MX host name matches the pattern (RFC 8461
// 4.1): exactly, or for "*.example.com" any name with exactly one more
// label on the left. Case and a trailing dot are ignored.
func (p MXPattern) Matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !p.Wildcard {
		return host == p.Domain
	}
	first, rest, ok := strings.Cut(host, ".")
	return ok && first != "" && rest == p.Domain
}

// Policy is a parsed policy file (RFC 8461 3.2).
type Policy struct {
	Version    string      `json:"version"`
	Mode       Mode        `json:"mode"`
	MaxAge     int64       `json:"max_age"`
	MX         []MXPattern `json:"mx"`
	Extensions []Extension `json:"extensions,omitempty"`
	// Duplicates lists non-mx fields given more than once (the first counts).
	Duplicates []string `json:"duplicates,omitempty"`
}

// Matches reports whether host matches any mx pattern of the policy.
func (p *Policy) Matches(host string) bool {
	for _, m := range p.MX {
		if m.Matches(host) {
			return true
		}
	}
	return false
}

// String prints the policy as a file, LF-terminated lines.
func (p *Policy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: STSv1\nmode: %s\n", p.Mode)
	for _, m := range p.MX {
		fmt.Fprintf(&b, "mx: %s\n", m)
	}
	fmt.Fprintf(&b, "max_age: %d\n", p.MaxAge)
	for _, e := range p.Extensions {
		fmt.Fprintf(&b, "%s: %s\n", e.Key, e.Value)
	}
	return b.String()
}

// ParsePolicy parses a policy file strictly (RFC 8461 3.2): "key: value"
// lines separated by CRLF or LF, no blank lines, version STSv1, mode
// enforce|testing|none, max_age 1 to 10 digits, one "mx:" line per pattern
// (required unless mode is none). Unknown keys are kept as extensions.
// Errors name the line.
func ParsePolicy(text string) (*Policy, error) {
	fail := func(line int, format string, a ...any) (*Policy, error) {
		msg := fmt.Sprintf(format, a...)
		if line > 0 {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		return nil, fmt.Errorf("%w: %s", ErrPolicySyntax, msg)
	}
	if text == "" {
		return fail(0, "the policy is empty")
	}
	// sts-policy-term = LF / CRLF; a final terminator is optional.
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	p := &Policy{}
	seen := map[string]bool{}
	for i, line := range lines {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if strings.ContainsRune(line, '\r') {
			return fail(n, "stray carriage return")
		}
		if strings.TrimSpace(line) == "" {
			return fail(n, "blank line (fields must be on consecutive lines)")
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return fail(n, "%q is not a \"key: value\" field", clip(line))
		}
		if !txtrecord.ValidName(k) {
			return fail(n, "bad field name %q", clip(k))
		}
		// sts-policy-field-delim = ":" *WSP; trailing *WSP is allowed.
		v = strings.TrimRight(trimWSP(v), " \t")
		dup := seen[k] && k != "mx"
		seen[k] = true
		if dup {
			p.Duplicates = append(p.Duplicates, k)
		}
		switch k {
		case "version":
			if v != "STSv1" {
				return fail(n, "version is %q; it must be STSv1", clip(v))
			}
			if !dup {
				p.Version = v
			}
		case "mode":
			m := Mode(v)
			if m != ModeEnforce && m != ModeTesting && m != ModeNone {
				return fail(n, "mode is %q; it must be enforce, testing or none", clip(v))
			}
			if !dup {
				p.Mode = m
			}
		case "max_age":
			if len(v) == 0 || len(v) > 10 || strings.Trim(v, "0123456789") != "" {
				return fail(n, "max_age %q must be 1 to 10 digits", clip(v))
			}
			age, _ := strconv.ParseInt(v, 10, 64)
			if !dup {
				p.MaxAge = age
			}
		case "mx":
			m, err := parseMXPattern(v)
			if err != nil {
				return fail(n, "mx %q: %v", clip(v), err)
			}
			p.MX = append(p.MX, m)
		default:
			if !isPolicyExtValue(v) {
				return fail(n, "bad value %q for %s", clip(v), k)
			}
			p.Extensions = append(p.Extensions, Extension{k, v})
		}
	}
	for _, req := range []string{"version", "mode", "max_age"} {
		if !seen[req] {
			return fail(0, "the %s field is missing", req)
		}
	}
	if len(p.MX) == 0 && p.Mode != ModeNone {
		return fail(0, "no mx field: mode %s needs at least one", p.Mode)
	}
	return p, nil
}

// parseMXPattern: ["*."] Domain, with Domain = sub-domain *("." sub-domain)
// (RFC 8461 3.2, RFC 5321 4.1.2): letters, digits and inner hyphens, in
// A-label form.
func parseMXPattern(v string) (MXPattern, error) {
	var m MXPattern
	if strings.HasPrefix(v, "*.") {
		m.Wildcard = true
		v = v[2:]
	}
	v = strings.TrimSuffix(v, ".")
	if v == "" {
		return m, errors.New("empty host name")
	}
	if strings.Contains(v, "*") {
		return m, errors.New("a wildcard is allowed only as the whole leftmost label (\"*.example.com\")")
	}
	labels := strings.Split(v, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return m, errors.New("empty or over-long label")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case ascii.IsAlnum(c):
			case c == '-' && i > 0 && i < len(l)-1:
			case c >= 0x80:
				return m, errors.New("non-ASCII name: use the A-label (xn--) form")
			default:
				return m, fmt.Errorf("character %q is not allowed in a host name", rune(c))
			}
		}
	}
	if len(v) > 253 {
		return m, errors.New("name longer than 253 characters")
	}
	m.Domain = strings.ToLower(v)
	return m, nil
}

// isPolicyExtValue: sts-policy-vchar [*(%x20 / sts-policy-vchar)
// sts-policy-vchar], vchar being visible ASCII or UTF-8 (RFC 8461 3.2).
func isPolicyExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
