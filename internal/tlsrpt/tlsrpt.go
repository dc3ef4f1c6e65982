// Package tlsrpt checks a domain's SMTP TLS Reporting record (RFC 8460):
// the TXT record at _smtp._tls.DOMAIN that tells sending MTAs where to send
// daily reports about TLS failures (MTA-STS, DANE, STARTTLS) when they
// deliver to the domain. Without it, a broken MTA-STS or DANE deployment
// fails silently: nobody tells the domain that mail is being deferred.
package tlsrpt

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/txtrecord"
)

const check = "tls-rpt"

// Errors.
var (
	// ErrRecordSyntax marks a record that does not follow RFC 8460 3.
	ErrRecordSyntax = errors.New("TLS-RPT record syntax error")
	// ErrNoRecord: no TXT record starting with v=TLSRPTv1.
	ErrNoRecord = errors.New("no TLS-RPT record")
	// ErrMultipleRecords: RFC 8460 3 says senders then assume the domain
	// does not implement TLS-RPT.
	ErrMultipleRecords = errors.New("more than one TLS-RPT record")
)

// recordKind is the record's version and grammar (RFC 8460 3), the same as
// MTA-STS's.
var recordKind = txtrecord.Kind{Version: "TLSRPTv1", ErrNoRecord: ErrNoRecord, ErrMultipleRecords: ErrMultipleRecords}

// Extension is an unknown field kept so the record prints back.
type Extension struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Record is a parsed TLS-RPT record, e.g.
// "v=TLSRPTv1; rua=mailto:reports@example.com".
type Record struct {
	Version    string      `json:"version"` // "TLSRPTv1"
	RUA        []string    `json:"rua"`     // report URIs, as written
	Extensions []Extension `json:"extensions,omitempty"`
}

// String prints the record.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=TLSRPTv1; rua=" + strings.Join(r.RUA, ","))
	for _, e := range r.Extensions {
		b.WriteString("; " + e.Key + "=" + e.Value)
	}
	return b.String()
}

// RecordName is where the record lives (RFC 8460 3).
func RecordName(domain string) string { return "_smtp._tls." + strings.TrimSuffix(domain, ".") }

// IsTLSRPTRecord reports whether a TXT string is meant as a TLS-RPT record
// (RFC 8460 3 discards records that do not begin with "v=TLSRPTv1;"; we
// also count a broken "v=TLSRPTv1 ..." so it is reported, not ignored).
func IsTLSRPTRecord(txt string) bool { return recordKind.IsRecord(txt) }

// ParseRecord parses a TLS-RPT record strictly (RFC 8460 3):
//
//	tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//	field-delim   = *WSP ";" *WSP
//	tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//
// The URIs' syntax is checked by ParseRecord only as far as the grammar
// goes (no ";" or ","); CheckURI judges each one.
func ParseRecord(txt string) (*Record, error) {
	fail := func(format string, a ...any) (*Record, error) {
		return nil, fmt.Errorf("%w: %s", ErrRecordSyntax, fmt.Sprintf(format, a...))
	}
	r := &Record{Version: "TLSRPTv1"}
	fields := 0
	seenRUA := false
	for f, err := range recordKind.Fields(txt) {
		if err != nil {
			return fail("%v", err)
		}
		k, v := f.Name, f.Value
		fields++
		switch {
		case k == "rua":
			if seenRUA {
				return fail("rua= appears twice; list all URIs in one rua=, separated by commas")
			}
			seenRUA = true
			for _, u := range strings.Split(v, ",") {
				u = strings.Trim(u, " \t")
				if u == "" {
					return fail("empty URI in rua=%q", clip(v))
				}
				if strings.ContainsAny(u, " \t") {
					return fail("URI %q contains a space", clip(u))
				}
				r.RUA = append(r.RUA, u)
			}
		case k == "v":
			return fail("v= must appear only once, first")
		case !txtrecord.ValidName(k):
			return fail("bad field name %q", clip(k))
		case !txtrecord.ValidValue(v):
			return fail("bad value %q for %s", clip(v), k)
		default:
			r.Extensions = append(r.Extensions, Extension{k, v})
		}
	}
	if fields == 0 || !seenRUA {
		return fail("rua= is missing (it says where reports go)")
	}
	return r, nil
}

// CheckURI judges one rua URI (RFC 8460 3: "mailto:" or "https:" only).
func CheckURI(u string) error {
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok {
		return fmt.Errorf("%q has no scheme: use mailto:ADDRESS or https://URL", u)
	}
	switch strings.ToLower(scheme) {
	case "mailto":
		addr := rest
		if i := strings.IndexByte(addr, '?'); i >= 0 {
			addr = addr[:i]
		}
		addr, err := url.PathUnescape(addr)
		if err != nil {
			return fmt.Errorf("%q: bad %%-escape", u)
		}
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr {
			return fmt.Errorf("%q: %q is not an e-mail address", u, addr)
		}
		domain := addr[strings.LastIndexByte(addr, '@')+1:]
		if _, err := dnsx.CanonicalName(domain); err != nil || !strings.Contains(domain, ".") {
			return fmt.Errorf("%q: %q is not a domain name", u, domain)
		}
		return nil
	case "https":
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return fmt.Errorf("%q is not a valid https URL", u)
		}
		return nil
	case "http":
		return fmt.Errorf("%q: reports must be sent over https, not http", u)
	default:
		return fmt.Errorf("%q: only mailto: and https: report URIs are defined", u)
	}
}

// LookupRecord finds and parses the record. Errors: dnsx errors
// (temporary), ErrNoRecord, ErrMultipleRecords, ErrRecordSyntax.
func LookupRecord(ctx context.Context, r dnsx.Resolver, domain string) (*Record, []string, *dnsx.Result, error) {
	// RFC 8460 3: records that do not begin with "v=TLSRPTv1;" are
	// discarded; if the number left is not one, senders assume the domain
	// does not implement TLS-RPT.
	return txtrecord.LookupParsed(ctx, r, recordKind, RecordName(domain), ParseRecord)
}

