package spf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// TermKind tells mechanisms from modifiers (RFC 7208 4.6.1).
type TermKind string

// Term kinds.
const (
	KindMechanism TermKind = "mechanism"
	KindModifier  TermKind = "modifier"
)

// Term is one directive or modifier of a record, with its position.
type Term struct {
	// Pos is the byte offset of the term in the record text.
	Pos int `json:"pos"`
	// Text is the term exactly as published.
	Text string   `json:"text"`
	Kind TermKind `json:"kind"`
	// Name is the mechanism or modifier name, lower-case: all, include, a,
	// mx, ptr, ip4, ip6, exists; redirect, exp, or an unknown modifier.
	Name string `json:"name"`
	// Qualifier of a mechanism ('+' when none was written).
	Qualifier Qualifier `json:"-"`
	// QualifierExplicit is set when the qualifier was written.
	QualifierExplicit bool `json:"-"`
	// DomainSpec is the target of include, a, mx, ptr, exists, redirect
	// and exp (nil when absent: a, mx and ptr then use <domain>).
	DomainSpec *MacroString `json:"-"`
	// IP is the address of ip4 and ip6 mechanisms.
	IP netip.Addr `json:"-"`
	// CIDR4 and CIDR6 are the prefix lengths written (-1 when absent). ip4
	// uses CIDR4, ip6 CIDR6, a and mx both (dual-cidr-length).
	CIDR4 int `json:"-"`
	CIDR6 int `json:"-"`
	// Value is an unknown modifier's value.
	Value *MacroString `json:"-"`
}

// Record is a parsed SPF record.
type Record struct {
	// Text is the record as published (TXT strings joined).
	Text string
	// Terms are the mechanisms and modifiers, left to right.
	Terms []Term
}

// Mechanisms returns the directives in evaluation order.
func (r *Record) Mechanisms() []*Term {
	var out []*Term
	for i := range r.Terms {
		if r.Terms[i].Kind == KindMechanism {
			out = append(out, &r.Terms[i])
		}
	}
	return out
}

// Modifier returns the first modifier called name (redirect, exp), or nil.
func (r *Record) Modifier(name string) *Term {
	for i := range r.Terms {
		if t := &r.Terms[i]; t.Kind == KindModifier && t.Name == name {
			return t
		}
	}
	return nil
}

// Redirect returns the redirect= modifier or nil.
func (r *Record) Redirect() *Term { return r.Modifier("redirect") }

// Exp returns the exp= modifier or nil.
func (r *Record) Exp() *Term { return r.Modifier("exp") }

// HasAll reports whether the record has an "all" mechanism; RFC 7208 6.1:
// a redirect is then ignored.
func (r *Record) HasAll() bool {
	for _, t := range r.Terms {
		if t.Kind == KindMechanism && t.Name == "all" {
			return true
		}
	}
	return false
}

// String prints the record back in normal form: "v=spf1", then each term
// separated by one space, mechanism and modifier names lower-case, the
// qualifier only where one was written.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString(version)
	for _, t := range r.Terms {
		b.WriteByte(' ')
		b.WriteString(t.String())
	}
	return b.String()
}

// String prints the term back in normal form.
func (t *Term) String() string {
	var b strings.Builder
	if t.Kind == KindModifier {
		b.WriteString(t.Name)
		b.WriteByte('=')
		if t.DomainSpec != nil {
			b.WriteString(t.DomainSpec.Raw)
		} else if t.Value != nil {
			b.WriteString(t.Value.Raw)
		}
		return b.String()
	}
	if t.QualifierExplicit {
		b.WriteByte(byte(t.Qualifier))
	}
	b.WriteString(t.Name)
	switch t.Name {
	case "ip4", "ip6":
		b.WriteByte(':')
		b.WriteString(t.IP.String())
	default:
		if t.DomainSpec != nil {
			b.WriteByte(':')
			b.WriteString(t.DomainSpec.Raw)
		}
	}
	switch t.Name {
	case "ip4", "a", "mx":
		if t.CIDR4 >= 0 {
			b.WriteString("/" + strconv.Itoa(t.CIDR4))
		}
	}
	switch t.Name {
	case "a", "mx":
		if t.CIDR6 >= 0 {
			b.WriteString("//" + strconv.Itoa(t.CIDR6))
		}
	case "ip6":
		if t.CIDR6 >= 0 {
			b.WriteString("/" + strconv.Itoa(t.CIDR6))
		}
	}
	return b.String()
}

// Prefix is the network of an ip4 or ip6 mechanism.
func (t *Term) Prefix() netip.Prefix {
	bits := t.IP.BitLen()
	if t.Name == "ip4" && t.CIDR4 >= 0 {
		bits = t.CIDR4
	}
	if t.Name == "ip6" && t.CIDR6 >= 0 {
		bits = t.CIDR6
	}
	p, _ := t.IP.Prefix(bits)
	return p
}

