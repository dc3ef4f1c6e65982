package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeyType is the k= tag of a key record.
type KeyType string

// Key types: RFC 6376 3.6.1 (rsa) and RFC 8463 3 (ed25519).
const (
	KeyRSA     KeyType = "rsa"
	KeyEd25519 KeyType = "ed25519"
)

// Errors of ParseKey. Each comes wrapped in a *KeyError naming the tag;
// test them with errors.Is.
var (
	// ErrSyntax: the record is not a valid tag-list, or v= is misplaced.
	ErrSyntax = errors.New("key record syntax error")
	// ErrVersion: v= is present with a value other than DKIM1.
	ErrVersion = errors.New("key record version is not DKIM1")
	// ErrMissingKey: there is no p= tag at all.
	ErrMissingKey = errors.New("key record has no p= tag")
	// ErrRevoked: p= is empty, the RFC 6376 3.6.1 way to revoke a key.
	ErrRevoked = errors.New("key revoked (empty p=)")
	// ErrBadBase64: p= is not valid base64.
	ErrBadBase64 = errors.New("p= is not valid base64")
	// ErrBadKey: p= decodes but is not a key of the type k= names.
	ErrBadKey = errors.New("p= is not a usable public key")
	// ErrUnknownKeyType: k= names a type verifiers do not know.
	ErrUnknownKeyType = errors.New("unknown key type")
)

// KeyError is a ParseKey failure: which tag, and why.
type KeyError struct {
	Err    error  // one of the Err* sentinels
	Tag    string // the tag at fault ("" for the whole record)
	Detail string // specifics, for people
}

func (e *KeyError) Error() string {
	s := e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *KeyError) Unwrap() error { return e.Err }

// Key is a parsed DKIM key record (RFC 6376 3.6.1, RFC 8463).
type Key struct {
	Version  string   `json:"version,omitempty"`  // v=; "" when absent (DKIM1 is implied)
	Type     KeyType  `json:"type"`               // k=; rsa when absent
	Hashes   []string `json:"hashes,omitempty"`   // h=; empty allows every hash algorithm
	Services []string `json:"services,omitempty"` // s=; empty means "*" (all)
	Flags    []string `json:"flags,omitempty"`    // t=: y (testing), s (strict identity)
	Notes    string   `json:"notes,omitempty"`    // n=
	Data     string   `json:"p"`                  // p= without whitespace; "" is a revoked key
	Revoked  bool     `json:"revoked,omitempty"`
	// Bits is the RSA modulus length, or 256 for Ed25519.
	Bits int `json:"bits,omitempty"`
	// Encoding of an RSA p=: "spki" (SubjectPublicKeyInfo, what the RFC's
	// examples and all tools produce) or "pkcs1" (bare RSAPublicKey).
	Encoding string `json:"encoding,omitempty"`
	// Unknown holds tags this version of DKIM does not define (verifiers
	// ignore them, RFC 6376 3.2); String prints them back.
	Unknown []Tag `json:"unknown_tags,omitempty"`
	// PublicKey is *rsa.PublicKey or ed25519.PublicKey.
	PublicKey crypto.PublicKey `json:"-"`
}

// Testing reports t=y: "this domain is testing DKIM" (RFC 6376 3.6.1).
func (k *Key) Testing() bool { return slices.Contains(k.Flags, "y") }

// Strict reports t=s: the i= domain must equal d=, not be a subdomain.
func (k *Key) Strict() bool { return slices.Contains(k.Flags, "s") }

// AllowsHash reports whether h= permits hash algorithm alg ("sha256").
func (k *Key) AllowsHash(alg string) bool {
	return len(k.Hashes) == 0 || slices.Contains(k.Hashes, alg)
}

// AllowsEmail reports whether s= permits use for e-mail.
func (k *Key) AllowsEmail() bool {
	return len(k.Services) == 0 || slices.Contains(k.Services, "*") || slices.Contains(k.Services, "email")
}

