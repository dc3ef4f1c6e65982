// Package spf implements the Sender Policy Framework, RFC 7208: a pure
// record parser (ParseRecord, with precise syntax errors), the record
// lookup and selection of section 4.4/4.5 (Lookup), check_host()
// evaluation exactly as sections 4 to 6 describe (CheckHost), macro
// expansion (section 7) and a linter that resolves a domain's whole
// include/redirect tree and reports what will make receivers reject its
// mail (Lint).
//
// Every DNS question goes through the injected dnsx.Resolver, so --zone,
// --offline, --trace and the per-run cache work for SPF too.
package spf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// Result is a check_host() result, named as RFC 7208 section 2.6 names them.
type Result string

// The seven results of RFC 7208 2.6.
const (
	ResultNone      Result = "none"      // no record, or the domain could not be checked (2.6.1)
	ResultNeutral   Result = "neutral"   // the domain makes no assertion (2.6.2)
	ResultPass      Result = "pass"      // the client is authorized (2.6.3)
	ResultFail      Result = "fail"      // the client is not authorized (2.6.4)
	ResultSoftfail  Result = "softfail"  // probably not authorized (2.6.5)
	ResultTemperror Result = "temperror" // a transient (DNS) error (2.6.6)
	ResultPermerror Result = "permerror" // the record could not be interpreted (2.6.7)
)

// Qualifier is a mechanism's prefix (RFC 7208 4.6.2).
type Qualifier byte

// Qualifiers; '+' is the default when a mechanism has none.
const (
	QualifierPass     Qualifier = '+'
	QualifierFail     Qualifier = '-'
	QualifierSoftfail Qualifier = '~'
	QualifierNeutral  Qualifier = '?'
)

// Result is what a matching mechanism with this qualifier returns.
func (q Qualifier) Result() Result {
	switch q {
	case QualifierFail:
		return ResultFail
	case QualifierSoftfail:
		return ResultSoftfail
	case QualifierNeutral:
		return ResultNeutral
	default:
		return ResultPass
	}
}

// Errors. Lookup and CheckHost wrap them with details; test with errors.Is.
// A DNS failure is never one of these: it wraps the dnsx error, so
// dnsx.IsTemporary(err) tells it apart.
var (
	// ErrNoRecord: the domain has no SPF record (RFC 7208 4.5: result none).
	ErrNoRecord = errors.New("no SPF record")
	// ErrMultipleRecords: more than one TXT record starts with v=spf1 (4.5: permerror).
	ErrMultipleRecords = errors.New("more than one SPF record")
	// ErrSyntax is matched by every *SyntaxError.
	ErrSyntax = errors.New("SPF syntax error")
	// ErrTooManyLookups: more than 10 terms caused DNS lookups (4.6.4).
	ErrTooManyLookups = errors.New("more than 10 DNS-querying terms (RFC 7208 4.6.4)")
	// ErrTooManyVoidLookups: more than 2 lookups returned nothing (4.6.4).
	ErrTooManyVoidLookups = errors.New("more than 2 void lookups (RFC 7208 4.6.4)")
	// ErrTooManyMX: an mx mechanism needed more than 10 address lookups (4.6.4).
	ErrTooManyMX = errors.New("mx mechanism needs more than 10 MX hosts (RFC 7208 4.6.4)")
	// ErrIncludeNone: an include target has no SPF record (5.2: permerror).
	ErrIncludeNone = errors.New("include target has no SPF record")
	// ErrRedirectNone: a redirect target has no SPF record (6.1: permerror).
	ErrRedirectNone = errors.New("redirect target has no SPF record")
	// ErrInvalidDomain: a domain is malformed or not multi-label (4.3).
	ErrInvalidDomain = errors.New("not a valid domain for SPF")
	// ErrOffline: the answer was made up by --offline (the name is outside
	// every --zone file), so nothing can be concluded from it.
	ErrOffline = errors.New("not checked: --offline and the name is in no --zone file")
)

// MaxLookups is the RFC 7208 4.6.4 limit on terms that cause DNS lookups.
const MaxLookups = 10

// MaxVoidLookups is the RFC 7208 4.6.4 limit on void lookups.
const MaxVoidLookups = 2

// maxNames is the per-mechanism limit on MX and PTR names (4.6.4).
const maxNames = 10

