package spf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// MacroString is a parsed macro-string (RFC 7208 7.1): literal text and
// macro-expands, ready to expand without parsing again.
type MacroString struct {
	Raw   string      // as written
	Parts []MacroPart // literals and macros, in order; never empty for a non-empty Raw
}

// MacroPart is one piece of a macro-string: a literal, an escape (%% %_ %-)
// or a macro %{letter transformers delimiters}.
type MacroPart struct {
	Literal string // literal text (Letter and Escape zero)
	Escape  byte   // '%', '_' or '-' for %%, %_ and %-
	Letter  byte   // macro letter, lower-case: s l o d i p h c r t v
	Upper   bool   // the letter was upper-case: URL-escape the value (7.3)
	Digits  int    // keep this many right-hand parts (0: all)
	Reverse bool   // the "r" transformer
	Delims  string // delimiters to split on ("" means ".")
}

// macroContext says where a macro-string appears; it decides which letters
// are allowed (RFC 7208 7.3: c, r and t only in explanation text).
type macroContext int

const (
	macroDomain   macroContext = iota // a domain-spec
	macroExplain                      // explanation text (explain-string: spaces allowed)
	macroModifier                     // an unknown modifier's value (never expanded)
)

// MacroSyntaxError says what is wrong in a macro-string and where.
type MacroSyntaxError struct {
	Pos int    // byte offset in the macro-string
	Msg string // what is wrong
}

func (e *MacroSyntaxError) Error() string {
	return fmt.Sprintf("macro error at byte %d: %s", e.Pos, e.Msg)
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *MacroSyntaxError) Is(target error) bool { return target == ErrSyntax }

// ParseDomainSpecMacro parses a macro-string used as a domain-spec: the
// letters s l o d i p h v are allowed (and their upper-case forms).
func ParseDomainSpecMacro(s string) (*MacroString, error) { return ParseMacroString(s, macroDomain) }

// ParseExplanation parses explanation text (RFC 7208 6.2, 7.1:
// explain-string = *( macro-string / SP )), where c r t are allowed too.
func ParseExplanation(s string) (*MacroString, error) { return ParseMacroString(s, macroExplain) }

