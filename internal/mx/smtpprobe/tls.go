package smtpprobe

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// ExpiryWarnDays is how close to expiry a certificate is worth a warning:
// automated renewals (ACME) run 30 days ahead, so 14 days left means
// renewal is failing.
const ExpiryWarnDays = 14

// TLSInfo describes the TLS session negotiated after STARTTLS and the
// certificate the server presented.
type TLSInfo struct {
	Version    string `json:"version"` // "TLS 1.3"
	Cipher     string `json:"cipher"`
	ServerName string `json:"server_name,omitempty"` // SNI sent (the MX name)
	// Trusted: the chain verifies against the roots at the probe time.
	Trusted    bool   `json:"trusted"`
	TrustError string `json:"trust_error,omitempty"`
	// ChainOKIgnoringTime: the chain would verify if the certificate had
	// not expired (or was already valid): expiry is the only problem.
	ChainOKIgnoringTime bool `json:"chain_ok_ignoring_time"`
	// NameMatch: the leaf certificate is valid for the server's name.
	NameMatch   bool       `json:"name_match"`
	NameError   string     `json:"name_error,omitempty"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    time.Time  `json:"not_after"`
	DaysLeft    int        `json:"days_left"`
	Expired     bool       `json:"expired"`
	NotYetValid bool       `json:"not_yet_valid"`
	Chain       []CertInfo `json:"chain"`
}

// CertInfo summarises one certificate of the presented chain.
type CertInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// SHA256 is the certificate's fingerprint; SPKISHA256 that of its
	// public key (the DANE "3 1 1" / "2 1 1" TLSA data, RFC 7671).
	SHA256     string `json:"sha256"`
	SPKISHA256 string `json:"spki_sha256"`
	SelfSigned bool   `json:"self_signed,omitempty"`
}

// analyzeTLS judges the chain the way a verifying sender (MTA-STS, RFC 8461
// 4.2, or a "verify"/"secure" TLS policy) would: a chain to a trusted root,
// valid now, for the MX host name.
func analyzeTLS(cs tls.ConnectionState, host string, roots *x509.CertPool, now time.Time) *TLSInfo {
	ti := &TLSInfo{
		Version:    tls.VersionName(cs.Version),
		Cipher:     tls.CipherSuiteName(cs.CipherSuite),
		ServerName: cs.ServerName,
		Chain:      []CertInfo{},
	}
	certs := cs.PeerCertificates
	for _, c := range certs {
		fp := sha256.Sum256(c.Raw)
		spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		ti.Chain = append(ti.Chain, CertInfo{
			Subject:    sanitize.Line(c.Subject.String()),
			Issuer:     sanitize.Line(c.Issuer.String()),
			DNSNames:   sanitize.Strings(c.DNSNames),
			NotBefore:  c.NotBefore.UTC(),
			NotAfter:   c.NotAfter.UTC(),
			SHA256:     hex.EncodeToString(fp[:]),
			SPKISHA256: hex.EncodeToString(spki[:]),
			SelfSigned: c.CheckSignatureFrom(c) == nil && string(c.RawIssuer) == string(c.RawSubject),
		})
	}
	if len(certs) == 0 {
		ti.TrustError = "the server presented no certificate"
		ti.NameError = ti.TrustError
		return ti
	}
	leaf := certs[0]
	ti.NotBefore, ti.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	ti.Expired = now.After(leaf.NotAfter)
	ti.NotYetValid = now.Before(leaf.NotBefore)
	ti.DaysLeft = int(leaf.NotAfter.Sub(now).Hours() / 24)
	if ti.Expired && ti.DaysLeft >= 0 {
		ti.DaysLeft = -1
	}

	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	verify := func(at time.Time) error {
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   at,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		return err
	}
	if err := verify(now); err != nil {
		ti.TrustError = trustReason(err)
		// Would it verify inside the leaf's validity period?
		mid := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
		ti.ChainOKIgnoringTime = verify(mid) == nil
	} else {
		ti.Trusted = true
		ti.ChainOKIgnoringTime = true
	}
	switch {
	case host == "":
		ti.NameError = "no host name to check the certificate against"
	default:
		name := host
		if ip, err := netip.ParseAddr(host); err == nil {
			name = ip.String()
		}
		if err := leaf.VerifyHostname(name); err != nil {
			ti.NameError = sanitize.Line(err.Error())
		} else {
			ti.NameMatch = true
		}
	}
	return ti
}

// trustReason words an x509 verification error for people.
func trustReason(err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		if ua.Cert != nil && string(ua.Cert.RawIssuer) == string(ua.Cert.RawSubject) {
			return "self-signed certificate (" + sanitize.Line(ua.Cert.Subject.String()) + ")"
		}
		return "certificate signed by an unknown authority (missing intermediate or private CA)"
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			return "a certificate in the chain has expired or is not yet valid"
		case x509.IncompatibleUsage:
			return "the certificate is not valid for TLS server authentication"
		}
	}
	return sanitize.Line(err.Error())
}
