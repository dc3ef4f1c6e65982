package dmarc

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

// SenderArgs describe a message to evaluate: who sends it, from where.
type SenderArgs struct {
	From     string     // the RFC5322.From domain (Author Domain)
	IP       netip.Addr // the SMTP client's address
	MailFrom string     // the RFC5321.MailFrom address; empty: postmaster@From
	HELO     string     // the HELO/EHLO name (for SPF macros)
	// DKIMDomains are d= domains of DKIM signatures assumed to verify
	// (deliverdoctor cannot verify a signature without the message).
	DKIMDomains []string
}

// SPFOutcome is the SPF evaluation DMARC relies on: the MAIL FROM identity
// (RFC 9989 4.4.2).
type SPFOutcome struct {
	Domain    string `json:"domain"`
	Sender    string `json:"sender"`
	Result    string `json:"result"` // RFC 7208 result name
	Mechanism string `json:"mechanism,omitempty"`
	Error     string `json:"error,omitempty"`
}

// SenderEvaluation answers "would a message from this IP pass DMARC, and
// what happens if not".
type SenderEvaluation struct {
	IP       string     `json:"ip"`
	MailFrom string     `json:"mail_from"`
	From     string     `json:"from"`
	Result   Result     `json:"result"`
	SPF      SPFOutcome `json:"spf"`
	// DKIM are the --dkim-domain identifiers and whether each aligns.
	DKIM      []IdentifierAlignment `json:"dkim"`
	Alignment struct {
		SPF  *IdentifierAlignment  `json:"spf"`
		DKIM []IdentifierAlignment `json:"dkim"`
	} `json:"alignment"`
	RequestedPolicy Policy            `json:"requested_policy,omitempty"`
	PolicyTag       string            `json:"policy_tag,omitempty"`
	AppliedPolicy   Policy            `json:"applied_policy,omitempty"`
	Disposition     Disposition       `json:"disposition"`
	BounceCodes     []string          `json:"bounce_codes"`
	Receivers       []ReceiverOutcome `json:"receivers"`
	Explanation     string            `json:"explanation"`

	Findings []findings.Finding `json:"-"`
	fromOrg  string
}

// EvaluateSender runs SPF's check_host() for the MAIL FROM domain and the
// DMARC discovery and tree walks for every identifier, all concurrently,
// then aligns them and says what receivers do.
func EvaluateSender(ctx context.Context, r dnsx.Resolver, a SenderArgs) *SenderEvaluation {
	from := strings.TrimSuffix(strings.ToLower(a.From), ".")
	mailFrom := a.MailFrom
	if mailFrom == "" {
		mailFrom = "postmaster@" + from
	}
	spfDomain := mailFrom
	if at := strings.LastIndexByte(mailFrom, '@'); at >= 0 {
		spfDomain = mailFrom[at+1:]
	}
	spfDomain = strings.TrimSuffix(strings.ToLower(spfDomain), ".")
	se := &SenderEvaluation{IP: a.IP.String(), MailFrom: mailFrom, From: from, DKIM: []IdentifierAlignment{}, BounceCodes: []string{}, Receivers: []ReceiverOutcome{}}

	var (
		wg   sync.WaitGroup
		sev  *spf.Evaluation
		ev   *Evaluation
		eerr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sev = spf.CheckHost(ctx, r, spf.Args{IP: a.IP, Domain: spfDomain, Sender: mailFrom, HELO: a.HELO})
	}()
	// Discovery and organizational-domain walks do not depend on SPF's
	// result: start them now, align when both are done.
	orgsCh := make(chan struct {
		orgs map[string]string
		err  error
	}, 1)
	go func() {
		orgs, err := OrganizationalDomains(ctx, r, append([]string{spfDomain}, a.DKIMDomains...)...)
		orgsCh <- struct {
			orgs map[string]string
			err  error
		}{orgs, err}
	}()
	d, derr := Lookup(ctx, r, from)
	o := <-orgsCh
	wg.Wait()
	se.SPF = SPFOutcome{Domain: spfDomain, Sender: mailFrom, Result: string(sev.Result), Mechanism: sev.Mechanism}
	if sev.Err != nil {
		se.SPF.Error = sev.Err.Error()
	}
	if d == nil {
		se.Result, se.Disposition = ResultTempError, DispositionUnknown
		se.Explanation = "the From: domain could not be looked up: " + derr.Error()
		se.Findings = append(se.Findings, dnsErrFinding("the DMARC record of "+from, derr))
		return se
	}
	eerr = derr
	if eerr == nil && o.err != nil {
		eerr = o.err
		d.Err = o.err
	}
	orgs := o.orgs
	orgs[d.Domain] = d.OrgDomain
	al := alignIdentifiers(d.Domain, spfDomain, sev.Result == spf.ResultPass, a.DKIMDomains, d.Record, func(s string) string { return orgs[s] })
	ev = &Evaluation{Discovery: d, Alignment: al, Verdict: decideVerdict(d, al)}
	v := ev.Verdict
	if sev.Result == spf.ResultTemperror && v.Result != ResultPass {
		// The SPF answer could not be had: nor can DMARC's (RFC 9989 5.3.6).
		v.Result, v.Disposition = ResultTempError, DispositionUnknown
		v.BounceCodes = []string{}
		v.Explanation = "SPF could not be evaluated (temperror), so the DMARC result is unknown; receivers defer the message (4xx) or deliver it"
	}
	se.Result = v.Result
	se.fromOrg = al.FromOrgDomain
	se.DKIM = al.DKIM
	se.Alignment.SPF, se.Alignment.DKIM = al.SPF, al.DKIM
	se.RequestedPolicy, se.PolicyTag, se.AppliedPolicy = v.RequestedPolicy, v.PolicyTag, v.AppliedPolicy
	se.Disposition, se.BounceCodes, se.Receivers, se.Explanation = v.Disposition, v.BounceCodes, v.Receivers, v.Explanation
	se.Findings = senderFindings(se, d, sev, eerr)
	return se
}

