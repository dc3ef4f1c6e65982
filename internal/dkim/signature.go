package dkim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSignatureSyntax marks a DKIM-Signature header field that cannot be
// used (RFC 6376 6.1.1: PERMFAIL, signature syntax error).
var ErrSignatureSyntax = errors.New("malformed DKIM-Signature")

// Signature is a parsed DKIM-Signature header field (RFC 6376 3.5).
type Signature struct {
	Algorithm        string     `json:"algorithm"`            // a=: rsa-sha256, ed25519-sha256, rsa-sha1
	Domain           string     `json:"domain"`               // d=, the SDID
	Selector         string     `json:"selector"`             // s=
	Identifier       string     `json:"identifier,omitempty"` // i=, the AUID ("@" + d= when absent)
	Headers          []string   `json:"headers"`              // h=, the signed header fields in order
	Canonicalization string     `json:"canonicalization"`     // c=, header/body
	BodyLength       *int64     `json:"body_length,omitempty"`
	SignedAt         *time.Time `json:"signed_at,omitempty"`  // t=
	ExpiresAt        *time.Time `json:"expires_at,omitempty"` // x=
	// Data is b=, the signature itself (decoded).
	Data []byte `json:"-"`
	// BodyHash is bh= (decoded).
	BodyHash []byte `json:"-"`
	Tags     []Tag  `json:"-"`
}

// KeyAlgorithm is the key half of a= ("rsa", "ed25519").
func (s *Signature) KeyAlgorithm() string { k, _, _ := strings.Cut(s.Algorithm, "-"); return k }

// HashAlgorithm is the hash half of a= ("sha256").
func (s *Signature) HashAlgorithm() string { _, h, _ := strings.Cut(s.Algorithm, "-"); return h }

// Signs reports whether h= lists header field name (case-insensitive).
func (s *Signature) Signs(name string) bool {
	for _, h := range s.Headers {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// IdentityDomain is the domain part of i=.
func (s *Signature) IdentityDomain() string {
	_, d, _ := strings.Cut(s.Identifier, "@")
	return strings.ToLower(d)
}

// ParseSignature parses the value of a DKIM-Signature header field. On
// error (errors.Is ErrSignatureSyntax) the Signature holds what could be
// read, so the selector and domain can still be shown.
func ParseSignature(value string) (*Signature, error) {
	sig := &Signature{}
	tags, err := parseTagList(value)
	sig.Tags = tags
	if err != nil {
		return sig, fmt.Errorf("%w: %v", ErrSignatureSyntax, err)
	}
	get := func(n string) (string, bool) { return tagValue(tags, n) }
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrSignatureSyntax, fmt.Sprintf(format, a...))
	}
	sig.Algorithm = strings.ToLower(stripFWS(first(get("a"))))
	sig.Domain = strings.ToLower(strings.TrimSuffix(stripFWS(first(get("d"))), "."))
	sig.Selector = strings.ToLower(stripFWS(first(get("s"))))
	sig.Headers = splitColonList(first(get("h")))
	sig.Canonicalization = stripFWS(first(get("c")))
	if sig.Canonicalization == "" {
		sig.Canonicalization = "simple/simple"
	} else if !strings.Contains(sig.Canonicalization, "/") {
		// RFC 6376 3.5: a single value names the header algorithm; the
		// body algorithm defaults to simple.
		sig.Canonicalization += "/simple"
	}
	if i, ok := get("i"); ok {
		sig.Identifier = stripFWS(i)
	} else if sig.Domain != "" {
		sig.Identifier = "@" + sig.Domain
	}
	// RFC 6376 3.5: v, a, b, bh, d, h and s are required.
	for _, n := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := get(n); !ok {
			return sig, bad("required tag %s= is missing", n)
		}
	}
	if v, _ := get("v"); stripFWS(v) != "1" {
		return sig, bad("v=%s; only v=1 is defined", v)
	}
	if sig.Data, err = base64.StdEncoding.DecodeString(stripFWS(first(get("b")))); err != nil {
		return sig, bad("b= is not valid base64")
	}
	if sig.BodyHash, err = base64.StdEncoding.DecodeString(stripFWS(first(get("bh")))); err != nil {
		return sig, bad("bh= is not valid base64")
	}
	if !strings.Contains(sig.Algorithm, "-") {
		return sig, bad("a=%s is not key-hash", sig.Algorithm)
	}
	for _, c := range strings.SplitN(sig.Canonicalization, "/", 2) {
		if c != "simple" && c != "relaxed" {
			return sig, bad("c=%s: canonicalization must be simple or relaxed", sig.Canonicalization)
		}
	}
	if l, ok := get("l"); ok {
		n, err := strconv.ParseInt(stripFWS(l), 10, 64)
		if err != nil || n < 0 {
			return sig, bad("l=%s is not a length", l)
		}
		sig.BodyLength = &n
	}
	for _, tt := range []struct {
		name string
		dst  **time.Time
	}{{"t", &sig.SignedAt}, {"x", &sig.ExpiresAt}} {
		if v, ok := get(tt.name); ok {
			n, err := strconv.ParseInt(stripFWS(v), 10, 64)
			if err != nil || n < 0 {
				return sig, bad("%s=%s is not a Unix time", tt.name, v)
			}
			t := time.Unix(n, 0).UTC()
			*tt.dst = &t
		}
	}
	// RFC 6376 3.5: x= MUST be greater than t=.
	if sig.SignedAt != nil && sig.ExpiresAt != nil && !sig.ExpiresAt.After(*sig.SignedAt) {
		return sig, bad("x= (%d) is not later than t= (%d)", sig.ExpiresAt.Unix(), sig.SignedAt.Unix())
	}
	if q, ok := get("q"); ok {
		found := false
		for _, m := range splitColonList(q) {
			if m == "dns/txt" || strings.HasPrefix(m, "dns/txt") {
				found = true
			}
		}
		if !found {
			return sig, bad("q=%s; the only query method is dns/txt", q)
		}
	}
	return sig, nil
}

func first(s string, _ bool) string { return s }
