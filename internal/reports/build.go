package reports

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
)

// maxValues bounds the distinct values kept per source and field: a
// hostile report must not grow memory without bound.
const maxValues = 32

// Builder sums reports as they are read; it keeps per-report summaries
// and per-source counters, never the reports themselves.
type Builder struct {
	doc      *Document
	sources  map[string]*acc
	domains  map[string]*domAcc
	tls      map[string]*tlsAcc
	selector map[string]*Selector
}

type acc struct {
	s            *Source
	disposition  counter
	orgs         counter
	headerFrom   counter
	envelopeFrom counter
	spfDomains   counter
	reasons      counter
	dkim         map[string]*DKIMSeen
}

type domAcc struct {
	d          *Domain
	begin, end time.Time
	policyAt   time.Time
}

type tlsAcc struct {
	p        *TLSPolicy
	orgs     map[string]bool
	failures map[string]*TLSFailure
}

// counter counts messages per value, keeping at most maxValues values.
type counter map[string]int64

func (c counter) add(v string, n int64) {
	if v == "" {
		return
	}
	if _, ok := c[v]; !ok && len(c) >= maxValues {
		v = "(others)"
	}
	c[v] += n
}

func (c counter) list() []Count {
	out := make([]Count, 0, len(c))
	for v, n := range c {
		out = append(out, Count{Value: v, Messages: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Messages != out[j].Messages {
			return out[i].Messages > out[j].Messages
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// NewBuilder starts an empty document.
func NewBuilder() *Builder {
	return &Builder{
		doc:      &Document{Schema: Schema, Reports: []ReportEntry{}, Sources: []*Source{}, Domains: []*Domain{}, Selectors: []Selector{}, TLS: []*TLSPolicy{}, Findings: nil, Errors: []ErrorEntry{}},
		sources:  map[string]*acc{},
		domains:  map[string]*domAcc{},
		tls:      map[string]*tlsAcc{},
		selector: map[string]*Selector{},
	}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// AddError records an input that could not be read.
func (b *Builder) AddError(e dmarcreport.FileError) {
	b.doc.Errors = append(b.doc.Errors, ErrorEntry{File: e.File, Error: e.Err.Error()})
}

// Add sums one report.
func (b *Builder) Add(r *dmarcreport.Report) {
	switch {
	case r.Aggregate != nil:
		b.addAggregate(r.File, r.Aggregate)
	case r.TLS != nil:
		b.addTLS(r.File, r.TLS)
	case r.Failure != nil:
		f := r.Failure
		b.doc.Reports = append(b.doc.Reports, ReportEntry{
			Kind: dmarcreport.KindFailure, File: r.File, Org: f.Org, ReportID: f.ReportID, Domain: f.Domain,
			Begin: rfc3339(f.Arrival), End: rfc3339(f.Arrival), SourceIP: f.SourceIP, AuthFailure: f.AuthFailure,
			HeaderFrom: f.HeaderFrom, MailFrom: f.OriginalMailFrom, Subject: f.Subject,
		})
	}
}

func i64(n int64) *int64 { return &n }

func (b *Builder) addAggregate(file string, a *dmarcreport.Aggregate) {
	domain := a.Policy.Domain
	if domain == "" && len(a.Rows) > 0 {
		domain = a.Rows[0].HeaderFrom
	}
	b.doc.Reports = append(b.doc.Reports, ReportEntry{
		Kind: dmarcreport.KindAggregate, File: file, Org: a.Org, ReportID: a.ReportID, Domain: domain,
		Begin: rfc3339(a.Begin), End: rfc3339(a.End), Messages: i64(a.Messages()), DMARCPass: i64(a.DMARCPassMessages()),
		Rows: len(a.Rows), Policy: a.Policy.P,
	})
	da := b.domains[domain]
	if da == nil {
		da = &domAcc{d: &Domain{Domain: domain, Sources: map[Verdict]int{}, ByVerdict: map[Verdict]int64{}}}
		b.domains[domain] = da
	}
	da.d.Reports++
	da.d.Messages += a.Messages()
	da.d.DMARCPass += a.DMARCPassMessages()
	if !a.Begin.IsZero() && (da.begin.IsZero() || a.Begin.Before(da.begin)) {
		da.begin = a.Begin
	}
	if a.End.After(da.end) {
		da.end = a.End
	}
	if a.Policy.P != "" && !a.End.Before(da.policyAt) {
		da.d.Policy, da.policyAt = a.Policy.P, a.End
	}
	for i := range a.Rows {
		row := &a.Rows[i]
		ip := normalizeIP(row.SourceIP)
		key := domain + "|" + ip
		s := b.sources[key]
		if s == nil {
			s = &acc{s: &Source{Domain: domain, IP: ip}, disposition: counter{}, orgs: counter{}, headerFrom: counter{},
				envelopeFrom: counter{}, spfDomains: counter{}, reasons: counter{}, dkim: map[string]*DKIMSeen{}}
			b.sources[key] = s
		}
		src := s.s
		n := row.Count
		src.Messages += n
		if row.DMARCPass() {
			src.DMARCPass += n
		}
		if row.SPF == "pass" {
			src.SPFAlignedPass += n
		}
		if row.DKIM == "pass" {
			src.DKIMAlignedPass += n
		}
		if !a.Begin.IsZero() && (src.begin.IsZero() || a.Begin.Before(src.begin)) {
			src.begin = a.Begin
		}
		if a.End.After(src.end) {
			src.end = a.End
		}
		s.disposition.add(orDefault(row.Disposition, "none"), n)
		s.orgs.add(a.Org, n)
		s.headerFrom.add(row.HeaderFrom, n)
		s.envelopeFrom.add(row.EnvelopeFrom, n)
		for _, rs := range row.Reasons {
			s.reasons.add(rs.Type, n)
		}
		spfPass := false
		for _, sp := range row.SPFAuth {
			if sp.Scope == "helo" {
				continue
			}
			s.spfDomains.add(sp.Domain, n)
			if sp.Result == "pass" {
				spfPass = true
			}
		}
		if spfPass {
			src.SPFAuthPass += n
		}
		dkimPass := false
		for _, dk := range row.DKIMAuth {
			k := dk.Domain + "|" + dk.Selector
			seen := s.dkim[k]
			if seen == nil {
				if len(s.dkim) >= maxValues {
					continue
				}
				seen = &DKIMSeen{Domain: dk.Domain, Selector: dk.Selector}
				s.dkim[k] = seen
			}
			if dk.Result == "pass" {
				seen.Pass += n
				dkimPass = true
			} else {
				seen.Fail += n
			}
			if dk.Selector != "" && dk.Domain != "" {
				sk := domain + "|" + k
				sel := b.selector[sk]
				if sel == nil && len(b.selector) < 10000 {
					sel = &Selector{Domain: dk.Domain, Selector: dk.Selector, Policy: domain}
					b.selector[sk] = sel
				}
				if sel != nil {
					sel.Messages += n
					if dk.Result == "pass" {
						sel.Pass += n
					}
				}
			}
		}
		if dkimPass {
			src.DKIMAuthPass += n
		}
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// normalizeIP writes an address the one way (IPv6 compressed, IPv4-mapped
// unmapped); something that is not an address is kept as sent.
func normalizeIP(s string) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		return a.Unmap().String()
	}
	return s
}

func (b *Builder) addTLS(file string, t *dmarcreport.TLSReport) {
	b.doc.Reports = append(b.doc.Reports, ReportEntry{
		Kind: dmarcreport.KindTLS, File: file, Org: t.Org, ReportID: t.ReportID, Domain: t.Domain(),
		Begin: rfc3339(t.Begin), End: rfc3339(t.End), SessionsOK: i64(t.SessionsOK()), SessionsFailed: i64(t.SessionsFailed()),
	})
	for _, p := range t.Policies {
		key := p.Domain + "|" + p.Type
		ta := b.tls[key]
		if ta == nil {
			ta = &tlsAcc{p: &TLSPolicy{Domain: p.Domain, Type: p.Type}, orgs: map[string]bool{}, failures: map[string]*TLSFailure{}}
			b.tls[key] = ta
		}
		ta.p.SessionsOK += p.OK
		ta.p.Failed += p.Failed
		if len(ta.orgs) < maxValues {
			ta.orgs[t.Org] = true
		}
		for _, f := range p.Failures {
			mx := f.ReceivingMX
			if mx == "" {
				mx = orDefault(f.ReceivingIP, "(not named)")
			}
			fk := mx + "|" + f.ResultType
			tf := ta.failures[fk]
			if tf == nil {
				if len(ta.failures) >= 4*maxValues {
					continue
				}
				tf = &TLSFailure{MX: mx, ResultType: f.ResultType, Checks: tlsChecks(f.ResultType)}
				if pats := stsMXPatterns(p.Strings); p.Type == "sts" && len(pats) > 0 && f.ReceivingMX != "" && !stsMatch(pats, f.ReceivingMX) {
					tf.NotInPolicy = true
				}
				ta.failures[fk] = tf
			}
			tf.Sessions += f.Count
			if f.ReasonCode != "" && len(tf.ReasonCodes) < 5 && !contains(tf.ReasonCodes, f.ReasonCode) {
				tf.ReasonCodes = append(tf.ReasonCodes, f.ReasonCode)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// tlsChecks links an RFC 8460 4.3 result type to the checks that look at
// its cause.
func tlsChecks(resultType string) []string {
	switch resultType {
	case "starttls-not-supported":
		return []string{"smtp"}
	case "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted", "validation-failure":
		return []string{"smtp", "mta-sts", "dane"}
	case "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid":
		return []string{"mta-sts"}
	case "tlsa-invalid", "dnssec-invalid", "dane-required":
		return []string{"dane", "dnssec"}
	}
	return []string{"smtp", "mta-sts", "dane"}
}

// stsMXPatterns are the mx: lines of an MTA-STS policy (RFC 8461 3.2).
func stsMXPatterns(lines []string) []string {
	var out []string
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "mx") {
			out = append(out, strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), "."))
		}
	}
	return out
}

// stsMatch: host matches a pattern, where "*." stands for exactly one
// leftmost label (RFC 8461 4.1).
func stsMatch(patterns []string, host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, p := range patterns {
		if p == host {
			return true
		}
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}
