package dkim

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const check = "dkim"

// Bounce codes a DKIM failure leads to, most specific first: RFC 7372
// 5.7.20 (no passing DKIM signature), Gmail's 5.7.30/4.7.30 (DKIM did not
// pass), 5.7.26 (Gmail: unauthenticated; RFC 7372: multiple authentication
// checks failed) and Microsoft's 5.7.509 (DMARC failed) when DKIM was the
// only aligned path.
var (
	codesNoPass       = []string{"5.7.20", "5.7.30", "4.7.30", "5.7.26", "5.7.509"}
	codesNotAccepted  = []string{"5.7.21", "5.7.20", "5.7.30", "5.7.26", "5.7.509"}
	codesNotAuthorDom = []string{"5.7.22", "5.7.26", "5.7.509"}
)

// NoPassCodes are the bounce codes of mail without a passing DKIM
// signature, most specific first.
func NoPassCodes() []string { return slices.Clone(codesNoPass) }

func finding(id string, sev findings.Severity, title string) findings.Finding {
	return findings.Finding{ID: "dkim." + id, Check: check, Severity: sev, Title: title}
}

// evidence shows a key record as seen, with a long p= shortened so the
// line stays readable (the full record is in the data).
func evidence(kr *KeyResult) []string {
	var ev []string
	if len(kr.CNAMEs) > 0 {
		ev = append(ev, "CNAME chain: "+kr.Chain())
	}
	for _, txt := range kr.Records {
		ev = append(ev, fmt.Sprintf("%s TXT %q", kr.Name, shortenP(txt)))
	}
	if len(kr.Records) == 0 && kr.DNS != "" {
		ev = append(ev, fmt.Sprintf("%s TXT: %s", lastName(kr), strings.ToUpper(kr.DNS)))
	}
	return ev
}

func lastName(kr *KeyResult) string {
	if len(kr.CNAMEs) > 0 {
		return strings.TrimSuffix(kr.CNAMEs[len(kr.CNAMEs)-1], ".")
	}
	return kr.Name
}

func shortenP(txt string) string {
	i := strings.Index(txt, "p=")
	if i < 0 {
		return txt
	}
	rest := txt[i+2:]
	end := strings.IndexByte(rest, ';')
	val := rest
	if end >= 0 {
		val = rest[:end]
	}
	if len(val) <= 48 {
		return txt
	}
	short := val[:24] + "…" + val[len(val)-12:]
	return txt[:i+2] + short + rest[len(val):]
}