// Describe is a short human description: "rsa 2048-bit", "ed25519".
func (k *Key) Describe() string {
	switch {
	case k.Revoked:
		return "revoked"
	case k.Type == KeyRSA && k.Bits > 0:
		return fmt.Sprintf("rsa %d-bit", k.Bits)
	default:
		return string(k.Type)
	}
}

// String prints the record back in a canonical order: v, k, h, s, t, n,
// unknown tags, p. ParseKey(k.String()) yields the same record.
func (k *Key) String() string {
	var parts []string
	if k.Version != "" {
		parts = append(parts, "v="+k.Version)
	}
	// Always written: Type is "" only for a record with an empty k=.
	parts = append(parts, "k="+string(k.Type))
	if len(k.Hashes) > 0 {
		parts = append(parts, "h="+strings.Join(k.Hashes, ":"))
	}
	if len(k.Services) > 0 {
		parts = append(parts, "s="+strings.Join(k.Services, ":"))
	}
	if len(k.Flags) > 0 {
		parts = append(parts, "t="+strings.Join(k.Flags, ":"))
	}
	if k.Notes != "" {
		parts = append(parts, "n="+k.Notes)
	}
	for _, t := range k.Unknown {
		parts = append(parts, t.Name+"="+t.Value)
	}
	parts = append(parts, "p="+k.Data)
	return strings.Join(parts, "; ")
}

// ParseKey parses a DKIM key record: the TXT record's strings already
// joined (RFC 6376 3.6.2.2; dnsx.Result.TXT does that). It does no DNS.
//
// On error the *KeyError says which tag is wrong. When the tag-list itself
// parsed, the returned Key is non-nil and holds every tag that could be
// read, so a revoked or broken key can still be shown and linted.
func ParseKey(txt string) (*Key, error) {
	tags, err := parseTagList(txt)
	if err != nil {
		return nil, &KeyError{Err: ErrSyntax, Detail: err.Error()}
	}
	k := &Key{Type: KeyRSA}
	var firstErr error
	fail := func(e *KeyError) {
		if firstErr == nil {
			firstErr = e
		}
	}
	pSeen := false
	for i, t := range tags {
		switch t.Name {
		case "v":
			k.Version = t.Value
			// RFC 6376 3.6.1: if v= is given it MUST be "DKIM1" and MUST
			// be the first tag; other values mean the record is discarded.
			if t.Value != "DKIM1" {
				fail(&KeyError{Err: ErrVersion, Tag: "v", Detail: fmt.Sprintf("v=%s; only v=DKIM1 is defined", t.Value)})
			} else if i != 0 {
				fail(&KeyError{Err: ErrSyntax, Tag: "v", Detail: "v=DKIM1 must be the first tag of the record"})
			}
		case "k":
			k.Type = KeyType(t.Value)
			if k.Type != KeyRSA && k.Type != KeyEd25519 {
				// RFC 6376 3.6.1: unrecognised key types MUST be ignored,
				// so such a record is no usable key.
				fail(&KeyError{Err: ErrUnknownKeyType, Tag: "k", Detail: fmt.Sprintf("k=%s; verifiers know rsa and ed25519", t.Value)})
			}
		case "h":
			k.Hashes = splitColonList(t.Value)
		case "s":
			k.Services = splitColonList(t.Value)
		case "t":
			k.Flags = splitColonList(t.Value)
		case "n":
			k.Notes = t.Value
		case "p":
			pSeen = true
			k.Data = stripFWS(t.Value)
		default:
			k.Unknown = append(k.Unknown, t)
		}
	}
	if firstErr != nil {
		return k, firstErr
	}
	if !pSeen {
		return k, &KeyError{Err: ErrMissingKey, Tag: "p", Detail: "p= is required (an empty p= revokes a key)"}
	}
	if k.Data == "" {
		// RFC 6376 3.6.1: "An empty value means that this public key has
		// been revoked."
		k.Revoked = true
		return k, &KeyError{Err: ErrRevoked, Tag: "p"}
	}
	raw, err := base64.StdEncoding.DecodeString(k.Data)
	if err != nil {
		return k, &KeyError{Err: ErrBadBase64, Tag: "p", Detail: base64Problem(k.Data, err)}
	}
	if err := k.setPublicKey(raw); err != nil {
		return k, err
	}
	return k, nil
}

