// Package dmarc implements DMARC as RFC 9989 (DMARCbis, May 2026) defines
// it, and says where an RFC 7489 receiver decides differently:
//
//   - ParseRecord parses a DMARC Policy Record (RFC 9989 4.7, 4.8) with
//     precise errors, and Record.String prints it back;
//   - Lookup discovers the record that applies to a domain with the DNS Tree
//     Walk (RFC 9989 4.10), recording every name asked, and determines the
//     Organizational Domain (4.10.2) and the effective policies;
//   - Evaluate judges one message (its From domain and the SPF and DKIM
//     identities that passed): Identifier Alignment, the DMARC result, the
//     policy a receiver applies and what that means for delivery;
//     EvaluateSender asks the same for mail from an IP (SPF check_host
//     first);
//   - Analyze lints a domain's DMARC deployment into findings.
//
// That is the whole API: parse, lookup, evaluate, analyse; the rest is the
// data they return.
//
// Parsing never does DNS; everything that does takes a dnsx.Resolver.
package dmarc

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
)

// Policy is a Domain Owner Assessment Policy (RFC 9989 4.7, tags p, sp, np).
type Policy string

// Policies. The empty Policy means "tag absent".
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// strength orders policies: none < quarantine < reject (absent = none).
func (p Policy) strength() int {
	switch p {
	case PolicyQuarantine:
		return 1
	case PolicyReject:
		return 2
	default:
		return 0
	}
}

// Weaker reports whether p asks for less than q.
func (p Policy) Weaker(q Policy) bool { return p.strength() < q.strength() }

// OneLevelDown is the policy applied under t=y (RFC 9989 4.7, tag t):
// reject becomes quarantine, quarantine becomes none.
func (p Policy) OneLevelDown() Policy {
	switch p {
	case PolicyReject:
		return PolicyQuarantine
	case PolicyQuarantine:
		return PolicyNone
	default:
		return p
	}
}

// AlignmentMode is an Identifier Alignment mode (tags adkim, aspf).
type AlignmentMode string

// Alignment modes. The empty mode means "tag absent" (relaxed).
const (
	AlignRelaxed AlignmentMode = "r"
	AlignStrict  AlignmentMode = "s"
)

// Name is "relaxed" or "strict".
func (m AlignmentMode) Name() string {
	if m == AlignStrict {
		return "strict"
	}
	return "relaxed"
}

// PSDFlag is the value of the psd tag (RFC 9989 4.7).
type PSDFlag string

// psd values. The empty flag means "tag absent" (u).
const (
	PSDYes     PSDFlag = "y" // the domain is a Public Suffix Domain
	PSDNo      PSDFlag = "n" // the domain is an Organizational Domain
	PSDUnknown PSDFlag = "u" // default: determine by the tree walk
)

// URI is one DMARC reporting URI (RFC 9989 4.6, 4.8 dmarc-uri).
type URI struct {
	Raw     string `json:"uri"`               // as written, including any !size
	Scheme  string `json:"scheme"`            // lower case, e.g. "mailto"
	Address string `json:"address,omitempty"` // mailto: the addr-spec
	Host    string `json:"host,omitempty"`    // the destination host (mailto: the address's domain), lower case
	// Size is the obsolete "!size" suffix (obs-dmarc-report-size), which
	// RFC 9989 receivers ignore and RFC 7489 receivers honour.
	Size string `json:"size,omitempty"`
}

// Tag is one tag=value pair as it appeared in the record.
type Tag struct {
	Name  string `json:"name"`  // lower case
	Value string `json:"value"` // without surrounding whitespace
}

