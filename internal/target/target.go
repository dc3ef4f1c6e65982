// Package target turns what a user typed into something to check: a domain
// name (IDNs converted to their A-label form), an IPv4/IPv6 address, or an
// e-mail address reduced to its domain. Bad input gets a one-line error that
// says what is wrong.
package target

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
	"golang.org/x/net/idna"
)

// Kind of target.
type Kind string

// Kinds.
const (
	KindDomain Kind = "domain"
	KindIP     Kind = "ip"
)

// Target is a parsed check target.
type Target struct {
	Input   string     // what the user typed
	Kind    Kind       // domain or ip
	Name    string     // ASCII domain without trailing dot, or the IP's text form
	IP      netip.Addr // for KindIP
	Unicode string     // the domain's U-label form when it is an IDN
	Email   string     // the address the domain was taken from, if any
}

func (t Target) String() string { return t.Name }

// Notes says how the input was interpreted, for the report.
func (t Target) Notes() []string {
	var n []string
	if t.Email != "" {
		n = append(n, fmt.Sprintf("checked the domain of %s", t.Email))
	}
	if t.Unicode != "" && t.Unicode != t.Name {
		n = append(n, fmt.Sprintf("%s is the internationalised name %s", t.Name, t.Unicode))
	}
	return n
}

// Error is a one-line explanation of bad input.
type Error struct {
	Input  string
	What   string // "a domain name", "an IP address", ...
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not %s: %s", e.Input, e.What, e.Reason)
}

// ErrBadTarget is matched by every *Error.
var ErrBadTarget = errors.New("bad target")

// Is makes errors.Is(err, ErrBadTarget) true.
func (e *Error) Is(target error) bool { return target == ErrBadTarget }

// Parse interprets s as a domain, an IP address or an e-mail address.
func Parse(s string) (Target, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, &Error{Input: in, What: "a domain, IP or e-mail address", Reason: "it is empty"}
	}
	if i := strings.Index(s, "://"); i >= 0 {
		host := s[i+3:]
		host, _, _ = strings.Cut(host, "/")
		return Target{}, &Error{Input: in, What: "a domain name", Reason: fmt.Sprintf("it is a URL; give the host name alone (%s)", host)}
	}
	// "192.0.2.10:25", "[2001:db8::1]:25", "mx.example.com:25": a port
	// pasted with the host.
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return Target{}, &Error{Input: in, What: "a domain or IP address", Reason: fmt.Sprintf("it has a port; drop the port (%s)", ap.Addr())}
	}
	if host, port, ok := strings.Cut(s, ":"); ok && !strings.Contains(port, ":") && port != "" && strings.Trim(port, "0123456789") == "" && strings.Contains(host, ".") {
		return Target{}, &Error{Input: in, What: "a domain name", Reason: fmt.Sprintf("it has a port; drop the port (%s)", host)}
	}
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		if ip.Zone() != "" {
			return Target{}, &Error{Input: in, What: "a routable IP address", Reason: "it has an IPv6 zone"}
		}
		ip = ip.Unmap()
		return Target{Input: in, Kind: KindIP, Name: ip.String(), IP: ip}, nil
	}
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		local, dom := s[:at], s[at+1:]
		if local == "" {
			return Target{}, &Error{Input: in, What: "an e-mail address", Reason: "nothing before the @"}
		}
		t, err := parseDomain(in, dom)
		if err != nil {
			return Target{}, err
		}
		t.Email = s
		return t, nil
	}
	return parseDomain(in, s)
}

// Domain validates a domain name and returns its ASCII (A-label) form
// without a trailing dot. Use it for commands that take only a domain.
func Domain(s string) (string, error) {
	t, err := Parse(s)
	if err != nil {
		return "", err
	}
	if t.Kind != KindDomain {
		return "", &Error{Input: s, What: "a domain name", Reason: "it is an IP address"}
	}
	if t.Email != "" {
		return "", &Error{Input: s, What: "a domain name", Reason: fmt.Sprintf("it is an e-mail address; give its domain (%s)", t.Name)}
	}
	return t.Name, nil
}

var profile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false), // allow '_' labels (_dmarc, DKIM selectors) in ValidateName
)

func parseDomain(in, s string) (Target, error) {
	s = strings.TrimSuffix(s, ".")
	bad := func(reason string) (Target, error) {
		return Target{}, &Error{Input: in, What: "a domain name", Reason: reason}
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			return bad("contains a space")
		case unicode.IsControl(r):
			return bad("contains a control character")
		case r == '@' || r == '/' || r == ':' || r == ',' || r == ';' || r == '"' || r == '\'' || r == '<' || r == '>' || r == '\\':
			return bad(fmt.Sprintf("contains %q", r))
		}
	}
	if s == "" {
		return bad("it is empty")
	}
	if strings.Contains(s, "..") || strings.HasPrefix(s, ".") {
		return bad("has an empty label")
	}
	aname := strings.ToLower(s)
	if !ascii.Only(s) {
		a, err := profile.ToASCII(s)
		if err != nil {
			return bad(idnaReason(err))
		}
		aname = strings.ToLower(a)
	}
	if len(aname) > 253 {
		return bad("longer than 253 characters")
	}
	labels := strings.Split(aname, ".")
	if len(labels) < 2 {
		return bad("it has one label; give a full domain such as example.com")
	}
	for _, l := range labels {
		if l == "" {
			return bad("has an empty label")
		}
		if len(l) > 63 {
			return bad(fmt.Sprintf("label %q is longer than 63 characters", l[:20]+"…"))
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return bad(fmt.Sprintf("contains %q", c))
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad(fmt.Sprintf("label %q starts or ends with a hyphen", l))
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return bad("the last label is all digits (an incomplete IP address?)")
	}
	t := Target{Input: in, Kind: KindDomain, Name: aname}
	if uni, err := profile.ToUnicode(aname); err == nil && uni != aname {
		t.Unicode = uni
	}
	return t, nil
}

func idnaReason(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "idna: ")
	return "invalid internationalised name (" + msg + ")"
}