func (k *Key) setPublicKey(raw []byte) error {
	switch k.Type {
	case KeyRSA:
		// RFC 6376 3.6.1 names RSAPublicKey, but its examples and every
		// tool publish SubjectPublicKeyInfo (erratum 3017): accept both.
		if pub, err := x509.ParsePKIXPublicKey(raw); err == nil {
			switch p := pub.(type) {
			case *rsa.PublicKey:
				k.PublicKey, k.Bits, k.Encoding = p, p.N.BitLen(), "spki"
				return nil
			case ed25519.PublicKey:
				return &KeyError{Err: ErrBadKey, Tag: "p", Detail: "p= holds an Ed25519 key but the record says (or defaults to) k=rsa; add k=ed25519 and publish the raw 32-byte key"}
			default:
				return &KeyError{Err: ErrBadKey, Tag: "p", Detail: fmt.Sprintf("p= holds a %T, not an RSA key", pub)}
			}
		}
		if p, err := x509.ParsePKCS1PublicKey(raw); err == nil {
			k.PublicKey, k.Bits, k.Encoding = p, p.N.BitLen(), "pkcs1"
			return nil
		}
		if len(raw) == ed25519.PublicKeySize {
			return &KeyError{Err: ErrBadKey, Tag: "p", Detail: "p= is 32 bytes, the size of an Ed25519 key, but the record says (or defaults to) k=rsa; add k=ed25519"}
		}
		return &KeyError{Err: ErrBadKey, Tag: "p", Detail: fmt.Sprintf("p= (%d bytes) is neither an RSA SubjectPublicKeyInfo nor an RSAPublicKey; it may be truncated or mangled by the DNS editor", len(raw))}
	case KeyEd25519:
		// RFC 8463 4: p= is the base64 of the bare 32-byte public key.
		if len(raw) == ed25519.PublicKeySize {
			k.PublicKey, k.Bits, k.Encoding = ed25519.PublicKey(raw), 256, "raw"
			return nil
		}
		if pub, err := x509.ParsePKIXPublicKey(raw); err == nil {
			if ek, ok := pub.(ed25519.PublicKey); ok {
				return &KeyError{Err: ErrBadKey, Tag: "p", Detail: "p= is an Ed25519 key wrapped in SubjectPublicKeyInfo; RFC 8463 wants the bare 32-byte key: p=" + base64.StdEncoding.EncodeToString(ek)}
			}
			if _, ok := pub.(*rsa.PublicKey); ok {
				return &KeyError{Err: ErrBadKey, Tag: "p", Detail: "p= holds an RSA key but the record says k=ed25519; use k=rsa"}
			}
		}
		return &KeyError{Err: ErrBadKey, Tag: "p", Detail: fmt.Sprintf("an Ed25519 key is 32 bytes, p= decodes to %d", len(raw))}
	}
	return &KeyError{Err: ErrUnknownKeyType, Tag: "k"}
}

// base64Problem explains a base64 decoding error in a way that helps fix
// the record: lost padding and stray characters are the usual causes.
func base64Problem(s string, err error) string {
	if _, e := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); e == nil {
		return fmt.Sprintf("wrong '=' padding for %d characters of base64 (a character was lost, or padding is missing)", len(s))
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) && int(ce) < len(s) {
		return fmt.Sprintf("character %q at position %d is not base64", s[int(ce)], int(ce))
	}
	return err.Error()
}
