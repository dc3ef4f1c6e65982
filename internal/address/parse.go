// Package address checks an e-mail address the way a sending MTA meets it:
// its syntax as an SMTP envelope address (RFC 5321 4.1.2, with the RFC 6531
// SMTPUTF8 extension and IDN domains), whether its domain can receive mail
// (package mx), and optionally what the domain's MX answers to RCPT TO for
// it and for a random address of the same domain (catch-all detection).
package address

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// Length limits, RFC 5321 4.5.3.1.
const (
	MaxLocal  = 64  // 4.5.3.1.1 local-part octets
	MaxDomain = 253 // 4.5.3.1.2 allows 255 octets on the wire; 253 in text (RFC 1035 2.3.4)
	// MaxAddress is the path limit of 4.5.3.1.3 (256 octets including
	// "<" and ">"), RFC 3696 erratum 1690.
	MaxAddress = 254
	// maxInput bounds what is parsed at all: anything longer is refused
	// without looking further, so hostile input costs nothing.
	maxInput = 4096
)

// Problem is one thing wrong or worth knowing about an address's syntax.
type Problem struct {
	ID       string            `json:"id"`
	Severity findings.Severity `json:"severity"` // fail: not a valid address; warn: valid but risky; info
	Message  string            `json:"message"`
	Ref      string            `json:"ref,omitempty"`
}

// Address is a parsed e-mail address.
type Address struct {
	Input string `json:"input"`
	// Local is the local part, unquoted and unescaped (what the quoting
	// stands for); String() re-quotes it minimally.
	Local string `json:"local"`
	// Domain is the ASCII (A-label) form, lower-case; for an address
	// literal, the literal with its brackets ("[192.0.2.1]").
	Domain string `json:"domain"`
	// DomainUnicode is the U-label form of an internationalised domain.
	DomainUnicode string `json:"domain_unicode,omitempty"`
	// Literal is the IP address of an address-literal domain.
	Literal netip.Addr `json:"-"`
	Quoted  bool       `json:"quoted"` // the local part was written as a quoted string
	// UTF8 is set when the local part holds non-ASCII characters: only
	// servers that offer SMTPUTF8 (RFC 6531) accept it.
	UTF8     bool      `json:"smtputf8_required"`
	Problems []Problem `json:"problems"`
}

// Valid reports whether the address is syntactically valid for SMTP.
func (a *Address) Valid() bool {
	for _, p := range a.Problems {
		if p.Severity == findings.SeverityFail {
			return false
		}
	}
	return a.Domain != ""
}

// String is the address with the minimal quoting RFC 5321 4.1.2 asks
// senders to use ("SHOULD transmit the form that uses the minimum quoting
// possible") and the ASCII form of the domain; "" when the address is not
// valid.
func (a *Address) String() string {
	if !a.Valid() {
		return ""
	}
	return QuoteLocal(a.Local) + "@" + a.Domain
}

