package bimi

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// ErrRecordSyntax marks an Assertion Record that does not follow the BIMI
// draft's syntax (draft-brand-indicators-for-message-identification 4.3).
var ErrRecordSyntax = errors.New("BIMI record syntax error")

// Tag is a tag=value pair kept in order, so a record prints back.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Record is a BIMI Assertion Record, e.g.
// "v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem".
type Record struct {
	Version   string `json:"v"`             // "BIMI1"
	Location  string `json:"l"`             // indicator URI; empty: declined
	Authority string `json:"a,omitempty"`   // evidence document (VMC/CMC) URI
	LPS       string `json:"lps,omitempty"` // local-part selectors: "true"/"false"
	AVP       string `json:"avp,omitempty"` // avatar preference: "brand"/"personal"
	HasL      bool   `json:"-"`
	Tags      []Tag  `json:"-"`
}

// Declined reports an explicit declination to publish: l= and a= both
// empty (draft 4.3.1, "v=BIMI1; l=; a=;").
func (r *Record) Declined() bool { return r.Location == "" && r.Authority == "" }

// String prints the record's tags in their original order.
func (r *Record) String() string {
	var parts []string
	for _, t := range r.Tags {
		parts = append(parts, t.Name+"="+t.Value)
	}
	return strings.Join(parts, "; ") + ";"
}

// IsBIMIRecord reports whether a TXT string starts with the BIMI version
// tag; draft 7.2 step 4 discards other records. ("v" *WSP "=" *WSP "BIMI1")
func IsBIMIRecord(txt string) bool {
	s := strings.TrimLeft(txt, " \t")
	if !strings.HasPrefix(s, "v") {
		return false
	}
	s = strings.TrimLeft(s[1:], " \t")
	if !strings.HasPrefix(s, "=") {
		return false
	}
	s = strings.TrimLeft(s[1:], " \t")
	if !strings.HasPrefix(s, "BIMI1") {
		return false
	}
	rest := strings.TrimLeft(s[len("BIMI1"):], " \t")
	return rest == "" || rest[0] == ';'
}

// ParseRecord parses an Assertion Record with the DKIM tag=value rules
// (RFC 6376 3.2) the draft adopts: "v=BIMI1" first and exact, l= required
// (possibly empty), tags not repeated, values not "fixed" (draft 4.3:
// receivers must not repair errors). Unknown tags are kept and ignored.
// It does not judge the URIs; see CheckLocation and CheckAuthority.
func ParseRecord(txt string) (*Record, error) {
	fail := func(format string, a ...any) (*Record, error) {
		return nil, fmt.Errorf("%w: %s", ErrRecordSyntax, fmt.Sprintf(format, a...))
	}
	r := &Record{}
	seen := map[string]bool{}
	specs := strings.Split(txt, ";")
	// A trailing ";" leaves one empty spec.
	if n := len(specs); n > 1 && strings.Trim(specs[n-1], " \t\r\n") == "" {
		specs = specs[:n-1]
	}
	for i, spec := range specs {
		name, value, ok := strings.Cut(spec, "=")
		name = strings.Trim(name, " \t\r\n")
		value = strings.Trim(value, " \t\r\n")
		if !ok {
			if strings.Trim(spec, " \t\r\n") == "" {
				return fail("empty tag (\";;\")")
			}
			return fail("%q has no \"=\"", clip(spec))
		}
		if !isTagName(name) {
			return fail("bad tag name %q", clip(name))
		}
		if seen[name] {
			// RFC 6376 3.2: a repeated tag makes the whole list invalid.
			return fail("tag %s appears twice", name)
		}
		seen[name] = true
		r.Tags = append(r.Tags, Tag{name, value})
		if i == 0 {
			if name != "v" || value != "BIMI1" {
				return fail("must start with v=BIMI1")
			}
			r.Version = value
			continue
		}
		switch name {
		case "v":
			return fail("v= must be the first tag")
		case "l":
			r.Location, r.HasL = value, true
		case "a":
			r.Authority = value
		case "lps":
			if value != "true" && value != "false" {
				return fail("lps=%q must be true or false", clip(value))
			}
			r.LPS = value
		case "avp":
			// Draft 4.3: other values are ignored (a receiver MAY treat the
			// record as failing); we keep them for a warning.
			r.AVP = value
		}
	}
	if r.Version == "" {
		return fail("must start with v=BIMI1")
	}
	if !r.HasL {
		return fail("l= is missing (use \"l=\" empty to decline)")
	}
	return r, nil
}

// tag-name = ALPHA *ALNUMPUNC (RFC 6376 3.2), ALNUMPUNC = ALPHA / DIGIT / "_".
func isTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// imageSuffixes are formats the l= URI must not name (draft 4.3.2: only
// SVG, as SVG Tiny PS, is acceptable).
var imageSuffixes = []string{".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".tif", ".tiff", ".avif", ".heic"}

// CheckLocation judges the l= URI: a single HTTPS URI with a host, not
// naming another image format (draft 4.3, 4.3.2, 7.3).
func CheckLocation(l string) error {
	if strings.Contains(l, ",") {
		return fmt.Errorf("l= holds several URIs or an unescaped comma (%q); it must be a single URI", clip(l))
	}
	if err := checkHTTPS(l); err != nil {
		return err
	}
	u, _ := url.Parse(l)
	ext := strings.ToLower(path.Ext(u.Path))
	for _, s := range imageSuffixes {
		if ext == s {
			return fmt.Errorf("%q is a %s image; BIMI indicators must be SVG (SVG Tiny PS)", l, strings.TrimPrefix(ext, "."))
		}
	}
	return nil
}

// CheckAuthority judges the a= URI: a single HTTPS URI (draft 4.3).
func CheckAuthority(a string) error {
	if strings.Contains(a, ",") {
		return fmt.Errorf("a= holds several URIs or an unescaped comma (%q); it must be a single URI", clip(a))
	}
	return checkHTTPS(a)
}

func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URI: %v", clip(raw), err)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return fmt.Errorf("%q is not an https:// URI; BIMI allows only HTTPS", clip(raw))
	}
	if u.Hostname() == "" || !strings.Contains(u.Hostname(), ".") {
		return fmt.Errorf("%q has no fully qualified host name", clip(raw))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
