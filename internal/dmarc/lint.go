package dmarc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const check = "dmarc"

// ReportDestination is one rua/ruf URI and whether its destination host
// accepts reports for the domain (RFC 9990 3, the authorisation record
// <policy domain>._report._dmarc.<destination host>).
type ReportDestination struct {
	Tag      string `json:"tag"` // rua or ruf
	URI      string `json:"uri"`
	Host     string `json:"host"`
	External bool   `json:"external"` // Organizational Domains differ: authorisation needed
	// AuthName is the name asked for the authorisation record.
	AuthName string `json:"auth_name,omitempty"`
	// Authorized says whether an external destination agreed to receive
	// the domain's reports (RFC 9990 "External Report Destinations").
	Authorized Authorization `json:"authorized,omitempty"`
	Error      string        `json:"error,omitempty"`
}

// Authorization is whether an external report destination agreed to
// receive a domain's reports.
type Authorization string

// Authorizations.
const (
	AuthorizedYes     Authorization = "yes"
	AuthorizedNo      Authorization = "no"
	AuthorizedUnknown Authorization = "unknown" // not asked, or the DNS did not answer
)

// Alignability says whether mail from the domain can pass DMARC at all.
type Alignability struct {
	// SPFDomains are the domain and Organizational Domain that publish an
	// SPF record (v=spf1), so an SPF-authenticated MAIL FROM there aligns.
	SPFDomains []string `json:"spf_domains"`
	// Checked are the domains looked at.
	Checked []string `json:"checked"`
	Error   string   `json:"error,omitempty"`
	// DKIMSelectors are the selectors with a usable DKIM key at the domain,
	// when the caller looked (AddDKIMKeys); DKIMChecked counts the
	// selectors tried (0: DKIM not looked at).
	DKIMSelectors []string `json:"dkim_selectors,omitempty"`
	DKIMChecked   int      `json:"dkim_selectors_checked,omitempty"`
}

// Analysis is the DMARC analysis of a domain: the discovery, the lint
// findings and, with --ip, the evaluation of a message.
type Analysis struct {
	Domain            string              `json:"domain"`
	Record            string              `json:"record"`
	Parsed            *Record             `json:"parsed,omitempty"`
	FoundAt           string              `json:"found_at"`
	Source            string              `json:"source,omitempty"`
	Walk              []Step              `json:"walk"`
	OrgDomain         string              `json:"org_domain"`
	OrgRule           string              `json:"org_rule,omitempty"`
	PSDDomain         string              `json:"psd_domain,omitempty"`
	DomainExists      string              `json:"domain_exists"`
	Policy            Policy              `json:"policy"`
	PolicyTag         string              `json:"policy_tag,omitempty"`
	SubdomainPolicy   Policy              `json:"subdomain_policy"`
	NonexistentPolicy Policy              `json:"nonexistent_policy"`
	SubdomainFrom     string              `json:"subdomain_policy_from,omitempty"`
	Testing           bool                `json:"testing"`
	Applies           bool                `json:"applies"`
	Reports           []ReportDestination `json:"report_destinations"`
	Alignability      *Alignability       `json:"alignability,omitempty"`
	RFC7489           *LegacyView         `json:"rfc7489,omitempty"`
	// Sender is the evaluation of a message from an IP (--ip), if asked.
	Sender *SenderEvaluation `json:"sender,omitempty"`

	// Discovery is the underlying discovery.
	Discovery *Discovery `json:"-"`
	// Findings go to the report, not to the check's data.
	Findings []findings.Finding `json:"-"`
	// Err is set when the analysis could not be completed (DNS failure).
	Err error `json:"-"`
	// Offline is set when nothing could be asked (--offline).
	Offline bool `json:"-"`
}

// Analyze discovers and lints the DMARC deployment of domain: the record
// and where the tree walk finds it, its syntax, the policies for the
// domain and its subdomains, report destinations and their authorisation,
// whether the domain can align at all (SPF records), and what RFC 7489
// receivers do differently. Independent lookups run concurrently.
func Analyze(ctx context.Context, r dnsx.Resolver, domain string) *Analysis {
	res := &Analysis{Domain: strings.TrimSuffix(strings.ToLower(domain), "."), Walk: []Step{}, Reports: []ReportDestination{}}
	d, err := Lookup(ctx, r, domain)
	if d == nil {
		res.Err = err
		res.Findings = append(res.Findings, dnsErrFinding("the DMARC record of "+domain, err))
		return res
	}
	res.fill(d)
	if d.Offline {
		res.Offline = true
		return res
	}
	if err != nil {
		res.Err = err
		f := dnsErrFinding("_dmarc names for "+d.Domain, err)
		if f.ID == check+".dns-error" {
			f.Detail += " The DNS Tree Walk (RFC 9989 4.10) could not be completed; receivers either defer mail (4xx) or skip DMARC until it answers."
		}
		f.Evidence = walkEvidence(d.Walk)
		res.Findings = append(res.Findings, f)
		if d.Record == nil {
			return res
		}
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	add := func(fs ...findings.Finding) {
		mu.Lock()
		res.Findings = append(res.Findings, fs...)
		mu.Unlock()
	}
	// Wrong-name mistakes only matter when the right name holds nothing.
	if len(d.Walk) > 0 && d.Walk[0].Status != StepRecord {
		wg.Add(1)
		go func() { defer wg.Done(); add(wrongNames(ctx, r, d)...) }()
	}
	if d.Record != nil && err == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dests, fs := checkReportDestinations(ctx, r, d)
			mu.Lock()
			res.Reports = dests
			mu.Unlock()
			add(fs...)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			lv := legacyView(ctx, r, d)
			mu.Lock()
			res.RFC7489 = lv
			mu.Unlock()
			add(legacyFindings(d, lv)...)
		}()
	}
	if err == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			al := checkAlignability(ctx, r, d)
			mu.Lock()
			res.Alignability = al
			mu.Unlock()
		}()
	}
	add(recordFindings(d)...)
	wg.Wait()
	res.alignabilityFindings()
	sortFindings(res.Findings)
	return res
}

