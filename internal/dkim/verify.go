package dkim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Result is a signature's verification result, named as in
// Authentication-Results (RFC 8601 2.7.1).
type Result string

// Results. NotChecked is ours: the key was not looked up (--offline).
const (
	ResultPass       Result = "pass"      // the signature verifies
	ResultFail       Result = "fail"      // it does not (body or headers changed, other key)
	ResultPolicy     Result = "policy"    // verifiable in principle, refused by policy (rsa-sha1, l=, short key)
	ResultTempError  Result = "temperror" // the key lookup failed temporarily
	ResultPermError  Result = "permerror" // unusable signature or key (syntax, missing, revoked, expired)
	ResultNotChecked Result = "not-checked"
)

// DefaultMaxSignatures bounds the signatures verified per message, so a
// hostile message cannot trigger unbounded DNS lookups.
const DefaultMaxSignatures = 16

// VerifyOptions tune VerifyMessage.
type VerifyOptions struct {
	// Now is the clock for x= expiry (default time.Now).
	Now func() time.Time
	// MaxSignatures is DefaultMaxSignatures when zero.
	MaxSignatures int
}

// SignatureResult is the verdict on one DKIM-Signature with its reasons.
type SignatureResult struct {
	Index int `json:"index"` // 1 is the topmost (most recently added) signature
	*Signature
	Result Result `json:"result"`
	Reason string `json:"reason"`
	// VerifierError is go-msgauth's own message, for reference.
	VerifierError string     `json:"verifier_error,omitempty"`
	Key           *KeyResult `json:"key,omitempty"`
	// AuthorDomain: d= equals the From domain exactly (an "author domain
	// signature", RFC 5617 2.7). DMARC relaxed alignment is wider; see
	// the headers command.
	AuthorDomain bool               `json:"author_domain"`
	Findings     []findings.Finding `json:"-"`
}

// Label names the signature for titles: "signature 1 (d=example.com s=s1)".
func (sr *SignatureResult) Label() string {
	if sr.Signature == nil || sr.Domain == "" {
		return fmt.Sprintf("signature %d", sr.Index)
	}
	return fmt.Sprintf("signature %d (d=%s s=%s)", sr.Index, sr.Domain, sr.Selector)
}

// MessageVerification is the DKIM verdict on a message.
type MessageVerification struct {
	From       string             `json:"from,omitempty"`
	FromDomain string             `json:"from_domain,omitempty"`
	Signatures []*SignatureResult `json:"signatures"`
	Findings   []findings.Finding `json:"-"`
}

// Passing returns the signatures that verified.
func (m *MessageVerification) Passing() []*SignatureResult {
	var out []*SignatureResult
	for _, s := range m.Signatures {
		if s.Result == ResultPass {
			out = append(out, s)
		}
	}
	return out
}

// CheckResult adapts the verdict to the report model (check "dkim").
func (m *MessageVerification) CheckResult() findings.CheckResult {
	res := findings.CheckResult{Name: check, Data: m, Findings: m.Findings, Status: findings.StatusFromFindings(m.Findings)}
	var parts []string
	for _, s := range m.Signatures {
		parts = append(parts, fmt.Sprintf("%s: %s", s.Label(), s.Result))
	}
	switch {
	case len(parts) == 0:
		res.Summary = "the message has no DKIM signature"
	default:
		res.Summary = strings.Join(parts, "; ")
	}
	if len(m.Signatures) > 0 && allNotChecked(m.Signatures) {
		res.Status = findings.StatusSkip
	}
	return res
}

func allNotChecked(ss []*SignatureResult) bool {
	for _, s := range ss {
		if s.Result != ResultNotChecked {
			return false
		}
	}
	return true
}

// tempLookupError makes a temporary DNS failure look like the net.Error
// go-msgauth tests for with a type assertion, so that it reports
// tempfail instead of "no key".
type tempLookupError struct{ err error }

func (e tempLookupError) Error() string   { return e.err.Error() }
func (e tempLookupError) Timeout() bool   { return true }
func (e tempLookupError) Temporary() bool { return true }
func (e tempLookupError) Unwrap() error   { return e.err }

// keyCache holds the key lookups of one verification: prefetched
// concurrently, then served to go-msgauth's LookupTXT.
type keyCache struct {
	ctx context.Context
	r   dnsx.Resolver
	mu  sync.Mutex
	m   map[string]*KeyResult // by lower-case name
}

