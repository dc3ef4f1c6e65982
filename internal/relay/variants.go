package relay

import (
	_ "embed"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// Kind says what an accepted RCPT of a variant means.
type Kind string

// Kinds of variants.
const (
	// KindForeign: the forward-path's final mailbox is at the external
	// domain; a 2xx to its RCPT means the server takes mail for a stranger
	// to a stranger.
	KindForeign Kind = "foreign"
	// KindTrick: the address names a local domain, the server's address
	// literal or no domain, and hides a foreign address in its local part.
	// A 2xx may mean relaying or only a lenient local recipient check; a
	// control recipient tells them apart.
	KindTrick Kind = "trick"
	// KindControl: a plain, surely nonexistent local part at the trick's
	// domain, sent right after an accepted trick.
	KindControl Kind = "control"
)

// Variant is one MAIL FROM / RCPT TO pair from variants.txt, before
// placeholders are filled in.
type Variant struct {
	ID     string
	Kind   Kind
	Family string // sender, source-route, percent-hack, quoted-local-part, double-at, bang-path
	Mail   string // template of the MAIL FROM path
	Rcpt   string // template of the RCPT TO path
	Note   string
}

//go:embed variants.txt
var variantsText string

// Variants returns the embedded variant table, in probe order (parsed at
// first use; callers must not modify it).
var Variants = sync.OnceValue(func() []Variant { return mustParseVariants(variantsText) })

var placeholders = []string{"{sender}", "{user}", "{ext}", "{local}", "{server}", "{literal}"}

// ParseVariants parses the variant table format of variants.txt.
func ParseVariants(text string) ([]Variant, error) {
	var vs []Variant
	seen := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("variants line %d: want id kind family mail rcpt [note], got %q", n+1, line)
		}
		v := Variant{ID: f[0], Kind: Kind(f[1]), Family: f[2], Mail: f[3], Rcpt: f[4], Note: strings.Join(f[5:], " ")}
		if v.Kind != KindForeign && v.Kind != KindTrick {
			return nil, fmt.Errorf("variants line %d: kind %q: want foreign or trick", n+1, v.Kind)
		}
		if seen[v.ID] {
			return nil, fmt.Errorf("variants line %d: duplicate id %q", n+1, v.ID)
		}
		seen[v.ID] = true
		for _, t := range []string{v.Mail, v.Rcpt} {
			if !strings.HasPrefix(t, "<") || !strings.HasSuffix(t, ">") {
				return nil, fmt.Errorf("variants line %d: path %q must be in angle brackets", n+1, t)
			}
			rest := t
			for _, p := range placeholders {
				rest = strings.ReplaceAll(rest, p, "")
			}
			if strings.ContainsAny(rest, "{}") {
				return nil, fmt.Errorf("variants line %d: unknown placeholder in %q", n+1, t)
			}
		}
		if !strings.Contains(v.Rcpt, "{ext}") {
			return nil, fmt.Errorf("variants line %d: the recipient %q never names the external domain", n+1, v.Rcpt)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("variants: empty table")
	}
	return vs, nil
}

func mustParseVariants(text string) []Variant {
	vs, err := ParseVariants(text)
	if err != nil {
		panic(err)
	}
	return vs
}

// Params fill the placeholders of a variant.
type Params struct {
	Sender   string // local part of the probe's sender
	User     string // local part of the probe's recipient
	External string // the foreign domain
	Local    string // a domain the server receives mail for
	Server   string // the server's name from its greeting
	Literal  string // the server's address literal, brackets included
}

// Expand fills the placeholders of a template.
func (p Params) Expand(template string) string {
	return strings.NewReplacer(
		"{sender}", p.Sender, "{user}", p.User, "{ext}", p.External,
		"{local}", p.Local, "{server}", p.Server, "{literal}", p.Literal,
	).Replace(template)
}

// Step is a variant ready to send.
type Step struct {
	Variant
	MailFrom string // the MAIL FROM path as sent
	RcptTo   string // the RCPT TO path as sent
}

// Plan expands the variants with p, dropping pairs identical to an earlier
// one (e.g. when the server's name is the local domain).
func Plan(vs []Variant, p Params) []Step {
	var steps []Step
	seen := map[string]bool{}
	for _, v := range vs {
		s := Step{Variant: v, MailFrom: p.Expand(v.Mail), RcptTo: p.Expand(v.Rcpt)}
		key := s.MailFrom + " " + s.RcptTo
		if seen[key] {
			continue
		}
		seen[key] = true
		steps = append(steps, s)
	}
	return steps
}

// AddressLiteral is ip as an RFC 5321 4.1.3 address literal:
// "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func AddressLiteral(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		return "[" + ip.String() + "]"
	}
	return "[IPv6:" + ip.WithZone("").String() + "]"
}

// controlPath is the control recipient for a trick path: the same domain
// part (what follows the last @ outside quotes), or none, with a plain local
// part that surely does not exist.
func controlPath(path, local string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(path, "<"), ">")
	at := -1
	quoted := false
	for i := 0; i < len(inner); i++ {
		switch inner[i] {
		case '"':
			quoted = !quoted
		case '\\':
			i++
		case '@':
			if !quoted {
				at = i
			}
		}
	}
	if at < 0 {
		return "<" + local + ">"
	}
	return "<" + local + inner[at:] + ">"
}
