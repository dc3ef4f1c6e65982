package dkim

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseKeyRFCExamples(t *testing.T) {
	tests := []struct {
		name, txt string
		typ       KeyType
		bits      int
	}{
		{"RFC 6376 C.3 brisbane", rfc6376KeyRecord, KeyRSA, 1024},
		{"RFC 8463 A.2 brisbane", rfc8463Ed25519Record, KeyEd25519, 256},
		{"RFC 8463 A.2 test", rfc8463RSARecord, KeyRSA, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.txt)
			if err != nil {
				t.Fatal(err)
			}
			if k.Type != tt.typ || k.Bits != tt.bits || k.PublicKey == nil {
				t.Errorf("got %s %d bits (pub %T), want %s %d", k.Type, k.Bits, k.PublicKey, tt.typ, tt.bits)
			}
			if k.Version != "DKIM1" || k.Revoked || k.Testing() || !k.AllowsEmail() || !k.AllowsHash("sha256") {
				t.Errorf("unexpected attributes: %+v", k)
			}
		})
	}
}

func TestParseKeyTags(t *testing.T) {
	rsa2048 := spki(t, &rsaKey(t, 2048).PublicKey)
	k, err := ParseKey("v=DKIM1; h=sha1 : sha256; k=rsa; s=email:*; t=y:s; n=a note, with words; x_custom=1;\r\n\tp=" + rsa2048[:100] + " \r\n " + rsa2048[100:])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.Hashes, []string{"sha1", "sha256"}) || !slices.Equal(k.Services, []string{"email", "*"}) {
		t.Errorf("h=%q s=%q", k.Hashes, k.Services)
	}
	if !k.Testing() || !k.Strict() || k.Notes != "a note, with words" || k.Bits != 2048 || k.Encoding != "spki" {
		t.Errorf("flags/notes/bits: %+v", k)
	}
	if len(k.Unknown) != 1 || k.Unknown[0] != (Tag{"x_custom", "1"}) {
		t.Errorf("unknown tags %v", k.Unknown)
	}
}

func TestParseKeyErrors(t *testing.T) {
	rsa2048 := spki(t, &rsaKey(t, 2048).PublicKey)
	ed := ed25519Key().Public().(ed25519.PublicKey)
	edRaw := base64.StdEncoding.EncodeToString(ed)
	edDER, _ := x509.MarshalPKIXPublicKey(ed)
	edSPKI := base64.StdEncoding.EncodeToString(edDER)
	pkcs1 := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&rsaKey(t, 2048).PublicKey))
	tests := []struct {
		name, txt string
		want      error
		tag       string
		detail    string // substring of the error
		keyBack   bool   // a partial key is returned
	}{
		{"revoked", "v=DKIM1; k=rsa; p=", ErrRevoked, "p", "", true},
		{"revoked with spaces", "v=DKIM1; p= ; t=y", ErrRevoked, "p", "", true},
		{"no p", "v=DKIM1; k=rsa", ErrMissingKey, "p", "required", true},
		{"other version", "v=DKIM2; p=" + rsa2048, ErrVersion, "v", "DKIM2", true},
		{"lower-case version", "v=dkim1; p=" + rsa2048, ErrVersion, "v", "dkim1", true},
		{"v not first", "k=rsa; v=DKIM1; p=" + rsa2048, ErrSyntax, "v", "first tag", true},
		{"unknown key type", "v=DKIM1; k=dsa; p=" + rsa2048, ErrUnknownKeyType, "k", "k=dsa", true},
		{"bad base64 char", "v=DKIM1; p=MIIB!IjAN", ErrBadBase64, "p", "'!'", true},
		{"lost padding", "v=DKIM1; p=" + strings.TrimRight(edRaw, "="), ErrBadBase64, "p", "padding", true},
		{"truncated key", "v=DKIM1; p=" + rsa2048[:200], ErrBadKey, "p", "bytes", true},
		{"ed25519 under k=rsa", "v=DKIM1; p=" + edRaw, ErrBadKey, "p", "k=ed25519", true},
		{"ed25519 spki under k=rsa", "v=DKIM1; p=" + edSPKI, ErrBadKey, "p", "k=ed25519", true},
		{"ed25519 in spki", "v=DKIM1; k=ed25519; p=" + edSPKI, ErrBadKey, "p", "p=" + edRaw, true},
		{"rsa under k=ed25519", "v=DKIM1; k=ed25519; p=" + rsa2048, ErrBadKey, "p", "k=rsa", true},
		{"ed25519 wrong size", "v=DKIM1; k=ed25519; p=AAAA", ErrBadKey, "p", "3", true},
		{"duplicate tag", "v=DKIM1; p=" + rsa2048 + "; p=" + rsa2048, ErrSyntax, "", "more than once", false},
		{"bad tag name", "v=DKIM1; x-custom=1; p=" + rsa2048, ErrSyntax, "", "tag name", false},
		{"no equals", "v=DKIM1; rsa; p=" + rsa2048, ErrSyntax, "", "tag=value", false},
		{"control character", "v=DKIM1; n=\x1b[31m; p=" + rsa2048, ErrSyntax, "", "control", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.txt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Tag != tt.tag {
				t.Errorf("KeyError tag %q, want %q (%v)", ke.Tag, tt.tag, err)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q lacks %q", err, tt.detail)
			}
			if (k != nil) != tt.keyBack {
				t.Errorf("key returned: %v, want %v", k != nil, tt.keyBack)
			}
		})
	}
	// The working counterparts of some failures.
	for _, txt := range []string{"v=DKIM1; k=ed25519; p=" + edRaw, "p=" + rsa2048, "v=DKIM1;; p=" + rsa2048 + ";", "v=DKIM1; p=" + pkcs1} {
		if _, err := ParseKey(txt); err != nil {
			t.Errorf("%.40q: %v", txt, err)
		}
	}
	if k, _ := ParseKey("v=DKIM1; p=" + pkcs1); k.Encoding != "pkcs1" || k.Bits != 2048 {
		t.Errorf("PKCS#1 key: %+v", k)
	}
}