func (c *keyCache) get(selector, domain string) *KeyResult {
	name := strings.ToLower(KeyName(selector, domain))
	c.mu.Lock()
	kr, ok := c.m[name]
	c.mu.Unlock()
	if ok {
		return kr
	}
	kr, _ = Lookup(c.ctx, c.r, selector, domain)
	c.mu.Lock()
	c.m[name] = kr
	c.mu.Unlock()
	return kr
}

// lookupTXT answers go-msgauth's key queries ("s._domainkey.d") from the
// cache, through our resolver, so --zone and --trace apply.
func (c *keyCache) lookupTXT(name string) ([]string, error) {
	sel, dom, ok := strings.Cut(strings.TrimSuffix(name, "."), "._domainkey.")
	if !ok {
		return nil, fmt.Errorf("unexpected key query %q", name)
	}
	kr := c.get(sel, dom)
	switch {
	case kr.Status == KeyStatusError && dnsx.IsTemporary(kr.Err):
		return nil, tempLookupError{kr.Err}
	case kr.Status == KeyStatusError, kr.Status == KeyStatusOffline:
		return nil, kr.Err
	}
	return kr.Records, nil
}

// VerifyMessage verifies every DKIM-Signature of msg (read with
// ReadMessage) with go-msgauth, looking keys up through r, and explains
// each result. The error is for a message that cannot be read at all.
func VerifyMessage(ctx context.Context, r dnsx.Resolver, msg []byte, opts *VerifyOptions) (*MessageVerification, error) {
	o := VerifyOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = DefaultMaxSignatures
	}
	fields, _, complete := SplitHeader(msg)
	if len(fields) == 0 {
		return nil, errors.New("no header fields: this does not look like an e-mail message")
	}
	if !complete {
		// A message without body: go-msgauth needs the empty line.
		if !bytes.HasSuffix(msg, []byte("\n")) {
			msg = append(append([]byte(nil), msg...), "\r\n"...)
		}
		msg = append(append([]byte(nil), msg...), "\r\n"...)
	}
	m := &MessageVerification{Signatures: []*SignatureResult{}}
	m.findFrom(fields)

	var sigs []*SignatureResult
	var sigErrs []error
	for _, v := range Values(fields, "DKIM-Signature") {
		sig, err := ParseSignature(v)
		sigs = append(sigs, &SignatureResult{Index: len(sigs) + 1, Signature: sig})
		sigErrs = append(sigErrs, err)
	}
	if len(sigs) == 0 {
		f := finding("unsigned", findings.SeverityFail, "the message has no DKIM signature")
		f.Detail = "Without a DKIM signature, DMARC can pass only through SPF alignment, which forwarding breaks. Gmail, Yahoo and Microsoft require DKIM from bulk senders."
		f.BounceCodes = codesNoPass
		f.Fix = "Enable DKIM signing for the From domain at the server or provider that sends this mail, and publish its key."
		f.Refs = []string{"RFC 6376", "RFC 7489 4.2"}
		m.Findings = append(m.Findings, f)
		return m, nil
	}
	if len(sigs) > o.MaxSignatures {
		f := finding("too-many-signatures", findings.SeverityWarn, fmt.Sprintf("the message has %d DKIM signatures; only the first %d were verified", len(sigs), o.MaxSignatures))
		f.Detail = "Receivers limit the signatures they verify (RFC 6376 8.4 warns of the DNS load); signatures beyond the limit count for nothing."
		f.Fix = "Sign once per domain that needs it (usually the From domain, maybe the ESP's)."
		m.Findings = append(m.Findings, f)
		sigs, sigErrs = sigs[:o.MaxSignatures], sigErrs[:o.MaxSignatures]
	}

	cache := &keyCache{ctx: ctx, r: r, m: map[string]*KeyResult{}}
	var wg sync.WaitGroup
	for _, s := range sigs {
		if s.Domain != "" && s.Selector != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Key = cache.get(s.Selector, s.Domain)
			}()
		}
	}
	wg.Wait()

	verifs, verr := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT:        cache.lookupTXT,
		MaxVerifications: o.MaxSignatures,
	})
	if verr != nil && !errors.Is(verr, msgdkim.ErrTooManySignatures) {
		return nil, fmt.Errorf("reading the message: %w", verr)
	}
	now := o.Now()
	for i, s := range sigs {
		var libErr error
		if i < len(verifs) {
			libErr = verifs[i].Err
		} else {
			libErr = errors.New("not verified")
		}
		m.judge(s, sigErrs[i], libErr, fields, now)
		m.Signatures = append(m.Signatures, s)
	}
	m.collect()
	return m, nil
}