func (res *Analysis) fill(d *Discovery) {
	res.Discovery = d
	res.Domain = d.Domain
	res.Walk = d.Walk
	if res.Walk == nil {
		res.Walk = []Step{}
	}
	res.Record, res.Parsed, res.FoundAt, res.Source = d.Text, d.Record, d.FoundAt, d.Source
	res.OrgDomain, res.OrgRule, res.PSDDomain, res.DomainExists = d.OrgDomain, d.OrgRule, d.PSDDomain, d.Exists
	res.Policy, res.PolicyTag, res.SubdomainPolicy, res.NonexistentPolicy = d.Policy, d.PolicyTag, d.SubdomainPolicy, d.NonexistentPolicy
	res.SubdomainFrom, res.Testing, res.Applies = d.SubdomainPolicyFrom, d.Testing, d.Applies
}

func sortFindings(fs []findings.Finding) {
	rank := map[findings.Severity]int{findings.SeverityFail: 0, findings.SeverityError: 1, findings.SeverityWarn: 2, findings.SeverityInfo: 3}
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && rank[fs[j].Severity] < rank[fs[j-1].Severity]; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

func dnsErrFinding(what string, err error) findings.Finding {
	f := findings.DNSError(check, what, err)
	if f.ID == check+".dns-error" {
		f.Refs = []string{"RFC 9989 4.10.1", "RFC 9989 5.3.6"}
	}
	return f
}

func walkEvidence(steps []Step) []string {
	var ev []string
	for _, st := range steps {
		line := fmt.Sprintf("%s TXT: %s", st.Name, st.Status)
		switch st.Status {
		case StepRecord:
			line = fmt.Sprintf("%s TXT: %q", st.Name, st.Text)
		case StepMultiple, StepNone:
			line = fmt.Sprintf("%s TXT: %s %q", st.Name, st.Status, st.TXT)
		case StepError:
			line += " (" + st.Error + ")"
		}
		if st.Note != "" {
			line += " — " + st.Note
		}
		ev = append(ev, line)
	}
	return ev
}

// suggest returns rec printed with tag set to value (added if absent).
func suggest(rec *Record, tag, value string) string {
	cp := &Record{Tags: append([]Tag(nil), rec.Tags...)}
	for i := range cp.Tags {
		if cp.Tags[i].Name == tag {
			cp.Tags[i].Value = value
			return cp.String()
		}
	}
	// p goes right after v, where RFC 7489 receivers expect it.
	if tag == "p" {
		cp.Tags = append(cp.Tags[:1], append([]Tag{{Name: "p", Value: value}}, cp.Tags[1:]...)...)
	} else {
		cp.Tags = append(cp.Tags, Tag{Name: tag, Value: value})
	}
	return cp.String()
}

func without(rec *Record, tags ...string) string {
	cp := &Record{}
	for _, t := range rec.Tags {
		drop := false
		for _, x := range tags {
			drop = drop || t.Name == x
		}
		if !drop {
			cp.Tags = append(cp.Tags, t)
		}
	}
	return cp.String()
}

// recordFindings lints the discovery and the record that applies.
func recordFindings(d *Discovery) []findings.Finding {
	var fs []findings.Finding
	first := Step{}
	if len(d.Walk) > 0 {
		first = d.Walk[0]
	}
	// Several records at a name: all are discarded (RFC 9989 4.10 step 2).
	for _, st := range d.Walk {
		if st.Status != StepMultiple {
			continue
		}
		sev := findings.SeverityWarn
		if st.Domain == d.Domain || st.Domain == d.OrgDomain || d.Record == nil {
			sev = findings.SeverityFail
		}
		var n int
		for _, t := range st.TXT {
			if isDMARC(t) {
				n++
			}
		}
		ev := []string{}
		for _, t := range st.TXT {
			ev = append(ev, fmt.Sprintf("%s TXT %q", st.Name, t))
		}
		fs = append(fs, findings.Finding{
			ID: "dmarc.multiple-records", Severity: sev,
			Title:       fmt.Sprintf("%s has %d DMARC records; receivers discard them all", st.Name, n),
			Detail:      "RFC 9989 4.10: if several DMARC records are returned for one name, they are all discarded, as if none existed. Mail from the domain then has no DMARC policy, which bulk-sender rules at Gmail, Yahoo and Microsoft refuse.",
			Evidence:    ev,
			BounceCodes: BulkCodes(),
			Fix:         fmt.Sprintf("Keep exactly one TXT record starting with v=DMARC1 at %s; merge the tags you need into it.", st.Name),
			Refs:        []string{"RFC 9989 4.10", "RFC 7489 6.6.3"},
		})
	}
	// A TXT record at _dmarc.<domain> that is not a valid DMARC record.
	if first.Status == StepNone {
		for _, t := range first.TXT {
			_, err := ParseRecord(t)
			var te *TagError
			reason := "it does not start with v=DMARC1"
			if errors.As(err, &te) {
				reason = te.Reason
			}
			fs = append(fs, findings.Finding{
				ID: "dmarc.syntax", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("the TXT record at %s is not a DMARC record: %s", first.Name, reason),
				Detail:      "Receivers discard TXT records at _dmarc names that do not start with exactly \"v=DMARC1\" followed by \";\" (RFC 9989 4.7, tag v): for them this domain publishes no DMARC record.",
				Evidence:    []string{fmt.Sprintf("%s TXT %q", first.Name, t)},
				BounceCodes: BulkCodes(),
				Fix:         "Start the record with \"v=DMARC1;\" exactly (upper case, a semicolon after it), e.g. \"v=DMARC1; p=none; rua=mailto:dmarc-reports@" + d.Domain + "\".",
				Refs:        []string{"RFC 9989 4.7", "RFC 9989 4.8"},
			})
		}
	}
	if d.Record == nil {
		if d.Err == nil && !hasID(fs, "dmarc.multiple-records") {
			fs = append(fs, noRecordFinding(d, first))
		}
		return fs
	}
	rec := d.Record
	at := "_dmarc." + d.FoundAt
	evRec := []string{fmt.Sprintf("%s TXT %q", at, d.Text)}

	if d.Source != "domain" {
		sev := findings.SeverityInfo
		title := fmt.Sprintf("%s has no DMARC record of its own; the tree walk finds the one at %s (%s)", d.Domain, at, d.Source)
		if d.Source == "public-suffix-domain" {
			sev = findings.SeverityWarn
			title = fmt.Sprintf("%s and its Organizational Domain publish no DMARC record; only the public suffix %s's policy (psd=y) applies", d.Domain, d.FoundAt)
		}
		fs = append(fs, findings.Finding{
			ID: "dmarc.inherited", Severity: sev, Title: title,
			Detail:   fmt.Sprintf("RFC 9989 4.10.1: without a record at _dmarc.%s, receivers use the record of the Organizational Domain (%s) or of the Public Suffix Domain, with its %s tag for this name.", d.Domain, d.OrgDomain, d.PolicyTag),
			Evidence: walkEvidence(d.Walk),
			Fix:      fmt.Sprintf("Nothing is needed if the inherited policy is what you want; to set a policy for %s alone, publish a record at _dmarc.%s.", d.Domain, d.Domain),
			Refs:     []string{"RFC 9989 4.10.1"},
		})
	}

	// Syntax errors of the record that applies.
	var syntax, uris, legacy []*TagError
	for _, e := range rec.Errors {
		switch {
		case e.Legacy:
			legacy = append(legacy, e)
		case e.Tag == "rua" || e.Tag == "ruf":
			uris = append(uris, e)
		default:
			syntax = append(syntax, e)
		}
	}
	if rec.Policy == "" && !rec.hasErr("p") {
		syntax = append(syntax, &TagError{Tag: "p", Reason: "the p tag is missing"})
	}
	if len(syntax) > 0 {
		var ev []string
		for _, e := range syntax {
			ev = append(ev, strings.TrimPrefix(e.Error(), "dmarc: "))
		}
		detail := "RFC 9989 4.8: receivers discard malformed tags in favour of their defaults."
		switch {
		case !rec.Applies():
			detail += " Without a valid p (or with an invalid sp or np) and without a valid rua URI, receivers ignore the record entirely (RFC 9989 4.10.1): the domain has no DMARC policy."
		case rec.Policy == "" || rec.hasErr("sp") || rec.hasErr("np"):
			detail += " Without a valid p (or with an invalid sp or np), receivers act as if the record said p=none because rua holds a valid URI (RFC 9989 4.10.1)."
		}
		fix := fmt.Sprintf("Correct the record at %s", at)
		if rec.Policy == "" {
			fix += ", e.g. \"" + suggest(rec, "p", "none") + "\""
		}
		f := findings.Finding{
			ID: "dmarc.syntax", Severity: findings.SeverityFail,
			Title:    fmt.Sprintf("the DMARC record at %s has %d syntax error(s): %s", at, len(syntax), strings.TrimPrefix(syntax[0].Error(), "dmarc: ")),
			Detail:   detail,
			Evidence: append(evRec, ev...),
			Fix:      fix + ".",
			Refs:     []string{"RFC 9989 4.7", "RFC 9989 4.8", "RFC 9989 4.10.1"},
		}
		if !rec.Applies() {
			f.BounceCodes = BulkCodes()
		}
		fs = append(fs, f)
	}
	for _, e := range uris {
		fs = append(fs, findings.Finding{
			ID: "dmarc.bad-uri", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s at %s has an unusable reporting URI: %s", e.Tag, at, e.Reason),
			Detail:   "Receivers ignore URIs they cannot parse; reports for that destination are lost. URIs are separated by commas, each needs its scheme (mailto:), and commas or \"!\" inside a URI must be percent-encoded.",
			Evidence: append(evRec, fmt.Sprintf("%s=%s", e.Tag, e.Value)),
			Fix:      "Write each destination as mailto:address, e.g. \"" + e.Tag + "=mailto:dmarc-reports@" + d.OrgDomain + "\".",
			Refs:     []string{"RFC 9989 4.6", "RFC 9989 4.8", "RFC 6068"},
		})
	}
	for _, list := range [][]URI{rec.RUA, rec.RUF} {
		for _, u := range list {
			if u.Scheme != "mailto" {
				fs = append(fs, findings.Finding{
					ID: "dmarc.bad-uri", Severity: findings.SeverityWarn,
					Title:    fmt.Sprintf("reporting URI %s uses the %s: scheme; receivers only have to support mailto:", u.Raw, u.Scheme),
					Detail:   "RFC 9989 4.7: a receiver sending reports MUST support mailto: URIs and MUST ignore schemes it does not support, so reports to this URI are rarely sent.",
					Evidence: evRec,
					Fix:      "Use a mailto: address for reports.",
					Refs:     []string{"RFC 9989 4.7"},
				})
			}
		}
	}

	p, sp, np := rec.Effective()
	if rec.Applies() && d.Policy == PolicyNone {
		fs = append(fs, findings.Finding{
			ID: "dmarc.policy-none", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the DMARC policy for %s is none (%s=none at %s): spoofed mail is delivered", d.Domain, d.PolicyTag, at),
			Detail:      "p=none is monitoring mode: receivers send reports but change nothing. It is the right way to start (and meets the bulk-sender minimum at Gmail, Yahoo and Microsoft), not where to stay: once the aggregate reports show all your mail passing, move to quarantine, then reject.",
			Evidence:    evRec,
			Fix:         fmt.Sprintf("When reports show your legitimate mail aligned, publish \"%s\" at %s, later p=reject.", suggest(rec, d.PolicyTag, "quarantine"), at),
			Refs:        []string{"RFC 9989 5.1.4", "RFC 9989 5.1.7"},
			BounceCodes: nil,
		})
	}
	if rec.TestMode() && p != PolicyNone {
		fs = append(fs, findings.Finding{
			ID: "dmarc.testing", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("t=y at %s: receivers apply %s instead of %s", at, d.Policy.OneLevelDown(), d.Policy),
			Detail:   "RFC 9989 4.7: t=y asks receivers to apply the policy one level lower (reject becomes quarantine, quarantine becomes none), and is what pct=0 used to signal to intermediaries. RFC 7489 receivers ignore t and apply the full policy.",
			Evidence: evRec,
			Fix:      fmt.Sprintf("Remove t=y when testing is over: \"%s\".", without(rec, "t")),
			Refs:     []string{"RFC 9989 4.7", "RFC 9989 A.6"},
		})
	}
	if len(rec.RUA) == 0 && !rec.hasErr("rua") {
		fs = append(fs, findings.Finding{
			ID: "dmarc.no-rua", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("the DMARC record at %s has no rua: nobody receives aggregate reports", at),
			Detail:   "Without rua, receivers MUST NOT send aggregate reports (RFC 9989 4.7), so you cannot see which servers send as your domain or whether they pass — the information you need before moving to an enforcing policy.",
			Evidence: evRec,
			Fix:      fmt.Sprintf("Add a mailbox for reports: \"%s\".", suggest(rec, "rua", "mailto:dmarc-reports@"+d.FoundAt)),
			Refs:     []string{"RFC 9989 4.7", "RFC 9989 5.1.3", "RFC 9990"},
		})
	}
	// sp/np weaker than p, at the record that governs subdomains.
	if d.SubdomainPolicyFrom == d.FoundAt && rec.Applies() {
		var weak []string
		if rec.SubdomainPolicy != "" && sp.Weaker(p) {
			weak = append(weak, fmt.Sprintf("sp=%s", sp))
		}
		if rec.NonExistentPolicy != "" && np.Weaker(p) {
			weak = append(weak, fmt.Sprintf("np=%s", np))
		} else if rec.NonExistentPolicy == "" && rec.SubdomainPolicy != "" && sp.Weaker(p) {
			weak = append(weak, fmt.Sprintf("np (absent: inherits sp=%s)", sp))
		}
		if len(weak) > 0 {
			fs = append(fs, findings.Finding{
				ID: "dmarc.weak-subdomain-policy", Severity: findings.SeverityWarn,
				Title:    fmt.Sprintf("subdomains of %s are less protected than the domain: p=%s but %s", d.FoundAt, p, strings.Join(weak, ", ")),
				Detail:   "Attackers spoof the weakest name: mail from any subdomain (including ones that do not exist, like secure-login." + d.FoundAt + ") gets the weaker policy. np covers non-existent subdomains, which never send legitimate mail.",
				Evidence: evRec,
				Fix:      fmt.Sprintf("Give subdomains at least the domain's policy; at minimum set np=reject: \"%s\".", suggest(rec, "np", "reject")),
				Refs:     []string{"RFC 9989 4.7", "RFC 9989 4.10.1"},
			})
		}
	}
	// sp/np published below the Organizational Domain are never read.
	if d.Source == "domain" && d.OrgDomain != "" && d.OrgDomain != d.Domain && (rec.SubdomainPolicy != "" || rec.NonExistentPolicy != "") {
		fs = append(fs, findings.Finding{
			ID: "dmarc.subdomain-tags-ignored", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("sp/np at %s are ignored: %s is not an Organizational Domain (that is %s)", at, d.Domain, d.OrgDomain),
			Detail:   "RFC 9989 4.7: sp and np are read only from the record of the Organizational Domain or a PSD; subdomains of " + d.Domain + " without records of their own get " + d.OrgDomain + "'s sp/np. Add psd=n to make " + d.Domain + " an Organizational Domain of its own.",
			Evidence: evRec,
			Refs:     []string{"RFC 9989 4.7", "RFC 9989 4.10.2", "RFC 9989 5.1.8"},
		})
	}
	// Unknown tags: ignored by receivers (RFC 9989 4.7).
	for _, t := range rec.Unknown {
		f := findings.Finding{
			ID: "dmarc.unknown-tag", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("unknown tag %s=%s at %s is ignored", t.Name, t.Value, at),
			Detail:   "RFC 9989 4.7: only registered tags are processed; unknown tags MUST be ignored.",
			Evidence: evRec,
			Refs:     []string{"RFC 9989 4.7", "RFC 9989 9.3"},
		}
		if guess := closestTag(t.Name); guess != "" {
			f.Title += fmt.Sprintf(" (did you mean %s?)", guess)
			f.Severity = findings.SeverityWarn
			f.Fix = fmt.Sprintf("Rename %s to %s.", t.Name, guess)
		}
		fs = append(fs, f)
	}
	fs = append(fs, legacyTagFindings(rec, at, evRec, legacy)...)
	return fs
}

func hasID(fs []findings.Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

var knownTags = []string{"p", "sp", "np", "psd", "t", "adkim", "aspf", "rua", "ruf", "fo", "pct", "rf", "ri"}

// closestTag suggests a known tag for a typo (one edit or a transposition).
func closestTag(name string) string {
	for _, k := range knownTags {
		if len(k) >= 2 && editClose(name, k) {
			return k
		}
	}
	return ""
}

func editClose(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) == len(b) {
		var diff []int
		for i := range a {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		return len(diff) == 1 || len(diff) == 2 && diff[1] == diff[0]+1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]]
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a) != len(b)+1 {
		return false
	}
	for i := 0; i <= len(b); i++ {
		if a[:i]+a[i+1:] == b {
			return true
		}
	}
	return false
}