// lintDiscovery turns lookup results into findings. asked says whether the
// selectors came from the user (a missing or revoked key is then a
// failure) or from the built-in list (where only keys that exist matter).
func lintDiscovery(d *Discovery, results []*KeyResult, asked bool) []findings.Finding {
	var fs []findings.Finding
	var errs []*KeyResult
	present := 0
	for _, kr := range results {
		switch kr.Status {
		case KeyStatusError:
			errs = append(errs, kr)
			continue
		case KeyStatusOffline, KeyStatusNotKey:
			if kr.Status == KeyStatusNotKey && asked {
				f := finding("not-a-key", findings.SeverityFail, fmt.Sprintf("%s holds a TXT record that is not a DKIM key", kr.Name))
				f.Detail = "Verifiers looking up this selector find no p= tag and fail the signature. This is often a wildcard TXT record (e.g. SPF at *." + d.Domain + ") answering every name, hiding a missing key."
				f.Evidence = evidence(kr)
				f.BounceCodes = codesNoPass
				f.Fix = fmt.Sprintf("Publish the DKIM key of selector %s at %s (a TXT record starting \"v=DKIM1; k=rsa; p=\").", kr.Selector, kr.Name)
				f.Refs = []string{"RFC 6376 3.6.2.1", "RFC 6376 6.1.2"}
				fs = append(fs, f)
			}
			continue
		case KeyStatusMissing:
			fs = append(fs, missingFindings(kr, asked)...)
			continue
		}
		present++
		fs = append(fs, KeyFindings(kr, asked)...)
	}
	// A guessed selector that did not answer is not the domain's problem
	// when another selector answered: DNS cannot list selectors, so a
	// failed guess says nothing about DKIM. Only a selector the user named,
	// or no answer to any guess, is an error.
	guessesOnly := !asked && len(errs) > 0 && len(errs) < len(results)
	if guessesOnly {
		var ev []string
		for _, kr := range errs {
			ev = append(ev, fmt.Sprintf("%s: %s", kr.Name, kr.Error))
		}
		f := finding("guess-unanswered", findings.SeverityInfo, fmt.Sprintf("%d of %d guessed selectors of %s got no answer from the DNS", len(errs), len(results), d.Domain))
		f.Detail = "These selectors were guesses from the built-in list, not selectors your mail is known to use; a timeout or SERVFAIL on a guess does not change the verdict on the keys that were found. Give the selectors your mail uses with --selector to check them for sure."
		f.Evidence = ev
		f.Refs = []string{"RFC 6376 6.1.2"}
		fs = append(fs, f)
	}
	if len(errs) > 0 && !guessesOnly {
		var ev []string
		for _, kr := range errs {
			ev = append(ev, fmt.Sprintf("%s: %s", kr.Name, kr.Error))
		}
		what := fmt.Sprintf("%d DKIM selectors of %s", len(errs), d.Domain)
		if len(errs) == 1 {
			what = errs[0].Name
		}
		var es []error
		for _, kr := range errs {
			es = append(es, kr.Err)
		}
		f := dnsErrorFinding(what, errors.Join(es...))
		if slices.ContainsFunc(errs, func(kr *KeyResult) bool { return errors.Is(kr.Err, dnsx.ErrInvalidName) }) {
			f = finding("invalid-selector", findings.SeverityFail, "a selector does not make a valid DNS name")
			f.Detail = "Selectors are DNS labels (RFC 6376 3.1): letters, digits and hyphens, separated by dots."
		}
		f.Evidence = ev
		f.Refs = []string{"RFC 6376 6.1.2"}
		fs = append(fs, f)
	}
	if !asked && present == 0 && len(errs) < len(results) && !d.Offline {
		f := finding("no-selector-found", findings.SeverityWarn, fmt.Sprintf("no DKIM key found for %s at %d common selectors", d.Domain, d.Checked))
		f.Detail = "DNS cannot list selectors, so this cannot confirm whether the domain signs its mail. Gmail, Yahoo and Microsoft require DKIM (and DMARC alignment) from bulk senders; mail without a passing signature is deferred or rejected."
		f.Evidence = []string{"tried: " + strings.Join(d.NotFound, ", ")}
		f.BounceCodes = codesNoPass
		f.Fix = "Find the selector in the s= tag of a DKIM-Signature header of a message you sent (or run `deliverdoctor headers MSG.eml`) and check it with --selector. If no signature is there, enable DKIM signing at your mail provider and publish its key."
		f.Refs = []string{"RFC 6376 3.6.2.1"}
		fs = append(fs, f)
	}
	return fs
}

func missingFindings(kr *KeyResult, asked bool) []findings.Finding {
	dangling := len(kr.CNAMEs) > 0
	if !asked && !dangling {
		return nil
	}
	sev := findings.SeverityFail
	title := fmt.Sprintf("no DKIM key at %s (%s)", kr.Name, strings.ToUpper(kr.DNS))
	detail := "Every message signed with s=" + kr.Selector + " d=" + kr.Domain + " fails DKIM: verifiers find no key (RFC 6376 6.1.2: PERMFAIL, no key for signature)."
	fix := fmt.Sprintf("Publish the key as a TXT record at %s, exactly as your mail provider or signing software shows it, or sign with a selector that has a key.", kr.Name)
	id := "no-key"
	if dangling {
		target := lastName(kr)
		title = fmt.Sprintf("%s is a CNAME to %s, which has no key (%s)", kr.Name, target, strings.ToUpper(kr.DNS))
		detail = "The selector is delegated to another domain (usually an ESP) but the key is not there: DKIM is not activated at the provider yet, the account was closed, or the CNAME target is mistyped. " + detail
		fix = fmt.Sprintf("Activate DKIM for %s in the provider's console (or correct the CNAME target); if the provider is no longer used, delete the CNAME at %s.", kr.Domain, kr.Name)
		if !asked {
			// A rotation partner (Microsoft's selector2, SendGrid's s2) can
			// dangle harmlessly while the other one signs.
			id = "dangling-cname"
			sev = findings.SeverityWarn
		}
	}
	f := finding(id, sev, title)
	f.Detail = detail
	f.Evidence = evidence(kr)
	f.BounceCodes = codesNoPass
	f.Fix = fix
	f.Refs = []string{"RFC 6376 3.6.2.1", "RFC 6376 6.1.2"}
	return []findings.Finding{f}
}

