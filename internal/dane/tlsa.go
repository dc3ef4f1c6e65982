package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TLSA parameter values (RFC 6698 2.1, RFC 7218 acronyms).
const (
	UsagePKIXTA = 0 // PKIX-TA: CA constraint; not for SMTP (RFC 7672 3.1.3)
	UsagePKIXEE = 1 // PKIX-EE: service certificate constraint; not for SMTP
	UsageDANETA = 2 // DANE-TA: trust anchor assertion
	UsageDANEEE = 3 // DANE-EE: domain-issued certificate

	SelectorCert = 0 // Cert: the full certificate
	SelectorSPKI = 1 // SPKI: the SubjectPublicKeyInfo

	MatchFull   = 0 // Full: the exact bytes
	MatchSHA256 = 1 // SHA2-256
	MatchSHA512 = 2 // SHA2-512
)

// Record is one TLSA record (RFC 6698 2.1).
type Record struct {
	Usage        uint8  `json:"usage"`
	Selector     uint8  `json:"selector"`
	MatchingType uint8  `json:"matching_type"`
	Data         string `json:"data"` // certificate association data, lower-case hex
}

// FromRR converts a miekg/dns TLSA record.
func FromRR(t *dns.TLSA) Record {
	return Record{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: strings.ToLower(t.Certificate)}
}

// String prints the record's RDATA in presentation form ("3 1 1 ab12...").
func (r Record) String() string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, r.Data)
}

// Short is String with the data abbreviated, for titles.
func (r Record) Short() string {
	d := r.Data
	if len(d) > 16 {
		d = d[:16] + "…"
	}
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.MatchingType, d)
}

// Problem is something wrong with one TLSA record.
type Problem struct {
	Code string `json:"code"` // pkix-usage, unknown-usage, unknown-selector, unknown-matching-type, bad-hex, digest-length, bad-full-data
	Text string `json:"text"`
}

// Lint checks one record's parameters and data. A record with any problem
// is unusable for SMTP: RFC 7672 2.2 and 3.1.3 have senders ignore records
// with unknown or PKIX parameters, and malformed data never matches.
func Lint(r Record) []Problem {
	var ps []Problem
	switch r.Usage {
	case UsageDANETA, UsageDANEEE:
	case UsagePKIXTA, UsagePKIXEE:
		ps = append(ps, Problem{"pkix-usage", fmt.Sprintf("usage %d (PKIX-%s) is not for SMTP: senders treat it as unusable (RFC 7672 3.1.3); use 3 (DANE-EE) or 2 (DANE-TA)", r.Usage, map[uint8]string{0: "TA", 1: "EE"}[r.Usage])})
	default:
		ps = append(ps, Problem{"unknown-usage", fmt.Sprintf("usage %d is undefined (0-3)", r.Usage)})
	}
	if r.Selector > SelectorSPKI {
		ps = append(ps, Problem{"unknown-selector", fmt.Sprintf("selector %d is undefined (0 Cert, 1 SPKI)", r.Selector)})
	}
	data, err := hex.DecodeString(r.Data)
	if err != nil || len(data) == 0 {
		return append(ps, Problem{"bad-hex", "the association data is not hexadecimal"})
	}
	switch r.MatchingType {
	case MatchSHA256:
		if len(data) != sha256.Size {
			ps = append(ps, Problem{"digest-length", fmt.Sprintf("matching type 1 (SHA2-256) needs 32 bytes of data, this has %d", len(data))})
		}
	case MatchSHA512:
		if len(data) != sha512.Size {
			ps = append(ps, Problem{"digest-length", fmt.Sprintf("matching type 2 (SHA2-512) needs 64 bytes of data, this has %d", len(data))})
		}
	case MatchFull:
		switch r.Selector {
		case SelectorCert:
			if _, err := x509.ParseCertificate(data); err != nil {
				ps = append(ps, Problem{"bad-full-data", "matching type 0 with selector 0 must hold a DER certificate: " + err.Error()})
			}
		case SelectorSPKI:
			if _, err := x509.ParsePKIXPublicKey(data); err != nil {
				ps = append(ps, Problem{"bad-full-data", "matching type 0 with selector 1 must hold a DER SubjectPublicKeyInfo: " + err.Error()})
			}
		}
	default:
		ps = append(ps, Problem{"unknown-matching-type", fmt.Sprintf("matching type %d is undefined (0 Full, 1 SHA2-256, 2 SHA2-512)", r.MatchingType)})
	}
	return ps
}

// Usable reports whether senders can use the record for SMTP.
func Usable(r Record) bool { return len(Lint(r)) == 0 }

// Association computes the data a record with this selector and matching
// type would hold for cert.
func Association(cert *x509.Certificate, selector, matchingType uint8) []byte {
	var data []byte
	switch selector {
	case SelectorCert:
		data = cert.Raw
	case SelectorSPKI:
		data = cert.RawSubjectPublicKeyInfo
	default:
		return nil
	}
	switch matchingType {
	case MatchFull:
		return data
	case MatchSHA256:
		h := sha256.Sum256(data)
		return h[:]
	case MatchSHA512:
		h := sha512.Sum512(data)
		return h[:]
	}
	return nil
}