// Options configure Check.
type Options struct {
	// Policies names the transport-security policies the domain publishes
	// ("MTA-STS", "DANE"), found by those checks; with one, a missing
	// TLS-RPT record is a warning (its failures would go unreported).
	Policies []string
}

// Result is the TLS-RPT analysis of a domain.
type Result struct {
	Domain   string             `json:"domain"`
	TXT      []string           `json:"txt,omitempty"`
	Record   *Record            `json:"record,omitempty"`
	Policies []string           `json:"policies,omitempty"`
	Findings []findings.Finding `json:"-"`

	offline, errored bool
}

// Check looks up and judges the TLS-RPT record of domain.
func Check(ctx context.Context, r dnsx.Resolver, domain string, o Options) *Result {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	res := &Result{Domain: domain, Policies: o.Policies}
	rec, txts, txtRes, err := LookupRecord(ctx, r, domain)
	res.TXT = txts
	name := RecordName(domain)
	example := fmt.Sprintf("%s. TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@%s\"", name, domain)
	switch {
	case errors.Is(err, ErrNoRecord):
		if txtRes.Offline {
			res.offline = true
			return res
		}
		f := findings.Finding{
			ID: "tls-rpt.none", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%s publishes no TLS-RPT record", domain),
			Detail:   "TLS reporting (RFC 8460) asks sending MTAs (Gmail, Microsoft 365, ...) for daily reports on TLS failures when they deliver to this domain. It is recommended together with MTA-STS or DANE.",
			Evidence: []string{fmt.Sprintf("%s TXT: no v=TLSRPTv1 record (%s)", name, txtRes.Status)},
			Fix:      "Publish " + example + " (or an https:// endpoint, or a reporting service's address).",
			Refs:     []string{"RFC 8460 3"},
		}
		if len(o.Policies) > 0 {
			f.Severity = findings.SeverityWarn
			f.Title = fmt.Sprintf("%s uses %s but publishes no TLS-RPT record: delivery failures it causes go unreported", domain, strings.Join(o.Policies, " and "))
			f.Detail = "With MTA-STS or DANE, a certificate or MX mistake makes senders defer mail to the domain; TLS-RPT reports are how the domain learns of it (RFC 8460 1). Without them the first sign is missing mail."
		}
		res.Findings = append(res.Findings, f)
	case errors.Is(err, ErrMultipleRecords):
		res.Findings = append(res.Findings, findings.Finding{
			ID: "tls-rpt.multiple-records", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s has %d TLS-RPT records; senders use none of them", name, len(txts)),
			Detail:   "RFC 8460 3: if the number of TXT records starting with v=TLSRPTv1 is not one, senders assume the domain does not implement TLS-RPT and send no reports.",
			Evidence: txtrecord.Evidence(name, txts),
			Fix:      "Merge them into one record; several report URIs go in one rua=, separated by commas: " + example,
			Refs:     []string{"RFC 8460 3"},
		})
	case errors.Is(err, ErrRecordSyntax):
		res.Findings = append(res.Findings, findings.Finding{
			ID: "tls-rpt.record-syntax", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the TLS-RPT record of %s is invalid: %s", domain, strings.TrimPrefix(err.Error(), ErrRecordSyntax.Error()+": ")),
			Detail:   "Senders ignore a record they cannot parse, so no reports are sent.",
			Evidence: txtrecord.Evidence(name, txts),
			Fix:      "Publish " + example,
			Refs:     []string{"RFC 8460 3"},
		})
	case err != nil:
		res.errored = true
		res.Findings = append(res.Findings, findings.DNSError("tls-rpt", "the TLS-RPT record "+name, err))
	default:
		res.Record = rec
		var bad []string
		for _, u := range rec.RUA {
			if err := CheckURI(u); err != nil {
				bad = append(bad, err.Error())
			}
		}
		if len(bad) > 0 {
			sev := findings.SeverityWarn
			title := fmt.Sprintf("%d of %d TLS-RPT report URIs of %s are unusable", len(bad), len(rec.RUA), domain)
			if len(bad) == len(rec.RUA) {
				title = fmt.Sprintf("no TLS-RPT report URI of %s is usable: no reports can be sent", domain)
			}
			res.Findings = append(res.Findings, findings.Finding{
				ID: "tls-rpt.bad-uri", Severity: sev, Title: title,
				Detail:   "RFC 8460 3 defines mailto: (reports as e-mail) and https: (reports POSTed) URIs; commas and semicolons inside a URI must be %-encoded.",
				Evidence: append(txtrecord.Evidence(name, txts), bad...),
				Fix:      "Use rua=mailto:ADDRESS or rua=https://URL, e.g. " + example,
				Refs:     []string{"RFC 8460 3"},
			})
		}
	}
	return res
}

// CheckResult turns the analysis into the tls-rpt check's result.
func (res *Result) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: check, Data: res, Findings: res.Findings}
	if res.offline {
		cr.Status = findings.StatusSkip
		cr.Summary = "not checked: --offline and " + RecordName(res.Domain) + " is in no --zone file"
		return cr
	}
	cr.Status = findings.StatusFromFindings(res.Findings)
	switch {
	case res.errored:
		cr.Summary = "could not be determined: DNS lookup failed"
	case len(res.TXT) == 0:
		cr.Summary = "no TLS-RPT record"
	case res.Record == nil:
		cr.Summary = "TLS-RPT record unusable"
	default:
		cr.Summary = "reports to " + strings.Join(res.Record.RUA, ", ")
	}
	return cr
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