// KeyFindings lints the key record a selector holds (any status but
// missing, error or offline). asked reports whether the selector is known
// to sign mail (given by the user, or named by a signature): a revoked key
// is then a failure, otherwise only a note.
func KeyFindings(kr *KeyResult, asked bool) []findings.Finding {
	var fs []findings.Finding
	k := kr.Key
	ev := evidence(kr)
	switch kr.Status {
	case KeyStatusMultiple:
		f := finding("multiple-records", findings.SeverityFail, fmt.Sprintf("%s has %d TXT records; a selector must have exactly one key", kr.Name, len(kr.Records)))
		f.Detail = "RFC 6376 leaves several key records undefined; many verifiers (go-msgauth, Microsoft) fail the signature, others pick one at random."
		f.Evidence = ev
		f.BounceCodes = codesNoPass
		f.Fix = fmt.Sprintf("Delete all but the current key at %s. A key longer than 255 characters goes in ONE record split into several quoted strings, not in several records.", kr.Name)
		f.Refs = []string{"RFC 6376 3.6.2.2", "RFC 6376 6.1.2"}
		return append(fs, f)
	case KeyStatusRevoked:
		sev := findings.SeverityInfo
		title := fmt.Sprintf("selector %s of %s is revoked (empty p=)", kr.Selector, kr.Domain)
		detail := "An empty p= is how RFC 6376 retires a key. That is correct as long as nothing signs with this selector any more."
		if asked {
			sev = findings.SeverityFail
			detail = "Signatures made with this selector fail (RFC 6376 6.1.2: PERMFAIL, key revoked). " + detail
		}
		f := finding("revoked", sev, title)
		f.Detail = detail
		f.Evidence = ev
		if asked {
			f.BounceCodes = codesNoPass
			f.Fix = fmt.Sprintf("Sign with the current selector, or publish the current public key at %s.", kr.Name)
		}
		f.Refs = []string{"RFC 6376 3.6.1"}
		return append(fs, f)
	case KeyStatusInvalid:
		var ke *KeyError
		errors.As(kr.Err, &ke)
		id, what := "bad-key", "the key in it cannot be used"
		switch {
		case errors.Is(kr.Err, ErrSyntax), errors.Is(kr.Err, ErrVersion), errors.Is(kr.Err, ErrMissingKey):
			id, what = "syntax", "it is not a valid key record"
		}
		f := finding(id, findings.SeverityFail, fmt.Sprintf("%s: %s: %s", kr.Name, what, kr.Error))
		f.Detail = "Verifiers fail every signature made with this selector (RFC 6376 6.1.2: PERMFAIL, key syntax error)."
		f.Evidence = ev
		f.BounceCodes = codesNoPass
		f.Fix = invalidKeyFix(kr, ke)
		f.Refs = []string{"RFC 6376 3.6.1", "RFC 8463 4"}
		return append(fs, f)
	}
	if k == nil {
		return fs
	}
	if k.Type == KeyRSA && k.Bits > 0 {
		switch {
		case k.Bits < 1024:
			f := finding("weak-key", findings.SeverityFail, fmt.Sprintf("%s is a %d-bit RSA key; verifiers reject keys under 1024 bits", kr.Name, k.Bits))
			f.Detail = "RFC 8301 3.2: verifiers MUST NOT consider signatures with RSA keys of less than 1024 bits valid. Such short keys can also be factored."
			f.Evidence = ev
			f.BounceCodes = codesNotAccepted
			f.Fix = "Generate a 2048-bit RSA key (e.g. `openssl genrsa -out dkim.key 2048`), publish it under a new selector, switch signing to it, then revoke this one (p=)."
			f.Refs = []string{"RFC 8301 3.2"}
			fs = append(fs, f)
		case k.Bits < 2048:
			f := finding("short-key", findings.SeverityWarn, fmt.Sprintf("%s is a %d-bit RSA key; 2048 bits is the recommended minimum", kr.Name, k.Bits))
			f.Detail = "RFC 8301 3.2: signers SHOULD use RSA keys of at least 2048 bits. 1024-bit keys still verify, but some receivers score them lower and they are within reach of factoring."
			f.Evidence = ev
			f.Fix = "Rotate to a 2048-bit key under a new selector; keep this one published until mail signed with it has been delivered, then revoke it (p=)."
			f.Refs = []string{"RFC 8301 3.2"}
			fs = append(fs, f)
		case k.Bits > 4096:
			f := finding("long-key", findings.SeverityWarn, fmt.Sprintf("%s is a %d-bit RSA key; verifiers need only support up to 4096 bits", kr.Name, k.Bits))
			f.Detail = "RFC 8301 3.2: verifiers MUST validate keys from 1024 to 4096 bits and MAY support larger ones; some will not verify this signature."
			f.Evidence = ev
			f.BounceCodes = codesNotAccepted
			f.Fix = "Use a 2048-bit (or at most 4096-bit) RSA key."
			f.Refs = []string{"RFC 8301 3.2"}
			fs = append(fs, f)
		}
	}
	if k.Type == KeyRSA && k.Encoding == "pkcs1" {
		f := finding("pkcs1-key", findings.SeverityWarn, fmt.Sprintf("%s publishes a bare RSAPublicKey instead of SubjectPublicKeyInfo", kr.Name))
		f.Detail = "RFC 6376's examples, OpenSSL and every DKIM tool publish SubjectPublicKeyInfo (base64 starting \"MII\"); verifiers that only read that form (RFC 6376 erratum 3017) fail the signature."
		f.Evidence = ev
		f.BounceCodes = codesNoPass
		f.Fix = "Publish the key as SubjectPublicKeyInfo: `openssl rsa -in dkim.key -pubout -outform DER | base64 -w0`."
		f.Refs = []string{"RFC 6376 3.6.1", "RFC 6376 erratum 3017"}
		fs = append(fs, f)
	}
	if len(k.Hashes) > 0 && !k.AllowsHash("sha256") {
		f := finding("sha1", findings.SeverityFail, fmt.Sprintf("%s allows only h=%s; no acceptable signature can use this key", kr.Name, strings.Join(k.Hashes, ":")))
		f.Detail = "RFC 8301 3.1: rsa-sha1 MUST NOT be used for signing or verifying, and a key whose h= lacks sha256 refuses sha256 signatures (RFC 6376 6.1.2: PERMFAIL, inappropriate hash algorithm). Either way the signature does not pass."
		if !slices.Contains(k.Hashes, "sha1") {
			f.ID = "dkim.bad-hash"
			f.Title = fmt.Sprintf("%s allows only h=%s, which no verifier knows", kr.Name, strings.Join(k.Hashes, ":"))
		}
		f.Evidence = ev
		f.BounceCodes = codesNotAccepted
		f.Fix = "Remove h= from the record (all algorithms allowed) or set h=sha256, and sign with rsa-sha256: " + fixedRecord(k, func(c *Key) { c.Hashes = []string{"sha256"} })
		f.Refs = []string{"RFC 8301 3.1", "RFC 6376 3.6.1"}
		fs = append(fs, f)
	}
	if !k.AllowsEmail() {
		f := finding("service", findings.SeverityFail, fmt.Sprintf("%s is restricted to s=%s, not e-mail", kr.Name, strings.Join(k.Services, ":")))
		f.Detail = "RFC 6376 3.6.1: verifiers MUST ignore a key whose s= does not include \"email\" or \"*\" for mail signatures (PERMFAIL, inappropriate service)."
		f.Evidence = ev
		f.BounceCodes = codesNoPass
		f.Fix = "Remove s= or set s=email: " + fixedRecord(k, func(c *Key) { c.Services = nil })
		f.Refs = []string{"RFC 6376 3.6.1"}
		fs = append(fs, f)
	}
	if k.Testing() {
		f := finding("testing", findings.SeverityWarn, fmt.Sprintf("%s is in testing mode (t=y)", kr.Name))
		f.Detail = "RFC 6376 3.6.1: verifiers MUST NOT treat mail from a signer in testing mode differently from unsigned mail; some therefore give its signatures no weight."
		f.Evidence = ev
		f.Fix = "Once signatures verify, remove y from t=: " + fixedRecord(k, func(c *Key) {
			c.Flags = slices.DeleteFunc(slices.Clone(c.Flags), func(s string) bool { return s == "y" })
		})
		f.Refs = []string{"RFC 6376 3.6.1"}
		fs = append(fs, f)
	}
	if k.Strict() {
		f := finding("strict", findings.SeverityInfo, fmt.Sprintf("%s requires i= to be exactly %s (t=s)", kr.Name, kr.Domain))
		f.Detail = "With t=s, signatures whose i= is in a subdomain of d= fail (RFC 6376 3.6.1)."
		f.Evidence = ev
		f.Refs = []string{"RFC 6376 3.6.1"}
		fs = append(fs, f)
	}
	if k.Type == KeyEd25519 {
		f := finding("ed25519", findings.SeverityInfo, fmt.Sprintf("%s is an Ed25519 key (RFC 8463)", kr.Name))
		f.Detail = "Ed25519 is secure and short, but not every receiver verifies it yet; RFC 8463 expects signers to add an RSA signature alongside."
		f.Evidence = ev
		f.Fix = "Also sign with an RSA (2048-bit) key under a second selector."
		f.Refs = []string{"RFC 8463 3"}
		fs = append(fs, f)
	}
	return fs
}