func senderFindings(se *SenderEvaluation, d *Discovery, sev *spf.Evaluation, err error) []findings.Finding {
	var ev []string
	ev = append(ev, fmt.Sprintf("SPF for MAIL FROM %s from %s: %s%s", se.MailFrom, se.IP, sev.Result, mechSuffix(sev)))
	if se.Alignment.SPF != nil {
		ev = append(ev, "SPF alignment: "+se.Alignment.SPF.Reason)
	}
	for _, k := range se.DKIM {
		ev = append(ev, "DKIM d="+k.Domain+" (assumed valid): "+k.Reason)
	}
	if len(se.DKIM) == 0 {
		ev = append(ev, "DKIM: no --dkim-domain given, so no DKIM identifier was considered")
	}
	if d.Record != nil {
		ev = append(ev, fmt.Sprintf("policy: %s=%s at _dmarc.%s%s", se.PolicyTag, se.RequestedPolicy, d.FoundAt, map[bool]string{true: " (t=y)", false: ""}[d.Testing]))
	}
	for _, r := range se.Receivers {
		line := fmt.Sprintf("%s: %s", r.Receiver, r.Outcome)
		if r.Reply != "" {
			line += " — " + r.Reply
		}
		ev = append(ev, line)
	}
	switch se.Result {
	case ResultTempError:
		what := "DMARC lookups"
		if err == nil {
			err = sev.Err
			what = "SPF for " + se.SPF.Domain
		}
		f := dnsErrFinding(what, err)
		f.Title = fmt.Sprintf("the DMARC result for mail from %s cannot be determined: %s failed", se.IP, what)
		f.Evidence = ev
		return []findings.Finding{f}
	case ResultPass:
		return []findings.Finding{{
			ID: "dmarc.pass", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("mail from %s with MAIL FROM %s and From: %s passes DMARC", se.IP, se.MailFrom, se.From),
			Detail:   se.Explanation,
			Evidence: ev,
			Refs:     []string{"RFC 9989 4.4", "RFC 9989 5.3.5"},
		}}
	case ResultNone:
		return nil // the lint's dmarc.no-record says it
	}
	f := findings.Finding{
		ID:       "dmarc.not-aligned",
		Title:    fmt.Sprintf("mail from %s with MAIL FROM %s and From: %s fails DMARC: %s", se.IP, se.MailFrom, se.From, failWhy(se, sev)),
		Detail:   se.Explanation + ".",
		Evidence: ev,
		Refs:     []string{"RFC 9989 4.4", "RFC 9989 5.3.5", "RFC 9989 5.3.6"},
	}
	switch se.AppliedPolicy {
	case PolicyReject:
		f.Severity, f.BounceCodes = findings.SeverityFail, se.BounceCodes
	case PolicyQuarantine:
		f.Severity = findings.SeverityFail
	default:
		f.Severity, f.BounceCodes = findings.SeverityWarn, se.BounceCodes
	}
	f.Fix = fixFor(se, sev)
	return []findings.Finding{f}
}

func mechSuffix(sev *spf.Evaluation) string {
	switch {
	case sev.Mechanism != "":
		return " (" + sev.Mechanism + ")"
	case sev.Err != nil:
		return " (" + sev.Err.Error() + ")"
	}
	return ""
}

func failWhy(se *SenderEvaluation, sev *spf.Evaluation) string {
	var parts []string
	switch {
	case se.Alignment.SPF == nil:
	case !se.Alignment.SPF.Authenticated:
		parts = append(parts, fmt.Sprintf("SPF %s for %s", sev.Result, se.SPF.Domain))
	case !se.Alignment.SPF.Aligned:
		parts = append(parts, fmt.Sprintf("SPF passes for %s but it is not aligned", se.SPF.Domain))
	}
	if len(se.DKIM) == 0 {
		parts = append(parts, "no DKIM signature")
	} else {
		parts = append(parts, "no aligned DKIM signature")
	}
	return strings.Join(parts, ", ")
}

func fixFor(se *SenderEvaluation, sev *spf.Evaluation) string {
	var fix []string
	if s := se.Alignment.SPF; s != nil {
		alignedDomain := s.Identical || (s.OrgDomain != "" && s.OrgDomain == orgOf(se)) && s.Mode == AlignRelaxed
		switch {
		case !s.Authenticated && alignedDomain:
			fix = append(fix, fmt.Sprintf("authorise %s in the SPF record of %s (e.g. ip4:%s, or your provider's include:)", se.IP, se.SPF.Domain, se.IP))
		case !s.Aligned:
			fix = append(fix, fmt.Sprintf("send with a MAIL FROM (Return-Path) under %s, e.g. bounce@%s, whose SPF record authorises %s", se.From, se.From, se.IP))
		}
	}
	fix = append(fix, fmt.Sprintf("sign with DKIM as d=%s (or a subdomain, under relaxed alignment)", se.From))
	return "Make at least one identifier pass and align: " + strings.Join(fix, "; or ") + "."
}

func orgOf(se *SenderEvaluation) string {
	if se.fromOrg != "" {
		return se.fromOrg
	}
	return se.From
}