func TestParseKeyTagsUnknown(t *testing.T) {
	// Unknown tags are ignored by verifiers (RFC 6376 3.2) and printed back.
	rec := "v=DKIM1; k=ed25519; future_tag=some value; p=" + base64.StdEncoding.EncodeToString(ed25519Key().Public().(ed25519.PublicKey))
	k, err := ParseKey(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Unknown) != 1 || k.Unknown[0] != (Tag{"future_tag", "some value"}) {
		t.Errorf("unknown %v", k.Unknown)
	}
	if k.String() != rec {
		t.Errorf("String %q, want %q", k.String(), rec)
	}
}

func TestKeyStringRoundTrip(t *testing.T) {
	for _, rec := range []string{rfc6376KeyRecord, rfc8463Ed25519Record, rfc8463RSARecord, "v=DKIM1; h=sha256; t=y; p=", "k=rsa; s=email; n=hi there; p=" + spki(t, &rsaKey(t, 1024).PublicKey)} {
		k, err := ParseKey(rec)
		if err != nil && !errors.Is(err, ErrRevoked) {
			t.Fatal(err)
		}
		k2, err2 := ParseKey(k.String())
		if (err == nil) != (err2 == nil) || k2.String() != k.String() || k2.Bits != k.Bits {
			t.Errorf("round trip of %.50q: %q / %v", rec, k2.String(), err2)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		rfc6376KeyRecord, rfc8463Ed25519Record, rfc8463RSARecord,
		"v=DKIM1; p=", "v=DKIM1; k=rsa; t=y:s; h=sha1:sha256; s=email; n=x; p=AAAA",
		"v=DKIM1;; p=MIGf;", "p=a b c", "v=DKIM1; p=AQAB; p=AQAB", "k=ed25519; p===",
		"v=DKIM1; n=\xff\xfe; p=", ";;;", "=", "v=DKIM1; x=; p=AQ==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if k == nil {
			if err == nil {
				t.Fatal("nil key without error")
			}
			return
		}
		// Whatever parsed prints back and parses the same way.
		k2, err2 := ParseKey(k.String())
		if k2 == nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, k.String(), err2)
		}
		if k2.String() != k.String() {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, k.String(), k2.String())
		}
		if (err == nil) != (err2 == nil) {
			t.Fatalf("%q: err %v, reprinted err %v", s, err, err2)
		}
		if err == nil && k.PublicKey == nil {
			t.Fatalf("%q: no error but no key", s)
		}
	})
}