func (m *MessageVerification) findFrom(fields []Field) {
	froms := Values(fields, "From")
	switch len(froms) {
	case 0:
		f := finding("no-from", findings.SeverityWarn, "the message has no From header field")
		f.Detail = "Every DKIM signature must sign From (RFC 6376 5.4); without an author there is nothing for DMARC to align with."
		f.Refs = []string{"RFC 5322 3.6", "RFC 6376 5.4"}
		m.Findings = append(m.Findings, f)
		return
	case 1:
	default:
		f := finding("multiple-from", findings.SeverityWarn, fmt.Sprintf("the message has %d From header fields", len(froms)))
		f.Detail = "RFC 5322 allows one. Receivers reject such mail or cannot tell which author a signature covers (Gmail: 5.7.1)."
		f.BounceCodes = []string{"5.7.1"}
		f.Refs = []string{"RFC 5322 3.6", "RFC 7489 6.6.1"}
		m.Findings = append(m.Findings, f)
	}
	m.From = froms[0]
	if d, err := AuthorDomain(froms[0]); err == nil {
		m.FromDomain = d
	}
}

// judge decides the result of one signature. Our own checks come first, in
// the order of RFC 6376 6.1 (signature, key, then cryptography), so the
// explanation never depends on go-msgauth's wording; go-msgauth's verdict
// decides the cryptography (body hash, then header signature).
func (m *MessageVerification) judge(s *SignatureResult, sigErr, libErr error, fields []Field, now time.Time) {
	if libErr != nil {
		s.VerifierError = libErr.Error()
	}
	s.AuthorDomain = m.FromDomain != "" && s.Domain == m.FromDomain
	label := s.Label()
	set := func(r Result, reason string, fs ...findings.Finding) {
		s.Result, s.Reason = r, reason
		s.Findings = append(s.Findings, fs...)
	}
	sig := s.Signature
	// RFC 6376 6.1.1: validate the signature header field.
	switch {
	case sigErr != nil:
		f := finding("signature-syntax", findings.SeverityFail, fmt.Sprintf("%s is malformed: %s", label, strings.TrimPrefix(sigErr.Error(), ErrSignatureSyntax.Error()+": ")))
		f.Detail = "Verifiers ignore a DKIM-Signature they cannot parse (RFC 6376 6.1.1: PERMFAIL, signature syntax error)."
		f.BounceCodes = codesNoPass
		f.Fix = "Fix the signing software's configuration; the signature must carry v=1, a=, b=, bh=, d=, h= and s=."
		f.Refs = []string{"RFC 6376 3.5", "RFC 6376 6.1.1"}
		set(ResultPermError, "signature syntax error", f)
		return
	case !sig.Signs("From"):
		f := finding("from-not-signed", findings.SeverityFail, fmt.Sprintf("%s does not sign the From header field", label))
		f.Detail = "RFC 6376 5.4: From MUST be signed; verifiers ignore signatures that leave it out (PERMFAIL, From field not signed)."
		f.Evidence = []string{"h=" + strings.Join(sig.Headers, ":")}
		f.BounceCodes = codesNotAccepted
		f.Fix = "Configure the signer to sign at least From, To, Subject, Date, Message-ID (and oversign From)."
		f.Refs = []string{"RFC 6376 5.4", "RFC 6376 6.1.1"}
		set(ResultPermError, "From not signed", f)
		return
	case sig.IdentityDomain() != sig.Domain && !strings.HasSuffix(sig.IdentityDomain(), "."+sig.Domain):
		f := finding("identity-mismatch", findings.SeverityFail, fmt.Sprintf("%s: i=%s is not in d=%s", label, sig.Identifier, sig.Domain))
		f.Detail = "RFC 6376 6.1.1: the i= domain must be d= or a subdomain of it (PERMFAIL, domain mismatch)."
		f.BounceCodes = codesNotAccepted
		f.Fix = "Leave i= out, or set it to an address in the d= domain."
		f.Refs = []string{"RFC 6376 3.5", "RFC 6376 6.1.1"}
		set(ResultPermError, "i= outside d=", f)
		return
	case sig.ExpiresAt != nil && now.After(*sig.ExpiresAt):
		f := finding("expired", findings.SeverityFail, fmt.Sprintf("%s expired at %s (x=)", label, sig.ExpiresAt.Format(time.RFC3339)))
		f.Detail = "RFC 6376 6.1.1: verifiers treat an expired signature as PERMFAIL (signature expired). Mail delivered late, or a message checked long after it arrived, fails."
		if sig.SignedAt != nil {
			f.Evidence = []string{fmt.Sprintf("t=%d (%s), x=%d", sig.SignedAt.Unix(), sig.SignedAt.Format(time.RFC3339), sig.ExpiresAt.Unix())}
		}
		f.BounceCodes = codesNoPass
		f.Fix = "Give signatures a lifetime of several days (x= at least t= + 7 days) or omit x=; retries can take up to 5 days."
		f.Refs = []string{"RFC 6376 3.5", "RFC 6376 6.1.1"}
		set(ResultPermError, "signature expired", f)
		return
	}
	// RFC 6376 6.1.2: get the public key.
	kr := s.Key
	switch {
	case kr == nil:
		set(ResultPermError, "no key looked up")
		return
	case kr.Status == KeyStatusOffline:
		f := finding("key-not-checked", findings.SeverityInfo, fmt.Sprintf("%s: the key %s was not looked up (--offline, outside the --zone files)", label, kr.Name))
		set(ResultNotChecked, "key not looked up (offline)", f)
		return
	case kr.Status == KeyStatusError:
		f := dnsErrorFinding("the key "+kr.Name, kr.Err)
		f.Title = label + ": " + f.Title
		set(ResultTempError, "key unavailable (DNS failure)", f)
		return
	case kr.Status == KeyStatusMissing:
		set(ResultPermError, "no key for signature", prefixed(label, missingFindings(kr, true))...)
		return
	case kr.Status == KeyStatusNotKey:
		f := finding("no-key", findings.SeverityFail, fmt.Sprintf("%s: %s holds a TXT record that is not a DKIM key", label, kr.Name))
		f.Evidence = evidence(kr)
		f.BounceCodes = codesNoPass
		f.Fix = "Publish the signer's public key at " + kr.Name + "."
		f.Refs = []string{"RFC 6376 6.1.2"}
		set(ResultPermError, "no key for signature", f)
		return
	case kr.Status != KeyStatusOK:
		set(ResultPermError, "key "+string(kr.Status)+": "+kr.Error, prefixed(label, KeyFindings(kr, true))...)
		return
	}
	k := kr.Key
	keyNotes := prefixed(label, KeyFindings(kr, true))
	switch {
	case sig.KeyAlgorithm() != string(k.Type):
		f := finding("key-type-mismatch", findings.SeverityFail, fmt.Sprintf("%s is a=%s but the key at %s is k=%s", label, sig.Algorithm, kr.Name, k.Type))
		f.Detail = "RFC 6376 6.1.2: PERMFAIL (inappropriate key algorithm). The selector points at a key of another type than the signer uses."
		f.Evidence = evidence(kr)
		f.BounceCodes = codesNoPass
		f.Fix = "Publish the signer's " + sig.KeyAlgorithm() + " key at this selector, or sign with a selector that holds one."
		f.Refs = []string{"RFC 6376 6.1.2", "RFC 8463 4"}
		set(ResultPermError, "inappropriate key algorithm", f)
		return
	case sig.HashAlgorithm() == "sha1":
		f := finding("sha1-signature", findings.SeverityFail, fmt.Sprintf("%s uses a=rsa-sha1, which verifiers must refuse", label))
		f.Detail = "RFC 8301 3.1: rsa-sha1 MUST NOT be used for signing or verifying; Gmail and others treat such signatures as not passing."
		f.BounceCodes = codesNotAccepted
		f.Fix = "Configure the signer for rsa-sha256 (and a 2048-bit key)."
		f.Refs = []string{"RFC 8301 3.1"}
		set(ResultPolicy, "rsa-sha1 is not acceptable", f)
		return
	case sig.HashAlgorithm() != "sha256":
		f := finding("signature-syntax", findings.SeverityFail, fmt.Sprintf("%s uses the unknown algorithm a=%s", label, sig.Algorithm))
		f.BounceCodes = codesNoPass
		f.Fix = "Sign with rsa-sha256 or ed25519-sha256."
		f.Refs = []string{"RFC 6376 3.3", "RFC 8463 3"}
		set(ResultPermError, "unsupported algorithm", f)
		return
	case !k.AllowsHash(sig.HashAlgorithm()):
		f := finding("hash-not-allowed", findings.SeverityFail, fmt.Sprintf("%s uses %s but the key at %s allows only h=%s", label, sig.HashAlgorithm(), kr.Name, strings.Join(k.Hashes, ":")))
		f.Detail = "RFC 6376 6.1.2: PERMFAIL (inappropriate hash algorithm)."
		f.Evidence = evidence(kr)
		f.BounceCodes = codesNotAccepted
		f.Fix = "Remove h= from the key record, or set h=sha256."
		f.Refs = []string{"RFC 6376 3.6.1", "RFC 6376 6.1.2"}
		set(ResultPermError, "inappropriate hash algorithm", f)
		return
	case !k.AllowsEmail():
		set(ResultPermError, "inappropriate service", keyNotes...)
		return
	case k.Type == KeyRSA && k.Bits < 1024:
		set(ResultPolicy, fmt.Sprintf("%d-bit RSA key is too short", k.Bits), keyNotes...)
		return
	case sig.BodyLength != nil:
		f := finding("length-tag", findings.SeverityWarn, fmt.Sprintf("%s limits the signed body to l=%d bytes", label, *sig.BodyLength))
		f.Detail = "Anything appended after the first l= bytes of the body is not signed, so a forwarder or attacker can add content that still carries the signature (RFC 6376 8.2). go-msgauth and some receivers refuse such signatures; others accept them."
		f.Evidence = []string{fmt.Sprintf("l=%d", *sig.BodyLength)}
		f.BounceCodes = codesNotAccepted
		f.Fix = "Configure the signer to sign the whole body (no l= tag)."
		f.Refs = []string{"RFC 6376 3.5", "RFC 6376 8.2"}
		set(ResultPolicy, "body length limit (l=) not accepted", f)
		return
	}
	// The key is usable; the crypto decides.
	switch {
	case libErr == nil:
		set(ResultPass, "signature verified", keyNotes...)
		if k.Strict() && sig.IdentityDomain() != sig.Domain {
			// go-msgauth does not apply t=s; RFC 6376 3.6.1 does.
			f := finding("strict-identity", findings.SeverityFail, fmt.Sprintf("%s: the key has t=s but i=%s is in a subdomain of d=%s", label, sig.Identifier, sig.Domain))
			f.Detail = "RFC 6376 3.6.1: with t=s, the i= domain MUST NOT be a subdomain of d=; strict verifiers fail this signature."
			f.BounceCodes = codesNoPass
			f.Fix = "Set i= to @" + sig.Domain + " (or leave it out), or remove s from t= in the key record."
			f.Refs = []string{"RFC 6376 3.6.1"}
			s.Findings = nil
			set(ResultPermError, "t=s forbids an i= in a subdomain", f)
		}
		if sig.SignedAt != nil && sig.SignedAt.After(now.Add(15*time.Minute)) {
			f := finding("future-timestamp", findings.SeverityWarn, fmt.Sprintf("%s is dated %s, in the future (t=)", label, sig.SignedAt.Format(time.RFC3339)))
			f.Detail = "RFC 6376 3.5: verifiers MAY ignore signatures with a timestamp in the future. The signer's clock is probably wrong."
			f.Fix = "Synchronise the signing server's clock (NTP)."
			f.Refs = []string{"RFC 6376 3.5"}
			s.Findings = append(s.Findings, f)
		}
	case strings.Contains(libErr.Error(), "body hash did not verify"):
		f := finding("body-hash-mismatch", findings.SeverityFail, fmt.Sprintf("%s: body hash mismatch: the body changed after signing", label))
		f.Detail = "The body no longer matches bh= (RFC 6376 6.1.3). Usual causes: a mailing list or gateway added a footer or disclaimer, content was re-encoded (8bit to quoted-printable, line wrapping), or c=" + sig.Canonicalization + " is too strict for a relay that changes whitespace."
		if lists := Values(fields, "List-Id"); len(lists) > 0 {
			f.Detail += " This message came through a mailing list (List-Id: " + lists[0] + "), which explains it; ARC lets receivers trust the list's own verification."
		}
		f.Evidence = []string{"c=" + sig.Canonicalization}
		f.BounceCodes = codesNoPass
		f.Fix = "Sign after the last step that changes the body (disclaimers, footers, antivirus stamps) and use c=relaxed/relaxed."
		f.Refs = []string{"RFC 6376 3.7", "RFC 6376 6.1.3"}
		set(ResultFail, "body hash did not verify", f)
	case strings.Contains(libErr.Error(), "signature did not verify"):
		f := finding("signature-mismatch", findings.SeverityFail, fmt.Sprintf("%s: the header signature does not verify", label))
		f.Detail = "The body is intact, but a signed header field changed after signing, or the key in DNS is not the one the signer used (RFC 6376 6.1.3)."
		f.Evidence = []string{"signed fields h=" + strings.Join(sig.Headers, ":"), "c=" + sig.Canonicalization}
		f.BounceCodes = codesNoPass
		f.Fix = "Make sure the public key at " + kr.Name + " belongs to the signer's private key, and that no relay rewrites signed fields (Subject tags, From rewriting) after signing."
		if pub, ok := k.PublicKey.(*rsa.PublicKey); ok && len(sig.Data) != pub.Size() {
			f.ID = "dkim.key-mismatch"
			f.Title = fmt.Sprintf("%s was made with a %d-bit key but %s holds a %d-bit key", label, len(sig.Data)*8, kr.Name, k.Bits)
			f.Detail = "The signature's size shows it was made with a different private key than the public key in DNS: the selector's key was rotated without updating DNS, or the signer uses the wrong key."
			f.Fix = "Publish the public key that belongs to the signer's private key at " + kr.Name + " (or point the signer at the matching key)."
		}
		f.Refs = []string{"RFC 6376 3.7", "RFC 6376 6.1.3"}
		set(ResultFail, "signature did not verify", f)
	case msgdkim.IsTempFail(libErr):
		set(ResultTempError, libErr.Error())
	default:
		f := finding("permerror", findings.SeverityFail, fmt.Sprintf("%s does not verify: %s", label, strings.TrimPrefix(libErr.Error(), "dkim: ")))
		f.BounceCodes = codesNoPass
		f.Refs = []string{"RFC 6376 6.1"}
		set(ResultPermError, strings.TrimPrefix(libErr.Error(), "dkim: "), f)
	}
	if s.Result != ResultPass {
		s.Findings = append(s.Findings, keyNotes...)
	}
}