func noRecordFinding(d *Discovery, first Step) findings.Finding {
	return findings.Finding{
		ID: "dmarc.no-record", Severity: findings.SeverityFail,
		Title:       fmt.Sprintf("no DMARC record applies to %s: the tree walk found none", d.Domain),
		Detail:      "Without DMARC, receivers cannot tell your mail from spoofed mail, and the bulk-sender rules of Gmail and Yahoo (2024) and Microsoft (May 2025) refuse mail from domains without a DMARC record. Per receiver: " + strings.Join(receiverEvidence("bulk", d.Domain), " | "),
		Evidence:    walkEvidence(d.Walk),
		BounceCodes: BulkCodes(),
		Fix:         fmt.Sprintf("Publish a TXT record at _dmarc.%s: \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\", read the aggregate reports, then move to p=quarantine and p=reject.", d.Domain, d.Domain),
		Refs:        []string{"RFC 9989 4.10.1", "RFC 9989 5.1.4"},
	}
}

// wrongNames looks for DMARC records published where receivers never look:
// at the domain itself, at dmarc.<domain> (no underscore), or at
// _dmarc.<domain>.<domain> (a zone file entry missing its trailing dot).
func wrongNames(ctx context.Context, r dnsx.Resolver, d *Discovery) []findings.Finding {
	names := []string{d.Domain, "dmarc." + d.Domain, "_dmarc." + d.Domain + "." + d.Domain}
	type hit struct {
		name string
		txt  []string
	}
	hits := make([]hit, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		if len(n) > 253 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Lookup(ctx, n, dns.TypeTXT)
			if err != nil || res.Offline {
				return
			}
			for _, t := range res.TXT() {
				if isDMARC(t) || strings.HasPrefix(strings.ToLower(strings.TrimSpace(t)), "v=dmarc") {
					hits[i].txt = append(hits[i].txt, t)
				}
			}
			hits[i].name = n
		}()
	}
	wg.Wait()
	var fs []findings.Finding
	for i, h := range hits {
		if len(h.txt) == 0 {
			continue
		}
		why := map[int]string{
			0: "at the domain itself (the apex)",
			1: "at dmarc." + d.Domain + " (without the underscore)",
			2: "at _dmarc." + d.Domain + "." + d.Domain + " (the zone file entry lacks its trailing dot, so the origin was appended)",
		}[i]
		ev := []string{}
		for _, t := range h.txt {
			ev = append(ev, fmt.Sprintf("%s TXT %q", h.name, t))
		}
		fs = append(fs, findings.Finding{
			ID: "dmarc.wrong-name", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("a DMARC record is published %s, where receivers never look", why),
			Detail:   fmt.Sprintf("Receivers ask only _dmarc.%s (and its parents, RFC 9989 4.10). A record elsewhere has no effect.", d.Domain),
			Evidence: ev,
			Fix:      fmt.Sprintf("Move the record to a TXT record named _dmarc.%s (in a zone file for %s: \"_dmarc\" or \"_dmarc.%s.\" with the trailing dot) and delete this one.", d.Domain, d.Domain, d.Domain),
			Refs:     []string{"RFC 9989 4.5", "RFC 9989 4.10"},
		})
	}
	return fs
}