// QuoteLocal returns local as a dot-string when it is one, else as a
// quoted string with '"' and '\' escaped.
func QuoteLocal(local string) string {
	if isDotString(local) {
		return local
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range local {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func (a *Address) add(id string, sev findings.Severity, ref, format string, args ...any) {
	a.Problems = append(a.Problems, Problem{ID: "address." + id, Severity: sev, Message: fmt.Sprintf(format, args...), Ref: ref})
}

func (a *Address) fail(id, ref, format string, args ...any) *Address {
	a.add(id, findings.SeverityFail, ref, format, args...)
	return a
}

// isAtext is RFC 5322 3.2.3 atext (ASCII); RFC 6531 3.3 adds UTF8-non-ascii.
func isAtext(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r >= 0x80:
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// isDotString reports RFC 5321 Dot-string = Atom *("." Atom).
func isDotString(s string) bool {
	if s == "" {
		return false
	}
	for _, atom := range strings.Split(s, ".") {
		if atom == "" {
			return false
		}
		for _, r := range atom {
			if !isAtext(r) {
				return false
			}
		}
	}
	return true
}

// suspicious reports characters that render invisibly or as something
// else: format characters (zero-width, bidi overrides) and non-ASCII
// spaces. They are allowed by nothing in an address.
func suspicious(r rune) bool {
	if r < 0x80 {
		return false
	}
	return unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || unicode.Is(unicode.Zs, r)
}

// Parse checks s as an SMTP envelope address (RFC 5321 4.1.2 Mailbox:
// Local-part "@" ( Domain / address-literal ), RFC 6531 3.3 for UTF-8). It
// never returns nil; Problems say what is wrong.
func Parse(s string) *Address {
	a := &Address{Input: s, Problems: []Problem{}}
	if len(s) > maxInput {
		return a.fail("too-long", "RFC 5321 4.5.3.1.3", "%d characters: an address has at most %d", len(s), MaxAddress)
	}
	s = strings.Trim(s, " ")
	if s == "" {
		return a.fail("empty", "", "the address is empty")
	}
	if !utf8.ValidString(s) {
		return a.fail("invalid-utf8", "RFC 6531 3.3", "the address is not valid UTF-8")
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return a.fail("control-character", "RFC 5321 4.1.2", "control character %s at position %d", sanitize.Line(string(r)), i+1)
		}
		if suspicious(r) {
			return a.fail("invisible-character", "RFC 6531 3.3", "invisible or space character U+%04X at position %d", r, i+1)
		}
	}
	// "<user@example.com>" is the envelope form; strip the brackets.
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") && len(s) > 2 {
		s = s[1 : len(s)-1]
		a.add("angle-brackets", findings.SeverityInfo, "RFC 5321 4.1.2", "the angle brackets of the envelope form were removed")
	} else if i := strings.LastIndexByte(s, '<'); i > 0 && strings.HasSuffix(s, ">") && !strings.HasPrefix(s, "\"") {
		return a.fail("display-name", "RFC 5322 3.4", "%q is a display name and an address; give the address alone: %s", s, s[i+1:len(s)-1])
	}
	if !strings.Contains(s, "@") {
		return a.fail("no-at", "RFC 5321 4.1.2", "no @: an address is local-part@domain")
	}

	var rest string
	if strings.HasPrefix(s, "\"") {
		local, after, ok := a.parseQuoted(s)
		if !ok {
			return a
		}
		a.Local, a.Quoted, rest = local, true, after
	} else {
		at := strings.IndexByte(s, '@')
		local := s[:at]
		rest = s[at:]
		if !a.checkDotString(local) {
			return a
		}
		a.Local = local
	}
	if !strings.HasPrefix(rest, "@") {
		return a.fail("invalid-character", "RFC 5321 4.1.2", "text after the quoted local part; expected @")
	}
	domain := rest[1:]
	if strings.Contains(domain, "@") {
		return a.fail("multiple-at", "RFC 5321 4.1.2", "more than one @ (an @ in the local part must be inside quotes)")
	}
	if n := len(QuoteLocal(a.Local)); n > MaxLocal {
		a.add("local-too-long", findings.SeverityFail, "RFC 5321 4.5.3.1.1", "the local part is %d octets; the limit is %d", n, MaxLocal)
	}
	if !ascii.Only(a.Local) {
		a.UTF8 = true
		a.add("smtputf8", findings.SeverityWarn, "RFC 6531 3.3",
			"the local part has non-ASCII characters: only servers that offer SMTPUTF8 accept it; others refuse it (553 5.6.7) and many senders cannot send to it")
		if !norm.NFC.IsNormalString(a.Local) {
			a.add("not-nfc", findings.SeverityWarn, "RFC 6532 3.1", "the local part is not in Unicode normalisation form NFC; the same-looking address typed elsewhere may not match")
		}
	}
	if a.Quoted {
		if isDotString(a.Local) {
			a.add("unneeded-quotes", findings.SeverityInfo, "RFC 5321 4.1.2", "the quotes are not needed: this is the same address as %s", QuoteLocal(a.Local)+"@"+domain)
		} else {
			a.add("quoted-local-part", findings.SeverityWarn, "RFC 5321 4.1.2",
				"the local part needs quotes (it has spaces, @, dots in odd places or other specials); valid, but many systems and forms refuse such addresses")
		}
	}
	a.parseDomain(domain)
	if a.Domain != "" {
		if n := len(QuoteLocal(a.Local)) + 1 + len(a.Domain); n > MaxAddress {
			a.add("too-long", findings.SeverityFail, "RFC 5321 4.5.3.1.3", "the address is %d octets; the limit is %d", n, MaxAddress)
		}
	}
	return a
}

// parseQuoted reads an RFC 5321 Quoted-string at the start of s:
// DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE, where qtextSMTP is
// %d32-33 / %d35-91 / %d93-126 (and UTF-8 with RFC 6531) and
// quoted-pairSMTP is "\" followed by %d32-126.
func (a *Address) parseQuoted(s string) (local, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			return b.String(), s[i+1:], true
		case r == '\\':
			if i+1 >= len(s) || s[i+1] < 32 || s[i+1] > 126 {
				a.fail("invalid-character", "RFC 5321 4.1.2", "a backslash in quotes must be followed by a printable ASCII character")
				return "", "", false
			}
			b.WriteByte(s[i+1])
			i += 2
			continue
		case r >= 32 && r <= 126, r >= 0x80:
			b.WriteRune(r)
		default:
			a.fail("invalid-character", "RFC 5321 4.1.2", "character %q is not allowed in a quoted local part", r)
			return "", "", false
		}
		i += size
	}
	a.fail("unterminated-quote", "RFC 5321 4.1.2", "the quoted local part has no closing quote")
	return "", "", false
}