// RecordFor returns the record of the given usage, selector and matching
// type that matches cert: what to publish.
func RecordFor(cert *x509.Certificate, usage, selector, matchingType uint8) Record {
	return Record{Usage: usage, Selector: selector, MatchingType: matchingType, Data: hex.EncodeToString(Association(cert, selector, matchingType))}
}

func matches(r Record, cert *x509.Certificate) bool {
	want, err := hex.DecodeString(r.Data)
	if err != nil {
		return false
	}
	got := Association(cert, r.Selector, r.MatchingType)
	return got != nil && bytes.Equal(got, want)
}

// MatchTLSA checks a certificate chain, leaf first, as an SMTP server
// presented it, against TLSA records the way RFC 7672 3.1 tells SMTP
// clients to:
//
//   - DANE-EE(3): the leaf matches; its names and dates are not checked
//     (RFC 7672 3.1.1).
//   - DANE-TA(2): a certificate of the chain above the leaf matches, or for
//     "2 1 0" the full public key signs one; the leaf must chain to it by
//     signatures, be within its validity period, and name one of names
//     when names are given (the MX host, the next-hop domain: RFC 7672
//     3.1.2, 3.2.2).
//   - PKIX usages and malformed records are unusable and skipped.
//
// detail says which record matched, or why none did, with the "3 1 1"
// record that would match the leaf.
func MatchTLSA(records []Record, chain []*x509.Certificate, names ...string) (matched bool, detail string) {
	if len(chain) == 0 {
		return false, "the server presented no certificate"
	}
	leaf := chain[0]
	var why []string
	usable := 0
	for _, r := range records {
		if !Usable(r) {
			continue
		}
		usable++
		switch r.Usage {
		case UsageDANEEE:
			if matches(r, leaf) {
				return true, fmt.Sprintf("%s matches the server certificate (DANE-EE: names and expiry are not checked, RFC 7672 3.1.1)", r.Short())
			}
		case UsageDANETA:
			for i := 1; i < len(chain); i++ {
				if !matches(r, chain[i]) {
					continue
				}
				if err := verifyPath(chain[:i+1], nil, names); err != nil {
					why = append(why, fmt.Sprintf("%s matches %q but %v", r.Short(), chain[i].Subject.CommonName, err))
					continue
				}
				return true, fmt.Sprintf("%s matches trust anchor %q and the server certificate chains to it", r.Short(), chain[i].Subject.CommonName)
			}
			// "2 1 0": the record holds the trust anchor's key itself, so
			// the anchor's certificate need not be in the chain.
			if r.Selector == SelectorSPKI && r.MatchingType == MatchFull {
				raw, _ := hex.DecodeString(r.Data)
				key, err := x509.ParsePKIXPublicKey(raw)
				if err != nil {
					continue
				}
				for i := range chain {
					ta := &x509.Certificate{PublicKey: key}
					top := chain[i]
					if ta.CheckSignature(top.SignatureAlgorithm, top.RawTBSCertificate, top.Signature) != nil {
						continue
					}
					if err := verifyPath(chain[:i+1], key, names); err != nil {
						why = append(why, fmt.Sprintf("%s signs %q but %v", r.Short(), top.Subject.CommonName, err))
						continue
					}
					return true, fmt.Sprintf("%s is the key that signed %q, and the server certificate chains to it", r.Short(), top.Subject.CommonName)
				}
			}
		}
	}
	if usable == 0 {
		return false, "no usable TLSA record (RFC 7672 2.2: senders then require TLS without authenticating it)"
	}
	need := RecordFor(leaf, UsageDANEEE, SelectorSPKI, MatchSHA256)
	msg := fmt.Sprintf("no TLSA record matches the certificate presented (subject %q, issuer %q); a record matching its key would be \"%s\"",
		leaf.Subject.CommonName, leaf.Issuer.CommonName, need)
	if len(why) > 0 {
		msg += "; " + strings.Join(why, "; ")
	}
	return false, msg
}

// verifyPath checks that path[0] (the leaf) chains by signatures to the
// last certificate of path, or, when taKey is set, that path's last
// certificate was signed by taKey (already checked by the caller); dates of
// the non-anchor certificates; and the leaf's names.
func verifyPath(path []*x509.Certificate, taKey any, names []string) error {
	now := time.Now()
	last := len(path) - 1
	if taKey != nil {
		last = len(path) // every certificate of path is below the anchor
	}
	for k := 0; k < len(path)-1; k++ {
		if err := path[k].CheckSignatureFrom(path[k+1]); err != nil {
			return fmt.Errorf("%q is not signed by %q: %v", path[k].Subject.CommonName, path[k+1].Subject.CommonName, err)
		}
	}
	for k := 0; k < last && k < len(path); k++ {
		c := path[k]
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Errorf("%q is outside its validity period (%s to %s)", c.Subject.CommonName,
				c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"))
		}
	}
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		if path[0].VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
			return nil
		}
	}
	return fmt.Errorf("the server certificate names none of %s (it names %s)", strings.Join(names, ", "), strings.Join(path[0].DNSNames, ", "))
}