// Record is a parsed DMARC Policy Record. Absent tags are left at their zero
// values; use the methods (P, SP, NP, ADKIMMode, ...) for the effective
// values with RFC 9989's defaults applied.
type Record struct {
	Version           string        `json:"v"`
	Policy            Policy        `json:"p,omitempty"`
	SubdomainPolicy   Policy        `json:"sp,omitempty"`
	NonExistentPolicy Policy        `json:"np,omitempty"`
	PSD               PSDFlag       `json:"psd,omitempty"`
	Testing           string        `json:"t,omitempty"` // "y", "n" or "" (absent)
	ADKIM             AlignmentMode `json:"adkim,omitempty"`
	ASPF              AlignmentMode `json:"aspf,omitempty"`
	RUA               []URI         `json:"rua,omitempty"`
	RUF               []URI         `json:"ruf,omitempty"`
	FO                []string      `json:"fo,omitempty"`

	// Legacy tags: RFC 7489 defined them, RFC 9989 removed them (C.5.2), so
	// RFC 9989 receivers ignore them and RFC 7489 receivers honour them.
	Pct *int     `json:"pct,omitempty"`
	RF  []string `json:"rf,omitempty"`
	RI  *int64   `json:"ri,omitempty"`

	// Unknown are tags RFC 9989 does not define; receivers ignore them
	// (4.7: "unknown tags MUST be ignored").
	Unknown []Tag `json:"unknown,omitempty"`
	// Tags are all tags in the order they appeared (v first).
	Tags []Tag `json:"-"`
	// Errors are the tags that did not parse. Their values were discarded in
	// favour of defaults, as RFC 9989 4.8 requires.
	Errors []*TagError `json:"-"`
}

// ErrNotDMARC means the text is not a DMARC record at all: it does not start
// with v=DMARC1. Receivers discard such records (RFC 9989 4.7, tag v).
var ErrNotDMARC = errors.New("not a DMARC record")

// ErrSyntax marks a tag that is malformed; the record still applies with
// the tag's default.
var ErrSyntax = errors.New("DMARC syntax error")

// TagError says which tag of a record is wrong and why.
type TagError struct {
	Tag    string // lower-case tag name ("" when the tag name itself is missing)
	Value  string // the value as written
	Reason string // what is wrong, for people
	// Legacy is set for errors in tags RFC 9989 removed (pct, rf, ri), which
	// only RFC 7489 receivers read.
	Legacy bool
	err    error // ErrNotDMARC or ErrSyntax
}