// checkDotString validates an unquoted local part and explains the first
// problem (RFC 5321 4.1.2 Dot-string).
func (a *Address) checkDotString(local string) bool {
	switch {
	case local == "":
		a.fail("empty-local", "RFC 5321 4.1.2", "nothing before the @")
		return false
	case strings.HasPrefix(local, "."), strings.HasSuffix(local, "."):
		a.fail("dot-position", "RFC 5321 4.1.2", "the local part %q starts or ends with a dot (allowed only inside quotes)", local)
		return false
	case strings.Contains(local, ".."):
		a.fail("dot-position", "RFC 5321 4.1.2", "the local part %q has two dots in a row (allowed only inside quotes)", local)
		return false
	}
	for _, r := range local {
		if r != '.' && !isAtext(r) {
			what := fmt.Sprintf("%q", r)
			switch r {
			case ' ':
				what = "a space"
			case '(', ')':
				what = "a comment parenthesis (RFC 5322 comments are not allowed in SMTP)"
			case '"':
				what = "a quote in the middle (only a whole local part can be quoted)"
			}
			a.fail("invalid-character", "RFC 5321 4.1.2", "the local part contains %s; such characters need the whole local part quoted", what)
			return false
		}
	}
	return true
}

var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(true),
	idna.ValidateLabels(true),
)

// parseDomain checks RFC 5321 Domain / address-literal (4.1.2, 4.1.3) and
// RFC 5890 IDN domains.
func (a *Address) parseDomain(d string) {
	if d == "" {
		a.fail("empty-domain", "RFC 5321 4.1.2", "nothing after the @")
		return
	}
	if strings.HasPrefix(d, "[") {
		a.parseLiteral(d)
		return
	}
	if strings.HasSuffix(d, ".") {
		a.fail("domain-invalid", "RFC 5321 4.1.2", "the domain %q ends with a dot", d)
		return
	}
	aname := strings.ToLower(d)
	if !ascii.Only(d) {
		conv, err := idnaProfile.ToASCII(d)
		if err != nil {
			a.fail("domain-invalid", "RFC 5891 5", "the domain %q is not a valid internationalised name: %s", d, strings.TrimPrefix(err.Error(), "idna: "))
			return
		}
		aname = strings.ToLower(conv)
	}
	if len(aname) > MaxDomain {
		a.fail("domain-too-long", "RFC 5321 4.5.3.1.2", "the domain is %d octets; the limit is %d", len(aname), MaxDomain)
		return
	}
	labels := strings.Split(aname, ".")
	for _, l := range labels {
		switch {
		case l == "":
			a.fail("domain-invalid", "RFC 5321 4.1.2", "the domain %q has an empty label (two dots in a row or a leading dot)", d)
			return
		case len(l) > 63:
			a.fail("domain-invalid", "RFC 1035 2.3.4", "a label of the domain is %d octets; the limit is 63", len(l))
			return
		case l[0] == '-' || l[len(l)-1] == '-':
			a.fail("domain-invalid", "RFC 5321 4.1.2", "the domain label %q starts or ends with a hyphen", l)
			return
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				a.fail("domain-invalid", "RFC 5321 4.1.2", "the domain contains %q: only letters, digits and hyphens are allowed", c)
				return
			}
		}
	}
	if len(labels) < 2 {
		a.fail("domain-not-fqdn", "RFC 5321 2.3.5", "the domain %q has a single label; internet mail needs a full domain such as example.com", d)
		return
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		a.fail("domain-invalid", "RFC 3696 2", "the top-level label %q is all digits (an IP address needs brackets: [192.0.2.1])", labels[len(labels)-1])
		return
	}
	a.Domain = aname
	if uni, err := idnaProfile.ToUnicode(aname); err == nil && uni != aname {
		a.DomainUnicode = uni
		a.add("idn", findings.SeverityInfo, "RFC 5890", "internationalised domain %s, sent as %s", uni, aname)
	}
}

// parseLiteral checks an address literal: "[" IPv4 "]" or "[IPv6:" IPv6
// "]" (RFC 5321 4.1.3).
func (a *Address) parseLiteral(d string) {
	if !strings.HasSuffix(d, "]") {
		a.fail("domain-invalid", "RFC 5321 4.1.3", "the address literal %q has no closing bracket", d)
		return
	}
	inner := d[1 : len(d)-1]
	var ip netip.Addr
	var err error
	if v6, ok := strings.CutPrefix(inner, "IPv6:"); ok {
		ip, err = netip.ParseAddr(v6)
		if err == nil && (!ip.Is6() || ip.Is4In6() || ip.Zone() != "") {
			err = fmt.Errorf("not an IPv6 address")
		}
	} else {
		ip, err = netip.ParseAddr(inner)
		if err == nil && !ip.Is4() {
			err = fmt.Errorf("IPv6 literals are written [IPv6:%s]", inner)
		}
	}
	if err != nil {
		a.fail("domain-invalid", "RFC 5321 4.1.3", "the address literal %q is not valid: %v", d, err)
		return
	}
	a.Literal = ip
	a.Domain = d
	a.add("address-literal", findings.SeverityWarn, "RFC 5321 4.1.3",
		"the domain is an IP address literal: valid, but most providers refuse such addresses, and it has no MX")
}