// checkReportDestinations checks rua and ruf destinations outside the
// Organizational Domain for their authorisation record (RFC 9990 3, RFC
// 7489 7.1): <policy domain>._report._dmarc.<destination host> TXT with a
// record starting v=DMARC1.
func checkReportDestinations(ctx context.Context, r dnsx.Resolver, d *Discovery) ([]ReportDestination, []findings.Finding) {
	rec := d.Record
	var dests []ReportDestination
	hosts := []string{d.FoundAt}
	for _, tag := range []string{"rua", "ruf"} {
		list := rec.RUA
		if tag == "ruf" {
			list = rec.RUF
		}
		for _, u := range list {
			if u.Host == "" {
				continue
			}
			dests = append(dests, ReportDestination{Tag: tag, URI: u.Raw, Host: u.Host})
			hosts = append(hosts, u.Host)
		}
	}
	if len(dests) == 0 {
		return []ReportDestination{}, nil
	}
	orgs, orgErr := OrganizationalDomains(ctx, r, hosts...)
	policyOrg := orgs[d.FoundAt]
	var fs []findings.Finding
	var wg sync.WaitGroup
	for i := range dests {
		dst := &dests[i]
		hostOrg, ok := orgs[dst.Host]
		if !ok || policyOrg == "" {
			dst.External, dst.Authorized = true, AuthorizedUnknown
			if orgErr != nil {
				dst.Error = orgErr.Error()
			}
			continue
		}
		if hostOrg == policyOrg {
			continue
		}
		dst.External = true
		dst.AuthName = d.FoundAt + "._report._dmarc." + dst.Host
		if len(dst.AuthName) > 253 {
			dst.Authorized = AuthorizedNo
			dst.Error = "the authorisation name is longer than DNS allows"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Lookup(ctx, dst.AuthName, dns.TypeTXT)
			switch {
			case err != nil:
				dst.Authorized, dst.Error = AuthorizedUnknown, err.Error()
			case res.Offline:
				dst.Authorized = AuthorizedUnknown
				dst.Error = "not asked (--offline)"
			default:
				dst.Authorized = AuthorizedNo
				for _, t := range res.TXT() {
					if isDMARC(t) {
						dst.Authorized = AuthorizedYes
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, dst := range dests {
		switch {
		case dst.Authorized == AuthorizedNo:
			sev := findings.SeverityWarn
			fs = append(fs, findings.Finding{
				ID: "dmarc." + dst.Tag + "-not-authorized", Severity: sev,
				Title:    fmt.Sprintf("%s destination %s is in another organization and has not authorised reports for %s", dst.Tag, dst.Host, d.FoundAt),
				Detail:   fmt.Sprintf("Reports to a domain outside %s's organization are sent only if the destination publishes a TXT record starting v=DMARC1 at %s (RFC 9990 3; RFC 7489 7.1). Receivers ignore this destination until then, and its reports are lost.", d.FoundAt, dst.AuthName),
				Evidence: []string{fmt.Sprintf("_dmarc.%s TXT %q", d.FoundAt, d.Text), fmt.Sprintf("%s TXT: no v=DMARC1 record", dst.AuthName)},
				Fix:      fmt.Sprintf("Ask the operator of %s to publish %s TXT \"v=DMARC1\" (or *._report._dmarc.%s for all domains), or send reports to a mailbox under %s.", dst.Host, dst.AuthName, dst.Host, d.OrgDomain),
				Refs:     []string{"RFC 9990 3", "RFC 7489 7.1"},
			})
		case dst.Authorized == AuthorizedUnknown && dst.Error != "" && !strings.HasPrefix(dst.Error, "not asked"):
			f := dnsErrFinding("the report authorisation for "+dst.Host, errors.New(dst.Error))
			f.Severity = findings.SeverityError
			fs = append(fs, f)
		}
	}
	return dests, fs
}

func legacyTagFindings(rec *Record, at string, evRec []string, errs []*TagError) []findings.Finding {
	var fs []findings.Finding
	for _, e := range errs {
		fs = append(fs, findings.Finding{
			ID: "dmarc.legacy-tag", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s=%s at %s is malformed (%s); RFC 9989 removed %s, RFC 7489 receivers may reject the record", e.Tag, e.Value, at, e.Reason, e.Tag),
			Evidence: evRec,
			Fix:      fmt.Sprintf("Remove %s: \"%s\".", e.Tag, without(rec, e.Tag)),
			Refs:     []string{"RFC 9989 C.5.2", "RFC 7489 6.3"},
		})
	}
	if rec.Pct != nil {
		f := findings.Finding{
			ID: "dmarc.legacy-tag", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("pct=%d at %s is ignored by RFC 9989 receivers; an RFC 7489 receiver applies pct=%d", *rec.Pct, at, *rec.Pct),
			Detail:   "RFC 9989 removed pct (A.6, C.5.2). RFC 7489 receivers apply the policy to pct% of failing mail and the next weaker policy to the rest; RFC 9989 receivers apply it to all failing mail. Use t=y for testing instead.",
			Evidence: evRec,
			Fix:      fmt.Sprintf("Remove pct: \"%s\".", without(rec, "pct")),
			Refs:     []string{"RFC 9989 A.6", "RFC 9989 C.5.2", "RFC 7489 6.6.4"},
		}
		if *rec.Pct < 100 && rec.P() != PolicyNone {
			f.Severity = findings.SeverityWarn
			f.Detail += fmt.Sprintf(" Here %d%% of failing mail gets %s at RFC 7489 receivers and the rest %s, while RFC 9989 receivers apply %s to all of it.", *rec.Pct, rec.P(), rec.P().OneLevelDown(), rec.P())
			if *rec.Pct == 0 {
				f.Fix = fmt.Sprintf("If you meant \"test only\", replace pct=0 with t=y: \"%s\".", suggest(&Record{Tags: parseTagsOnly(without(rec, "pct"))}, "t", "y"))
			}
		}
		fs = append(fs, f)
	}
	for _, tag := range []string{"rf", "ri"} {
		if (tag == "rf" && len(rec.RF) > 0) || (tag == "ri" && rec.RI != nil) {
			fs = append(fs, findings.Finding{
				ID: "dmarc.legacy-tag", Severity: findings.SeverityInfo,
				Title:    fmt.Sprintf("%s at %s is ignored by RFC 9989 receivers (RFC 7489 receivers still read it)", tag, at),
				Detail:   "RFC 9989 removed rf (report format) and ri (report interval) (C.5.2); aggregate reports are daily and failure reports use RFC 9991's format.",
				Evidence: evRec,
				Fix:      fmt.Sprintf("Remove it when convenient: \"%s\".", without(rec, tag)),
				Refs:     []string{"RFC 9989 C.5.2", "RFC 7489 6.3"},
			})
		}
	}
	for _, list := range [][]URI{rec.RUA, rec.RUF} {
		for _, u := range list {
			if u.Size != "" {
				fs = append(fs, findings.Finding{
					ID: "dmarc.legacy-tag", Severity: findings.SeverityInfo,
					Title:    fmt.Sprintf("the size limit !%s on %s is ignored by RFC 9989 receivers (RFC 7489 receivers honour it)", u.Size, u.Raw),
					Evidence: evRec,
					Refs:     []string{"RFC 9989 4.8 (obs-dmarc-report-size)", "RFC 9989 C.4"},
				})
			}
		}
	}
	return fs
}

// parseTagsOnly re-reads a printed record's tags (for building fixes).
func parseTagsOnly(s string) []Tag {
	rec, _ := ParseRecord(s)
	if rec == nil {
		return nil
	}
	return rec.Tags
}

// legacyFindings reports, as info, where RFC 7489 receivers differ.
func legacyFindings(d *Discovery, lv *LegacyView) []findings.Finding {
	if lv.Err != nil {
		f := dnsErrFinding("the record RFC 7489 receivers use (_dmarc."+lv.OrgDomain+")", lv.Err)
		f.Severity = findings.SeverityInfo
		return []findings.Finding{f}
	}
	if len(lv.Differences) == 0 {
		return nil
	}
	sev := findings.SeverityInfo
	if lv.PolicyDomain == "" && d.FoundAt != "" {
		sev = findings.SeverityWarn // some receivers see no policy at all
	}
	return []findings.Finding{{
		ID: "dmarc.rfc7489-differs", Severity: sev,
		Title:    fmt.Sprintf("RFC 7489 receivers decide differently for %s (%d difference(s))", d.Domain, len(lv.Differences)),
		Detail:   "Receivers that implement only RFC 7489 find the Organizational Domain with the Public Suffix List, look for a record only at the domain and that Organizational Domain, honour pct, rf and ri, and ignore np, psd and t.",
		Evidence: lv.Differences,
		Fix:      "Publish an explicit record for every domain you send from, and use strict alignment if the two methods could disagree on Organizational Domains (RFC 9989 C.3).",
		Refs:     []string{"RFC 9989 C.3", "RFC 9989 C.5", "RFC 7489 3.2", "RFC 7489 6.6.3"},
	}}
}

// checkAlignability looks for SPF records at the domain and its
// Organizational Domain (one concurrent TXT lookup each, shared with the
// SPF check through the resolver's cache).
func checkAlignability(ctx context.Context, r dnsx.Resolver, d *Discovery) *Alignability {
	al := &Alignability{SPFDomains: []string{}, Checked: []string{d.Domain}}
	if d.OrgDomain != "" && d.OrgDomain != d.Domain {
		al.Checked = append(al.Checked, d.OrgDomain)
	}
	found := make([]bool, len(al.Checked))
	errs := make([]error, len(al.Checked))
	var wg sync.WaitGroup
	for i, n := range al.Checked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			txt, res, err := dnsx.LookupTXT(ctx, r, n)
			if err != nil {
				errs[i] = err
				return
			}
			if res.Offline {
				errs[i] = fmt.Errorf("%s: not asked (--offline)", n)
				return
			}
			for _, t := range txt {
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(t)), "v=spf1") && (len(strings.TrimSpace(t)) == 6 || strings.TrimSpace(t)[6] == ' ') {
					found[i] = true
				}
			}
		}()
	}
	wg.Wait()
	for i, n := range al.Checked {
		if found[i] {
			al.SPFDomains = append(al.SPFDomains, n)
		}
	}
	if err := errors.Join(errs...); err != nil && len(al.SPFDomains) == 0 {
		al.Error = err.Error()
	}
	return al
}

// alignabilityFindings (re)computes dmarc.cannot-align from what is known
// about SPF records and DKIM keys.
func (res *Analysis) alignabilityFindings() {
	kept := res.Findings[:0]
	for _, f := range res.Findings {
		if f.ID != "dmarc.cannot-align" {
			kept = append(kept, f)
		}
	}
	res.Findings = kept
	al, d := res.Alignability, res.Discovery
	if al == nil || al.Error != "" || len(al.SPFDomains) > 0 || d == nil || d.Record == nil || len(al.DKIMSelectors) > 0 {
		return
	}
	f := findings.Finding{
		ID: "dmarc.cannot-align", Severity: findings.SeverityWarn,
		Title:    fmt.Sprintf("no SPF record at %s: only DKIM can make mail from it pass DMARC", strings.Join(al.Checked, " or ")),
		Detail:   "DMARC passes when SPF or DKIM passes for a domain aligned with the From: domain. Without an SPF record in the organization, SPF cannot align unless the MAIL FROM uses another subdomain with its own SPF record; everything rests on DKIM signatures with d=" + d.OrgDomain + " or a subdomain (see the dkim check).",
		Evidence: []string{fmt.Sprintf("TXT %s: no v=spf1 record", strings.Join(al.Checked, ", "))},
		Fix:      fmt.Sprintf("Publish an SPF record listing your sending servers, e.g. \"v=spf1 mx -all\" at %s, and sign with DKIM as %s.", d.Domain, d.Domain),
		Refs:     []string{"RFC 9989 4.4", "RFC 9989 5.1.1", "RFC 9989 5.1.2", "RFC 7208"},
	}
	if al.DKIMChecked > 0 {
		f.Title = fmt.Sprintf("mail from %s cannot pass DMARC as published: no SPF record at %s and no DKIM key among %d selectors", d.Domain, strings.Join(al.Checked, " or "), al.DKIMChecked)
		f.Detail = "DMARC needs SPF or DKIM to pass for a domain aligned with the From: domain. There is no SPF record in the organization and no DKIM key at the selectors tried, so unless you sign with a selector not tried here, every message fails DMARC."
		f.Evidence = append(f.Evidence, fmt.Sprintf("DKIM: no key at %d selector(s) of %s (see the dkim check; give yours with --selector)", al.DKIMChecked, d.Domain))
		if p := d.Policy; d.Applies && p != PolicyNone {
			f.Detail += fmt.Sprintf(" With %s=%s that means: %s.", d.PolicyTag, p, map[Policy]string{PolicyReject: "bounces (" + strings.Join(RejectCodes(), ", ") + ")", PolicyQuarantine: "the spam folder"}[p])
			if p == PolicyReject {
				f.BounceCodes = RejectCodes()
			}
		}
	}
	res.Findings = append(res.Findings, f)
	sortFindings(res.Findings)
}

// AddDKIMKeys records which DKIM selectors of the domain hold a usable key
// (from the dkim check's discovery), so dmarc.cannot-align can say whether
// DKIM can align when SPF cannot. checked is the number of selectors tried.
func (res *Analysis) AddDKIMKeys(selectors []string, checked int) {
	if res.Alignability == nil || res.Offline {
		return
	}
	res.Alignability.DKIMSelectors = selectors
	res.Alignability.DKIMChecked = checked
	res.alignabilityFindings()
}

// AddSender attaches a sender evaluation and its findings.
func (res *Analysis) AddSender(se *SenderEvaluation) {
	res.Sender = se
	res.Findings = append(res.Findings, se.Findings...)
	sortFindings(res.Findings)
}

// CheckResult turns the analysis into the dmarc check's result.
func (res *Analysis) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: check, Data: res, Findings: res.Findings}
	for i := range cr.Findings {
		cr.Findings[i].Check = check
	}
	if res.Offline {
		cr.Status = findings.StatusSkip
		cr.Summary = "not checked: --offline and _dmarc." + res.Domain + " is in no --zone file"
		return cr
	}
	cr.Status = findings.StatusFromFindings(res.Findings)
	switch {
	case res.Err != nil && res.Record == "":
		cr.Summary = "could not be determined: DNS lookups failed"
	case res.Record == "":
		cr.Summary = "no DMARC record"
	case !res.Applies:
		cr.Summary = fmt.Sprintf("record at _dmarc.%s is ignored by receivers (no valid p, no valid rua)", res.FoundAt)
	default:
		s := fmt.Sprintf("p=%s", res.Policy)
		if res.PolicyTag != "p" {
			s = fmt.Sprintf("%s=%s", res.PolicyTag, res.Policy)
		}
		if res.Testing {
			s += " (t=y)"
		}
		where := "_dmarc." + res.FoundAt
		if res.FoundAt != res.Domain {
			where += " (inherited)"
		}
		cr.Summary = fmt.Sprintf("%s at %s; subdomains %s, non-existent %s; org domain %s", s, where, orEmpty(res.SubdomainPolicy), orEmpty(res.NonexistentPolicy), res.OrgDomain)
	}
	return cr
}

func orEmpty(p Policy) string {
	if p == "" {
		return "-"
	}
	return string(p)
}