func (e *TagError) Error() string {
	if e.Tag == "" {
		return "dmarc: " + e.Reason
	}
	return fmt.Sprintf("dmarc: %s=%s: %s", e.Tag, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrNotDMARC) or errors.Is(err, ErrSyntax) work.
func (e *TagError) Unwrap() error { return e.err }

// maxRecordLen bounds what ParseRecord looks at: a TXT record can be 64 KB,
// a sensible DMARC record is a few hundred bytes.
const maxRecordLen = 8192

// isDMARC reports whether txt starts like a DMARC record (v=DMARC1 as the
// first tag), the test receivers apply before anything else (RFC 9989 4.10
// steps 2 and 6).
func isDMARC(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	name, value, ok := strings.Cut(first, "=")
	return ok && strings.EqualFold(trimWSP(name), "v") && trimWSP(value) == "DMARC1"
}

// ParseRecord parses a DMARC Policy Record (RFC 9989 4.7, 4.8).
//
// If txt is not a DMARC record (v=DMARC1 is not the first tag), it returns
// nil and a *TagError matching ErrNotDMARC. Otherwise it returns the record,
// and if some tags are malformed also an error joining one *TagError per
// bad tag (each matching ErrSyntax); the returned record then holds the
// defaults for those tags, which is how receivers treat it (4.8: "syntax
// errors in the remainder of the record MUST be discarded in favor of
// default values"). rec.Errors lists the same errors.
func ParseRecord(txt string) (*Record, error) {
	if len(txt) > maxRecordLen {
		return nil, &TagError{Reason: fmt.Sprintf("record is %d bytes long; a DMARC record is at most a few hundred", len(txt)), err: ErrNotDMARC}
	}
	parts := strings.Split(txt, ";")
	// RFC 9989 4.8: dmarc-version = "v" equals %s"DMARC1": the tag name is
	// case-insensitive (ABNF), the value is case-sensitive.
	name, value, ok := strings.Cut(parts[0], "=")
	name, value = trimWSP(name), trimWSP(value)
	switch {
	case !ok || !strings.EqualFold(name, "v"):
		return nil, &TagError{Tag: ascii.Lower(name), Value: value, Reason: "the first tag must be v=DMARC1", err: ErrNotDMARC}
	case value == "DMARC1":
	case strings.EqualFold(value, "DMARC1"):
		return nil, &TagError{Tag: "v", Value: value, Reason: "the version is case-sensitive: write DMARC1", err: ErrNotDMARC}
	case strings.HasPrefix(value, "DMARC1"):
		return nil, &TagError{Tag: "v", Value: value, Reason: "expected \";\" after v=DMARC1", err: ErrNotDMARC}
	default:
		return nil, &TagError{Tag: "v", Value: value, Reason: "the only DMARC version is DMARC1", err: ErrNotDMARC}
	}
	rec := &Record{Version: "DMARC1", Tags: []Tag{{Name: "v", Value: "DMARC1"}}}
	seen := map[string]bool{"v": true}
	for i, part := range parts[1:] {
		if trimWSP(part) == "" {
			// An empty tag between separators ("p=none;;") or the optional
			// trailing separator: nothing to parse. Only the trailing one is
			// in the grammar, but every receiver skips both.
			_ = i
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name, value = trimWSP(name), trimWSP(value)
		lname := ascii.Lower(name) // not strings.ToLower: an invalid byte would grow to U+FFFD
		if !ok {
			rec.addErr(&TagError{Tag: "", Value: "", Reason: fmt.Sprintf("%q is not a tag=value pair", trimWSP(part))})
			continue
		}
		tag := Tag{Name: lname, Value: value}
		rec.Tags = append(rec.Tags, tag)
		if reason := checkTagName(name); reason != "" {
			rec.addErr(&TagError{Tag: lname, Value: value, Reason: reason})
			continue
		}
		if value == "" {
			rec.addErr(&TagError{Tag: lname, Value: value, Reason: "the value is empty", Legacy: isLegacy(lname)})
			continue
		}
		if reason := checkValueChars(value); reason != "" {
			rec.addErr(&TagError{Tag: lname, Value: value, Reason: reason, Legacy: isLegacy(lname)})
			continue
		}
		if seen[lname] && lname != "" {
			// The RFC does not say which of two copies wins; receivers differ.
			rec.addErr(&TagError{Tag: lname, Value: value, Reason: "the tag appears twice; receivers may use either value", Legacy: isLegacy(lname)})
			continue
		}
		seen[lname] = true
		if err := rec.setTag(lname, value); err != nil {
			rec.addErr(err)
		}
	}
	if len(rec.Errors) == 0 {
		return rec, nil
	}
	errs := make([]error, len(rec.Errors))
	for i, e := range rec.Errors {
		errs[i] = e
	}
	return rec, errors.Join(errs...)
}

func (r *Record) addErr(e *TagError) {
	e.err = ErrSyntax
	r.Errors = append(r.Errors, e)
}

func isLegacy(tag string) bool { return tag == "pct" || tag == "rf" || tag == "ri" }

// setTag interprets one tag (RFC 9989 4.8, Table 2; RFC 7489 6.3 for the
// legacy tags).
func (r *Record) setTag(name, value string) *TagError {
	bad := func(reason string) *TagError {
		return &TagError{Tag: name, Value: value, Reason: reason, Legacy: isLegacy(name)}
	}
	lv := strings.ToLower(value)
	switch name {
	case "p", "sp", "np":
		// dmarc-request = "none" / "quarantine" / "reject" (ABNF strings
		// are case-insensitive).
		var p Policy
		switch lv {
		case "none", "quarantine", "reject":
			p = Policy(lv)
		default:
			return bad("want none, quarantine or reject")
		}
		switch name {
		case "p":
			r.Policy = p
		case "sp":
			r.SubdomainPolicy = p
		default:
			r.NonExistentPolicy = p
		}
	case "t":
		if lv != "y" && lv != "n" {
			return bad("want y or n")
		}
		r.Testing = lv
	case "psd":
		if lv != "y" && lv != "n" && lv != "u" {
			return bad("want y, n or u")
		}
		r.PSD = PSDFlag(lv)
	case "adkim", "aspf":
		if lv != "r" && lv != "s" {
			return bad("want r (relaxed) or s (strict)")
		}
		if name == "adkim" {
			r.ADKIM = AlignmentMode(lv)
		} else {
			r.ASPF = AlignmentMode(lv)
		}
	case "rua", "ruf":
		uris, err := parseURIList(value)
		if name == "rua" {
			r.RUA = uris
		} else {
			r.RUF = uris
		}
		if err != "" {
			return bad(err)
		}
	case "fo":
		opts, err := parseFO(lv)
		if err != "" {
			return bad(err)
		}
		r.FO = opts
	case "pct":
		// RFC 7489 6.3: pct is an integer 0-100.
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 100 || !allDigits(value) {
			return bad("want an integer from 0 to 100 (RFC 7489)")
		}
		r.Pct = &n
	case "rf":
		// RFC 7489 6.3: colon-separated report formats; "afrf" is the only one.
		for _, f := range strings.Split(lv, ":") {
			f = trimWSP(f)
			if f != "afrf" {
				return bad("want afrf (RFC 7489)")
			}
			r.RF = append(r.RF, f)
		}
	case "ri":
		// RFC 7489 6.3: 32-bit unsigned integer, seconds.
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return bad("want a number of seconds (RFC 7489)")
		}
		v := int64(n)
		r.RI = &v
	default:
		r.Unknown = append(r.Unknown, Tag{Name: name, Value: value})
	}
	return nil
}

// parseFO parses dmarc-fo: "0" and "1" are mutually exclusive, "d" and "s"
// may each appear once, colon-separated in any order (RFC 9989 4.7, 4.8).
func parseFO(v string) ([]string, string) {
	var out []string
	seen := map[string]bool{}
	for _, o := range strings.Split(v, ":") {
		o = trimWSP(o)
		switch o {
		case "0", "1", "d", "s":
		case "":
			return nil, "empty option between colons"
		default:
			return nil, fmt.Sprintf("unknown option %q: want 0, 1, d or s, separated by colons", o)
		}
		if seen[o] {
			return nil, fmt.Sprintf("option %q appears twice", o)
		}
		seen[o] = true
		out = append(out, o)
	}
	if seen["0"] && seen["1"] {
		return nil, "options 0 and 1 are mutually exclusive"
	}
	return out, ""
}

// parseURIList parses dmarc-urilist: URIs separated by commas with optional
// whitespace (RFC 9989 4.8). It returns every URI that parsed and the
// reason the first bad one did not.
func parseURIList(v string) ([]URI, string) {
	var out []URI
	var first string
	for _, raw := range strings.Split(v, ",") {
		raw = trimWSP(raw)
		u, err := parseURI(raw)
		if err != "" {
			if first == "" {
				first = err
			}
			continue
		}
		out = append(out, u)
	}
	return out, first
}

// parseURI parses one DMARC reporting URI, with the obsolete "!size"
// suffix (RFC 9989 4.8 obs-dmarc-uri). It returns a reason when the URI is
// not usable.
func parseURI(raw string) (URI, string) {
	u := URI{Raw: raw}
	if raw == "" {
		return u, "empty URI in the list (stray comma?)"
	}
	base := raw
	if i := strings.LastIndexByte(raw, '!'); i >= 0 {
		size := raw[i+1:]
		if !validSize(size) {
			return u, fmt.Sprintf("%q: \"!\" must be percent-encoded, or followed by a size such as !10m", raw)
		}
		base, u.Size = raw[:i], size
	}
	scheme, rest, ok := strings.Cut(base, ":")
	if !ok || scheme == "" || !validScheme(scheme) {
		if strings.Contains(base, "@") && !strings.Contains(base, ":") {
			return u, fmt.Sprintf("%q has no scheme: write mailto:%s", raw, base)
		}
		return u, fmt.Sprintf("%q is not a URI (want mailto:address)", raw)
	}
	u.Scheme = strings.ToLower(scheme)
	switch u.Scheme {
	case "mailto":
		// RFC 6068: mailto:addr-spec, possibly percent-encoded, possibly
		// with ?headers (meaningless here, and stripped).
		addr, _, _ := strings.Cut(rest, "?")
		dec, err := url.PathUnescape(addr)
		if err != nil {
			return u, fmt.Sprintf("%q: bad percent-encoding", raw)
		}
		if strings.Contains(dec, ",") {
			return u, fmt.Sprintf("%q: several addresses in one URI; separate URIs with commas, each with mailto:", raw)
		}
		a, err := mail.ParseAddress(dec)
		if err != nil || a.Name != "" || strings.ContainsAny(dec, "<>") {
			return u, fmt.Sprintf("%q: %q is not an e-mail address", raw, dec)
		}
		at := strings.LastIndexByte(a.Address, '@')
		host := strings.ToLower(strings.TrimSuffix(a.Address[at+1:], "."))
		if !validHost(host) {
			return u, fmt.Sprintf("%q: %q is not a domain name", raw, host)
		}
		u.Address, u.Host = a.Address, host
	default:
		p, err := url.Parse(base)
		if err != nil {
			return u, fmt.Sprintf("%q is not a URI: %s", raw, strings.TrimPrefix(err.Error(), "parse "))
		}
		u.Host = strings.ToLower(p.Hostname())
	}
	return u, ""
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// validSize is obs-dmarc-report-size without the "!": 1*DIGIT [k/m/g/t].
func validSize(s string) bool {
	if s == "" {
		return false
	}
	if c := s[len(s)-1]; c == 'k' || c == 'm' || c == 'g' || c == 't' || c == 'K' || c == 'M' || c == 'G' || c == 'T' {
		s = s[:len(s)-1]
	}
	return s != "" && allDigits(s)
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// checkTagName applies dmarc-tag's 1*ALPHA.
func checkTagName(n string) string {
	if n == "" {
		return "missing tag name before \"=\""
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Sprintf("tag name %q may contain only letters", n)
		}
	}
	return ""
}

// checkValueChars applies dmarc-value: printing characters but ";".
func checkValueChars(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return fmt.Sprintf("the value contains the byte 0x%02x; only printable ASCII is allowed", c)
		}
	}
	return ""
}