// ParseMacroString parses s per RFC 7208 7.1:
//
//	macro-string = *( macro-expand / macro-literal )
//	macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
//	               / "%%" / "%_" / "%-"
//	macro-literal = %x21-24 / %x26-7E
//	transformers = *DIGIT [ "r" ]
//	delimiter    = "." / "-" / "+" / "," / "/" / "_" / "="
func ParseMacroString(s string, ctx macroContext) (*MacroString, error) {
	ms := &MacroString{Raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			ms.Parts = append(ms.Parts, MacroPart{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if c == ' ' && ctx == macroExplain {
				lit.WriteByte(c)
				continue
			}
			if c < 0x21 || c > 0x7e {
				return nil, &MacroSyntaxError{i, fmt.Sprintf("byte 0x%02X is not allowed (printable ASCII only)", c)}
			}
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return nil, &MacroSyntaxError{i, `a "%" at the end: write "%%" for a literal percent sign`}
		}
		switch s[i+1] {
		case '%', '_', '-':
			flush()
			ms.Parts = append(ms.Parts, MacroPart{Escape: s[i+1]})
			i++
			continue
		case '{':
		default:
			return nil, &MacroSyntaxError{i, fmt.Sprintf(`"%%%c" is not a macro: "%%" must be followed by "{", "%%", "_" or "-" (RFC 7208 7.1)`, s[i+1])}
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, &MacroSyntaxError{i, `macro "%{" is not closed with "}"`}
		}
		body := s[i+2 : i+end]
		p, msg := parseMacroBody(body, ctx)
		if msg != "" {
			return nil, &MacroSyntaxError{i, fmt.Sprintf("%%{%s}: %s", body, msg)}
		}
		flush()
		ms.Parts = append(ms.Parts, p)
		i += end
	}
	flush()
	return ms, nil
}

func parseMacroBody(body string, ctx macroContext) (MacroPart, string) {
	var p MacroPart
	if body == "" {
		return p, "empty macro"
	}
	l := body[0]
	if l >= 'A' && l <= 'Z' {
		p.Upper = true
		l += 'a' - 'A'
	}
	switch l {
	case 's', 'l', 'o', 'd', 'i', 'p', 'h', 'v':
	case 'c', 'r', 't':
		// RFC 7208 7.3: c, r and t are allowed only in "exp" text.
		if ctx == macroDomain {
			return p, fmt.Sprintf("macro letter %q is allowed only in explanation text", body[0])
		}
	default:
		return p, fmt.Sprintf("unknown macro letter %q (known: s l o d i p h c r t v)", body[0])
	}
	p.Letter = l
	k := 1
	for k < len(body) && isDigit(body[k]) {
		k++
	}
	if k > 1 {
		digits := body[1:k]
		n, err := strconv.Atoi(digits)
		if err != nil || len(digits) > 3 {
			n = 128 // more parts than any domain has: all of them
		}
		// RFC 7208 7.3: "If a DIGIT is specified, the value MUST be nonzero."
		if n == 0 {
			return p, "the number of parts to keep must not be zero"
		}
		p.Digits = n
	}
	if k < len(body) && (body[k] == 'r' || body[k] == 'R') {
		p.Reverse = true
		k++
	}
	for ; k < len(body); k++ {
		if strings.IndexByte(".-+,/_=", body[k]) < 0 {
			return p, fmt.Sprintf("%q is not a transformer or delimiter (delimiters: . - + , / _ =)", body[k])
		}
		p.Delims += string(body[k])
	}
	return p, ""
}

// EndsInMacro reports whether the string ends in a macro-expand (which
// makes it a valid domain-end, RFC 7208 7.1).
func (m *MacroString) EndsInMacro() bool {
	if len(m.Parts) == 0 {
		return false
	}
	last := m.Parts[len(m.Parts)-1]
	return last.Letter != 0 || last.Escape != 0
}

// HasMacros reports whether expansion can change the string.
func (m *MacroString) HasMacros() bool {
	for _, p := range m.Parts {
		if p.Letter != 0 || p.Escape != 0 {
			return true
		}
	}
	return false
}

// Uses reports whether the string uses macro letter l.
func (m *MacroString) Uses(l byte) bool {
	for _, p := range m.Parts {
		if p.Letter == l {
			return true
		}
	}
	return false
}

// MacroEnv holds the values macros expand to (RFC 7208 7.3).
type MacroEnv struct {
	Sender        string     // s: <sender>, local-part@domain
	Local         string     // l: local-part of <sender>
	SenderDomain  string     // o: domain of <sender>
	Domain        string     // d: <domain>, the current domain
	IP            netip.Addr // i, c, v: the client address (unmapped)
	HELO          string     // h: the HELO/EHLO domain
	ReceivingHost string     // r: the host performing the check ("unknown" when empty)
	Now           time.Time  // t: the current time
	// ValidatedDomain computes p, the validated domain name of IP, when a
	// macro needs it (it costs DNS lookups). Nil: "unknown".
	ValidatedDomain func() (string, error)
}

// Expand expands the macros. Only %{p} can fail (its DNS lookups, e.g.
// the lookup limit), and then the error is returned.
func (m *MacroString) Expand(env *MacroEnv) (string, error) {
	var b strings.Builder
	for _, p := range m.Parts {
		switch {
		case p.Letter == 0 && p.Escape == 0:
			b.WriteString(p.Literal)
		case p.Escape == '%':
			b.WriteByte('%')
		case p.Escape == '_':
			b.WriteByte(' ')
		case p.Escape == '-':
			b.WriteString("%20")
		default:
			v, err := env.value(p.Letter)
			if err != nil {
				return "", err
			}
			b.WriteString(p.transform(v))
		}
	}
	return b.String(), nil
}

func (env *MacroEnv) value(l byte) (string, error) {
	switch l {
	case 's':
		return env.Sender, nil
	case 'l':
		return env.Local, nil
	case 'o':
		return env.SenderDomain, nil
	case 'd':
		return env.Domain, nil
	case 'i':
		return dotIP(env.IP), nil
	case 'p':
		if env.ValidatedDomain == nil {
			return "unknown", nil
		}
		return env.ValidatedDomain()
	case 'h':
		return env.HELO, nil
	case 'c':
		if !env.IP.IsValid() {
			return "", nil
		}
		return env.IP.String(), nil
	case 'r':
		if env.ReceivingHost == "" {
			return "unknown", nil
		}
		return env.ReceivingHost, nil
	case 't':
		return strconv.FormatInt(env.Now.Unix(), 10), nil
	case 'v':
		if env.IP.Is4() {
			return "in-addr", nil
		}
		return "ip6", nil
	}
	return "", nil
}

// dotIP is the "i" macro: the dotted quad of an IPv4 address, or the 32
// dot-separated nibbles of an IPv6 address (RFC 7208 7.3, upper-case hex
// as in its examples).
func dotIP(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	if ip.Is4() {
		return ip.String()
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, 63)
	for i, x := range ip.As16() {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, hex[x>>4], '.', hex[x&0xf])
	}
	return string(b)
}

// transform applies the transformers and URL escaping (RFC 7208 7.3): split
// on the delimiters, reverse, keep the right-hand Digits parts, join with
// ".", and URL-escape when the letter was upper-case.
func (p MacroPart) transform(v string) string {
	if p.Digits > 0 || p.Reverse || p.Delims != "" {
		delims := p.Delims
		if delims == "" {
			delims = "."
		}
		parts := splitAny(v, delims)
		if p.Reverse {
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
		if p.Digits > 0 && p.Digits < len(parts) {
			parts = parts[len(parts)-p.Digits:]
		}
		v = strings.Join(parts, ".")
	}
	if p.Upper {
		v = urlEscape(v)
	}
	return v
}

// splitAny splits s at every byte in delims, keeping empty parts.
func splitAny(s, delims string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(delims, s[i]) >= 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// urlEscape escapes every byte outside RFC 3986's unreserved set
// (ALPHA DIGIT - . _ ~) as %XX, as RFC 7208 7.3 requires for upper-case
// macro letters.
func urlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// expandDomain expands a domain-spec for a DNS query (RFC 7208 7.3): a
// trailing dot is dropped, and a name longer than 253 octets loses labels
// on the left until it fits.
func expandDomain(m *MacroString, env *MacroEnv) (string, error) {
	s, err := m.Expand(env)
	if err != nil {
		return "", err
	}
	s = strings.TrimSuffix(s, ".")
	for len(s) > 253 {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return s, nil
}