// CausesLookup reports whether the term counts against the limit of 10
// DNS-querying terms (RFC 7208 4.6.4): include, a, mx, ptr, exists and
// redirect do; all, ip4, ip6 and exp do not.
func (t *Term) CausesLookup() bool {
	switch t.Name {
	case "include", "a", "mx", "ptr", "exists":
		return t.Kind == KindMechanism
	case "redirect":
		return t.Kind == KindModifier
	}
	return false
}

// SyntaxError lists every syntax error found in a record (RFC 7208 4.6:
// any syntax error anywhere in the record makes check_host() return
// permerror). It matches ErrSyntax.
type SyntaxError struct {
	Record string      // the record text
	Errors []TermError // in record order; never empty
}

// TermError is one syntax error: which term, where, and why.
type TermError struct {
	Pos   int    `json:"pos"`   // byte offset in the record
	Index int    `json:"index"` // term number, 1-based (0: the record as a whole)
	Term  string `json:"term"`  // the term as written
	Msg   string `json:"msg"`   // what is wrong
}

func (e TermError) String() string {
	if e.Index == 0 {
		return e.Msg
	}
	return fmt.Sprintf("term %d %q (byte %d): %s", e.Index, e.Term, e.Pos, e.Msg)
}

func (e *SyntaxError) Error() string {
	s := "SPF syntax error: " + e.Errors[0].String()
	if n := len(e.Errors) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// ParseRecord parses an SPF record (RFC 7208 4.5, 4.6, 5, 6, 7.1). It does
// no DNS. On syntax errors it returns the terms it could parse and a
// *SyntaxError naming every bad term. The text must start with "v=spf1"
// (case-insensitively) followed by a space or the end.
func ParseRecord(txt string) (*Record, error) {
	rec := &Record{Text: txt}
	if !IsSPFRecord(txt) {
		msg := `an SPF record must start with "v=spf1" followed by a space`
		if len(txt) > len(version) && strings.EqualFold(txt[:len(version)], version) {
			msg = fmt.Sprintf(`"v=spf1" must be followed by a space, not %q (were strings joined without a space?)`, txt[len(version):len(version)+1])
		}
		return rec, &SyntaxError{Record: txt, Errors: []TermError{{Msg: msg}}}
	}
	var errs []TermError
	seen := map[string]int{}
	i, n := len(version), 0
	for i < len(txt) {
		// RFC 7208 4.6.1: terms are separated by one or more SP (0x20) only.
		if txt[i] == ' ' {
			i++
			continue
		}
		j := strings.IndexByte(txt[i:], ' ')
		if j < 0 {
			j = len(txt)
		} else {
			j += i
		}
		n++
		term, msg := parseTerm(txt[i:j])
		term.Pos = i
		if msg == "" && term.Kind == KindModifier && (term.Name == "redirect" || term.Name == "exp") {
			// RFC 7208 6: redirect and exp MUST NOT appear more than once.
			if first, dup := seen[term.Name]; dup {
				msg = fmt.Sprintf("%s= appears more than once (first as term %d); it may appear at most once", term.Name, first)
			} else {
				seen[term.Name] = n
			}
		}
		if msg != "" {
			errs = append(errs, TermError{Pos: i, Index: n, Term: txt[i:j], Msg: msg})
		} else {
			rec.Terms = append(rec.Terms, term)
		}
		i = j
	}
	if len(errs) > 0 {
		return rec, &SyntaxError{Record: txt, Errors: errs}
	}
	return rec, nil
}

// parseTerm parses one term; msg says what is wrong ("" when fine).
func parseTerm(s string) (Term, string) {
	t := Term{Text: s, CIDR4: -1, CIDR6: -1, Qualifier: QualifierPass}
	for k := 0; k < len(s); k++ {
		if c := s[k]; c < 0x21 || c > 0x7e {
			if c > 0x7e {
				return t, fmt.Sprintf("contains the non-ASCII byte 0x%02X: SPF records are 7-bit ASCII (RFC 7208 3.1)", c)
			}
			return t, fmt.Sprintf("contains the control character 0x%02X: terms are separated by spaces only (RFC 7208 4.6.1)", c)
		}
	}
	// RFC 7208 4.6.1: a modifier is name "=" ...; the "=" comes before any
	// ":" or "/".
	if k := strings.IndexAny(s, ":/="); k >= 0 && s[k] == '=' {
		return parseModifier(t, s[:k], s[k+1:])
	}
	if strings.IndexByte("+-~?", s[0]) >= 0 {
		t.Qualifier, t.QualifierExplicit = Qualifier(s[0]), true
		s = s[1:]
	}
	t.Kind = KindMechanism
	k := strings.IndexAny(s, ":/")
	if k < 0 {
		k = len(s)
	}
	name, rest := strings.ToLower(s[:k]), s[k:]
	t.Name = name
	switch name {
	case "all":
		// RFC 7208 5.1: all = "all"
		if rest != "" {
			return t, `"all" takes no domain or CIDR length`
		}
	case "include", "exists":
		// RFC 7208 5.2, 5.7: include/exists ":" domain-spec
		if rest == "" || rest == ":" {
			return t, fmt.Sprintf("%s needs a domain: %s:example.com", name, name)
		}
		if rest[0] != ':' {
			return t, fmt.Sprintf("%s takes no CIDR length", name)
		}
		ds, msg := parseDomainSpec(rest[1:])
		if msg != "" {
			if strings.Contains(rest, "/") && strings.Contains(msg, "top-level label") {
				msg = fmt.Sprintf("%s takes no CIDR length; %s", name, msg)
			}
			return t, msg
		}
		t.DomainSpec = ds
	case "a", "mx":
		// RFC 7208 5.3, 5.4: [ ":" domain-spec ] [ dual-cidr-length ]
		spec, c4, c6, msg := splitDualCIDR(rest)
		if msg != "" {
			return t, msg
		}
		if spec != "" {
			if spec[0] != ':' {
				return t, fmt.Sprintf("bad CIDR length %q: write /24 for IPv4, //64 for IPv6, or /24//64 for both", rest)
			}
			if len(spec) == 1 {
				return t, fmt.Sprintf("%s: has an empty domain: omit the colon to use the current domain", name)
			}
			ds, msg := parseDomainSpec(spec[1:])
			if msg != "" {
				return t, msg
			}
			t.DomainSpec = ds
		}
		if t.CIDR4, msg = cidr(c4, 32); msg != "" {
			return t, msg
		}
		if t.CIDR6, msg = cidr(c6, 128); msg != "" {
			return t, msg
		}
	case "ptr":
		// RFC 7208 5.5: ptr [ ":" domain-spec ]
		if rest == "" {
			break
		}
		if rest[0] != ':' {
			return t, "ptr takes no CIDR length"
		}
		if len(rest) == 1 {
			return t, "ptr: has an empty domain: omit the colon to use the current domain"
		}
		ds, msg := parseDomainSpec(rest[1:])
		if msg != "" {
			return t, msg
		}
		t.DomainSpec = ds
	case "ip4", "ip6":
		// RFC 7208 5.6: ip4 ":" ip4-network [ ip4-cidr-length ], same for ip6.
		if rest == "" || rest[0] != ':' || len(rest) == 1 {
			return t, fmt.Sprintf("%s needs an address: %s:%s", name, name, map[string]string{"ip4": "192.0.2.0/24", "ip6": "2001:db8::/32"}[name])
		}
		addr, bits, hasBits := strings.Cut(rest[1:], "/")
		ip, err := netip.ParseAddr(addr)
		if name == "ip4" {
			if err != nil || !ip.Is4() {
				return t, fmt.Sprintf("%q is not an IPv4 address in dotted-quad form (four decimal numbers 0-255 without leading zeros)", addr)
			}
		} else if err != nil || !ip.Is6() || ip.Zone() != "" {
			return t, fmt.Sprintf("%q is not an IPv6 address", addr)
		}
		t.IP = ip
		if hasBits {
			max := 32
			if name == "ip6" {
				max = 128
			}
			c, msg := cidr(bits, max)
			if msg != "" {
				if strings.HasPrefix(bits, "/") {
					msg = "dual CIDR lengths (//) are allowed only on a and mx"
				}
				return t, msg
			}
			if name == "ip4" {
				t.CIDR4 = c
			} else {
				t.CIDR6 = c
			}
		}
	case "redirect", "exp":
		return t, fmt.Sprintf("%s is a modifier: write %s=domain, not %s", name, name, s)
	case "":
		return t, "empty mechanism name"
	default:
		if _, err := netip.ParseAddr(s); err == nil {
			return t, fmt.Sprintf("a bare address is not a mechanism: write ip4:%s or ip6:%s", s, s)
		}
		if !t.QualifierExplicit && len(s) > 1 && strings.IndexByte("+-~?", s[1]) < 0 {
			if q := s[0]; q == '!' || q == '=' || q == '^' {
				return t, fmt.Sprintf("unknown qualifier %q: use + - ~ or ?", q)
			}
		}
		return t, fmt.Sprintf("unknown mechanism %q (known: all include a mx ptr ip4 ip6 exists)", name)
	}
	return t, ""
}

func parseModifier(t Term, name, value string) (Term, string) {
	t.Kind = KindModifier
	t.Name = strings.ToLower(name)
	// RFC 7208 6 / A: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
	if name == "" {
		return t, `modifier with an empty name ("=" at the start of a term)`
	}
	if !isAlpha(name[0]) {
		if strings.IndexByte("+-~?", name[0]) >= 0 {
			return t, fmt.Sprintf("a modifier has no qualifier: %q", name[0])
		}
		return t, fmt.Sprintf("modifier name %q must start with a letter", name)
	}
	for k := 1; k < len(name); k++ {
		if c := name[k]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return t, fmt.Sprintf("modifier name %q may hold only letters, digits, - _ and .", name)
		}
	}
	switch t.Name {
	case "redirect", "exp":
		// RFC 7208 6.1, 6.2: redirect/exp "=" domain-spec
		if value == "" {
			return t, fmt.Sprintf("%s= needs a domain", t.Name)
		}
		ds, msg := parseDomainSpec(value)
		if msg != "" {
			return t, msg
		}
		t.DomainSpec = ds
	default:
		// RFC 7208 6.3 / A: unknown-modifier = name "=" macro-string; its
		// macros must be valid even though it is ignored.
		ms, err := ParseMacroString(value, macroModifier)
		if err != nil {
			return t, err.Error()
		}
		t.Value = ms
	}
	return t, ""
}