// trimWSP strips RFC 5234 WSP (space, tab) and, leniently, other white
// space such as the CR/LF some DNS consoles leave behind.
func trimWSP(s string) string { return strings.Trim(s, " \t\r\n") }

// String prints the record back as "v=DMARC1; tag=value; ...", every tag in
// its original order and spelling of the value, the separators normalised.
func (r *Record) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for i, t := range r.Tags {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(t.Name)
		b.WriteByte('=')
		b.WriteString(t.Value)
	}
	return b.String()
}

// P is the policy for the domain itself; absent p means none (RFC 9989 4.7).
func (r *Record) P() Policy {
	if r.Policy == "" {
		return PolicyNone
	}
	return r.Policy
}

// SP is the policy for existing subdomains: sp, else p (RFC 9989 4.7).
func (r *Record) SP() Policy {
	if r.SubdomainPolicy != "" {
		return r.SubdomainPolicy
	}
	return r.P()
}

// NP is the policy for non-existent subdomains: np, else sp, else p
// (RFC 9989 4.7).
func (r *Record) NP() Policy {
	if r.NonExistentPolicy != "" {
		return r.NonExistentPolicy
	}
	return r.SP()
}

// ADKIMMode is the DKIM alignment mode (default relaxed).
func (r *Record) ADKIMMode() AlignmentMode {
	if r.ADKIM == AlignStrict {
		return AlignStrict
	}
	return AlignRelaxed
}