// prefixed puts the signature label in front of finding titles.
func prefixed(label string, fs []findings.Finding) []findings.Finding {
	for i := range fs {
		fs[i].Title = label + ": " + fs[i].Title
	}
	return fs
}

// collect gathers the signatures' findings into the message's. When a
// signature of the author's domain passes (or any passes and the author is
// unknown), the other signatures' failures cannot cost delivery and are
// lowered to warnings.
func (m *MessageVerification) collect() {
	covered := false
	for _, s := range m.Signatures {
		if s.Result == ResultPass && (s.AuthorDomain || m.FromDomain == "") {
			covered = true
		}
	}
	for _, s := range m.Signatures {
		for _, f := range s.Findings {
			if covered && s.Result != ResultPass && f.Severity == findings.SeverityFail {
				f.Severity = findings.SeverityWarn
				f.Detail = strings.TrimSpace(f.Detail + " Another signature of the author's domain passes, so this one does not decide delivery.")
			}
			m.Findings = append(m.Findings, f)
		}
	}
	if m.FromDomain == "" || len(m.Passing()) == 0 {
		return
	}
	var passing []string
	for _, s := range m.Passing() {
		if s.AuthorDomain {
			return
		}
		passing = append(passing, s.Domain)
	}
	f := finding("not-author-domain", findings.SeverityInfo, fmt.Sprintf("no passing signature is from the author's domain %s (passing: d=%s)", m.FromDomain, strings.Join(passing, ", d=")))
	f.Detail = "DMARC needs a passing signature whose d= aligns with the From domain. Under relaxed alignment a d= in the same organisational domain is enough; `deliverdoctor headers` computes the alignment."
	f.BounceCodes = codesNotAuthorDom
	f.Fix = "Have the sender sign with d=" + m.FromDomain + " (custom DKIM domain at the ESP)."
	f.Refs = []string{"RFC 7489 3.1.1", "RFC 7372 3.1"}
	m.Findings = append(m.Findings, f)
}