// splitDualCIDR splits "[:domain-spec][/n][//m]" from the right.
func splitDualCIDR(s string) (spec, c4, c6, msg string) {
	trailingDigits := func(s string) int {
		i := len(s)
		for i > 0 && isDigit(s[i-1]) {
			i--
		}
		return i
	}
	if i := trailingDigits(s); i < len(s) && i >= 2 && s[i-2:i] == "//" {
		c6, s = s[i:], s[:i-2]
	}
	if i := trailingDigits(s); i < len(s) && i >= 1 && s[i-1] == '/' {
		c4, s = s[i:], s[:i-1]
	}
	if strings.HasSuffix(s, "/") {
		return "", "", "", "empty or malformed CIDR length (a / not followed by digits)"
	}
	return s, c4, c6, ""
}

// cidr validates a CIDR length: decimal, no leading zeros (RFC 7208 5.6
// ABNF), at most max. Empty means absent (-1).
func cidr(s string, max int) (int, string) {
	if s == "" {
		return -1, ""
	}
	for k := 0; k < len(s); k++ {
		if !isDigit(s[k]) {
			return 0, fmt.Sprintf("CIDR length %q is not a number", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Sprintf("CIDR length %q has a leading zero", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > max || len(s) > 3 {
		return 0, fmt.Sprintf("CIDR length /%s is out of range (0-%d)", s, max)
	}
	return n, ""
}

// parseDomainSpec parses and validates a domain-spec (RFC 7208 7.1):
//
//	domain-spec = macro-string domain-end
//	domain-end  = ( "." toplabel [ "." ] ) / macro-expand
func parseDomainSpec(s string) (*MacroString, string) {
	if s == "" {
		return nil, "empty domain"
	}
	ms, err := ParseMacroString(s, macroDomain)
	if err != nil {
		return nil, err.Error()
	}
	if ms.EndsInMacro() {
		return ms, ""
	}
	lit := strings.TrimSuffix(ms.Parts[len(ms.Parts)-1].Literal, ".")
	dot := strings.LastIndexByte(lit, '.')
	top := lit[dot+1:]
	switch {
	case dot < 0 && len(ms.Parts) == 1:
		if _, err := netip.ParseAddr(s); err == nil {
			return nil, fmt.Sprintf("%q is an IP address, not a domain: use ip4: or ip6:", s)
		}
		return nil, fmt.Sprintf("domain %q must be fully qualified (end in a top-level label such as .com)", s)
	case dot < 0:
		return nil, fmt.Sprintf("domain %q must end in a macro or in \".\" and a top-level label", s)
	case !isTopLabel(top):
		if _, err := netip.ParseAddr(s); err == nil {
			return nil, fmt.Sprintf("%q is an IP address, not a domain: use ip4:%s", s, s)
		}
		return nil, fmt.Sprintf("domain %q does not end in a valid top-level label (%q): letters, digits and inner hyphens, not all digits", s, top)
	}
	return ms, ""
}

// isTopLabel implements RFC 7208 7.1:
//
//	toplabel = ( *alphanum ALPHA *alphanum ) /
//	           ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
func isTopLabel(s string) bool {
	if s == "" {
		return false
	}
	alpha, dash := false, false
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case isAlpha(c):
			alpha = true
		case isDigit(c):
		case c == '-':
			if k == 0 || k == len(s)-1 {
				return false
			}
			dash = true
		default:
			return false
		}
	}
	return alpha || dash
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