// ASPFMode is the SPF alignment mode (default relaxed).
func (r *Record) ASPFMode() AlignmentMode {
	if r.ASPF == AlignStrict {
		return AlignStrict
	}
	return AlignRelaxed
}

// TestMode reports t=y.
func (r *Record) TestMode() bool { return r.Testing == "y" }

// hasErr reports whether a tag had a syntax error.
func (r *Record) hasErr(tag string) bool {
	for _, e := range r.Errors {
		if e.Tag == tag {
			return true
		}
	}
	return false
}

// Applies reports whether receivers apply DMARC with this record at all.
// RFC 9989 4.10.1: a record without a valid p tag, or with an invalid sp or
// np tag, counts as p=none when rua holds at least one valid URI, and is
// ignored otherwise. (RFC 7489 6.6.3 says the same for p and sp.)
func (r *Record) Applies() bool {
	if r.Policy != "" && !r.hasErr("sp") && !r.hasErr("np") {
		return true
	}
	return len(r.RUA) > 0
}

// Effective returns the policies receivers apply for the domain (p), its
// existing subdomains (sp) and its non-existent subdomains (np), with the
// defaults of RFC 9989 4.7 and the p=none fallback of 4.10.1 when p is
// missing or p, sp or np is invalid (see Applies).
func (r *Record) Effective() (p, sp, np Policy) {
	if r.Policy == "" || r.hasErr("sp") || r.hasErr("np") {
		return PolicyNone, PolicyNone, PolicyNone
	}
	return r.P(), r.SP(), r.NP()
}