// IsSPFRecord reports whether a TXT string is an SPF version 1 record:
// RFC 7208 4.5, "v=spf1" (case-insensitively) followed by a space or the
// end. "v=spf10" and "v=spf1mx" are not.
func IsSPFRecord(txt string) bool {
	if len(txt) < len(version) || !strings.EqualFold(txt[:len(version)], version) {
		return false
	}
	return len(txt) == len(version) || txt[len(version)] == ' '
}

const version = "v=spf1"

// Lookup finds and parses the SPF record of domain (RFC 7208 4.4, 4.5). It
// returns the record text even when parsing fails (then err is a
// *SyntaxError). Errors: ErrNoRecord (NXDOMAIN, no TXT, or no TXT starting
// with v=spf1), ErrMultipleRecords, ErrOffline, ErrInvalidDomain, or a
// wrapped dnsx error for DNS failures.
func Lookup(ctx context.Context, r dnsx.Resolver, domain string) (*Record, string, error) {
	sel, err := selectRecord(ctx, r, domain)
	if err != nil {
		return nil, "", err
	}
	rec, err := ParseRecord(sel.txt)
	return rec, sel.txt, err
}

// selection is the outcome of record selection for one domain.
type selection struct {
	txt    string       // the one SPF record
	res    *dnsx.Result // the TXT answer
	others []string     // TXT strings that are not SPF records
}

func selectRecord(ctx context.Context, r dnsx.Resolver, domain string) (*selection, error) {
	name := strings.TrimSuffix(domain, ".")
	if err := validDomain(name); err != nil {
		return nil, err
	}
	res, err := r.Lookup(ctx, dnsx.EscapeName(name), dns.TypeTXT)
	if err != nil {
		if errors.Is(err, dnsx.ErrInvalidName) {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidDomain, name, err)
		}
		return nil, fmt.Errorf("SPF record of %s: %w", name, err)
	}
	if res.Offline {
		return nil, fmt.Errorf("SPF record of %s: %w", name, ErrOffline)
	}
	sel := &selection{res: res}
	var found []string
	for _, t := range res.TXT() {
		if IsSPFRecord(t) {
			found = append(found, t)
		} else {
			sel.others = append(sel.others, t)
		}
	}
	switch {
	case len(found) == 1:
		sel.txt = found[0]
		return sel, nil
	case len(found) > 1:
		return sel, fmt.Errorf("%w: %s has %d TXT records starting with v=spf1", ErrMultipleRecords, name, len(found))
	case res.Status == dnsx.StatusNXDomain:
		return sel, fmt.Errorf("%w: %s does not exist (NXDOMAIN)", ErrNoRecord, name)
	case len(sel.others) == 0:
		return sel, fmt.Errorf("%w: %s has no TXT records", ErrNoRecord, name)
	default:
		return sel, fmt.Errorf("%w: none of the %d TXT records of %s starts with v=spf1", ErrNoRecord, len(sel.others), name)
	}
}

// Addresses returns the networks a record's ip4 and ip6 mechanisms name,
// whatever their qualifier, in record order. Other checks use it (the
// blocklist check looks up the single addresses a domain sends from).
func Addresses(rec *Record) []netip.Prefix {
	if rec == nil {
		return nil
	}
	var out []netip.Prefix
	for _, t := range rec.Terms {
		if t.Kind == KindMechanism && (t.Name == "ip4" || t.Name == "ip6") {
			out = append(out, t.Prefix())
		}
	}
	return out
}

// validDomain applies RFC 7208 4.3: a domain that is malformed (an empty
// or over-long label, too long) or not multi-label cannot have SPF.
func validDomain(d string) error {
	if d == "" {
		return fmt.Errorf("%w: empty domain", ErrInvalidDomain)
	}
	if len(d) > 253 {
		return fmt.Errorf("%w: %q is longer than 253 octets", ErrInvalidDomain, d)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%w: %q is not a fully qualified (multi-label) domain", ErrInvalidDomain, d)
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("%w: %q has an empty label", ErrInvalidDomain, d)
		}
		if len(l) > 63 {
			return fmt.Errorf("%w: %q has a label longer than 63 octets", ErrInvalidDomain, d)
		}
	}
	return nil
}