// fixedRecord returns the record with a change applied, for fix texts.
func fixedRecord(k *Key, change func(*Key)) string {
	c := *k
	change(&c)
	return fmt.Sprintf("%q", shortenP(c.String()))
}

func invalidKeyFix(kr *KeyResult, ke *KeyError) string {
	switch {
	case ke == nil:
		return "Republish the key exactly as your signing software or provider shows it."
	case errors.Is(ke, ErrVersion), errors.Is(ke, ErrSyntax) && ke.Tag == "v":
		return fmt.Sprintf("Start the record with \"v=DKIM1;\" (or leave v= out): %s TXT \"v=DKIM1; k=%s; p=...\".", kr.Name, keyTypeOr(kr))
	case errors.Is(ke, ErrSyntax):
		return "Write the record as tag=value pairs separated by semicolons, each tag once: \"v=DKIM1; k=rsa; p=<base64 key>\"."
	case errors.Is(ke, ErrMissingKey):
		return "Add the public key: p=<base64 of the key>. To revoke a key on purpose, publish an empty p=."
	case errors.Is(ke, ErrUnknownKeyType):
		return "Use k=rsa (2048-bit) or k=ed25519."
	case errors.Is(ke, ErrBadBase64):
		return "The key was damaged when pasted: copy p= again from the provider as one line (DNS editors often cut it at 255 characters or add spaces/quotes); a 2048-bit key is 392 base64 characters."
	default:
		return "Republish the key exactly as your signing software or provider shows it. " + ke.Detail
	}
}

func keyTypeOr(kr *KeyResult) string {
	if kr.Key != nil && kr.Key.Type != "" {
		return string(kr.Key.Type)
	}
	return "rsa"
}

// dnsErrorFinding is findings.DNSError for a DKIM key lookup, with what
// receivers do about it: dkim=temperror, and the message may be deferred.
func dnsErrorFinding(what string, err error) findings.Finding {
	if err == nil {
		err = errors.New("lookup failed")
	}
	f := findings.DNSError(check, what, err)
	if f.ID == check+".dns-error" {
		f.Detail += " Receivers that hit the same failure report dkim=temperror and may defer the message."
		f.BounceCodes = []string{"4.7.30", "4.4.3", "4.7.0"}
		f.Fix = "Retry; if it persists, check the name servers of the domain (and of the ESP a selector CNAME points to), or try another --resolver."
		f.Refs = []string{"RFC 6376 6.1.2"}
	}
	return f
}
