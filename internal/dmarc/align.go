package dmarc

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Result is the DMARC result of a message (RFC 9989 5.3.5, and the
// Authentication-Results names of RFC 8601).
type Result string

// DMARC results.
const (
	ResultPass      Result = "pass"      // an authenticated identifier aligns
	ResultFail      Result = "fail"      // none aligns
	ResultNone      Result = "none"      // no DMARC Policy Record applies
	ResultTempError Result = "temperror" // a DNS lookup did not complete (5.3.6)
)

// IdentifierAlignment is how one authenticated identifier relates to the
// Author Domain (RFC 9989 4.4, 4.10.2).
type IdentifierAlignment struct {
	Domain        string        `json:"domain"`
	Authenticated bool          `json:"authenticated"` // SPF pass / DKIM signature valid
	Mode          AlignmentMode `json:"mode"`          // the record's aspf / adkim
	Aligned       bool          `json:"aligned"`
	Identical     bool          `json:"identical"` // same domain: aligned in either mode
	OrgDomain     string        `json:"org_domain,omitempty"`
	Reason        string        `json:"reason"`
}

// Alignment is Identifier Alignment for one message: SPF's and every DKIM
// identifier's relation to the From: domain, and the DMARC result.
type Alignment struct {
	From          string                `json:"from"`
	FromOrgDomain string                `json:"from_org_domain,omitempty"`
	SPF           *IdentifierAlignment  `json:"spf,omitempty"`
	DKIM          []IdentifierAlignment `json:"dkim"`
	Result        Result                `json:"result"`
}

// alignIdentifiers computes Identifier Alignment and the DMARC result (RFC 9989 4.4,
// 5.3.4, 5.3.5). It does no DNS: give it
//   - from: the RFC5322.From domain (Author Domain);
//   - spfDomain and spfPass: the domain SPF evaluated (the MAIL FROM domain)
//     and whether the SPF result was pass ("" when SPF was not checked);
//   - dkimDomains: the d= domains of DKIM signatures that verified;
//   - rec: the DMARC Policy Record that applies to from (Discovery.Record),
//     for its adkim/aspf modes; nil means none applies and the result is
//     none (alignment is still computed, in relaxed mode);
//   - orgDomain: the Organizational Domain of a name, which RFC 9989
//     determines by the DNS Tree Walk: compute the ones you need with
//     OrganizationalDomains (or take Discovery.OrgDomain for from) and pass
//     a map lookup. nil, or "" for a name, leaves only identical domains
//     aligned.
//
// The message passes when any authenticated identifier aligns.
func alignIdentifiers(from, spfDomain string, spfPass bool, dkimDomains []string, rec *Record, orgDomain func(string) string) *Alignment {
	norm := func(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }
	from = norm(from)
	org := func(d string) string {
		if orgDomain == nil || d == "" {
			return ""
		}
		return norm(orgDomain(d))
	}
	a := &Alignment{From: from, FromOrgDomain: org(from), DKIM: []IdentifierAlignment{}}
	aspf, adkim := AlignRelaxed, AlignRelaxed
	if rec != nil {
		aspf, adkim = rec.ASPFMode(), rec.ADKIMMode()
	}
	one := func(kind, domain string, authenticated bool, mode AlignmentMode) IdentifierAlignment {
		ia := IdentifierAlignment{Domain: norm(domain), Authenticated: authenticated, Mode: mode}
		ia.Identical = ia.Domain != "" && ia.Domain == from
		if ia.Domain != "" && !ia.Identical {
			ia.OrgDomain = org(ia.Domain)
		}
		switch {
		case !authenticated:
			ia.Reason = fmt.Sprintf("%s did not pass, so it cannot align", kind)
		case ia.Identical:
			ia.Aligned = true
			ia.Reason = fmt.Sprintf("%s domain %s is the From: domain (strict and relaxed alignment)", kind, ia.Domain)
		case mode == AlignStrict:
			ia.Reason = fmt.Sprintf("%s domain %s differs from the From: domain %s, and the record asks for strict alignment (a%s=s)", kind, ia.Domain, from, strings.ToLower(kind[:min(len(kind), 4)]))
		case a.FromOrgDomain == "" || ia.OrgDomain == "":
			ia.Reason = fmt.Sprintf("%s domain %s differs from %s and their Organizational Domains are unknown", kind, ia.Domain, from)
		case ia.OrgDomain == a.FromOrgDomain:
			ia.Aligned = true
			ia.Reason = fmt.Sprintf("%s domain %s and %s share the Organizational Domain %s (relaxed alignment)", kind, ia.Domain, from, ia.OrgDomain)
		default:
			ia.Reason = fmt.Sprintf("%s domain %s (Organizational Domain %s) is not in the organization of %s (%s)", kind, ia.Domain, ia.OrgDomain, from, a.FromOrgDomain)
		}
		return ia
	}
	pass := false
	if spfDomain != "" {
		s := one("SPF", spfDomain, spfPass, aspf)
		a.SPF = &s
		pass = pass || s.Aligned
	}
	for _, d := range dkimDomains {
		k := one("DKIM", d, true, adkim)
		a.DKIM = append(a.DKIM, k)
		pass = pass || k.Aligned
	}
	switch {
	case rec == nil || !rec.Applies():
		a.Result = ResultNone
	case pass:
		a.Result = ResultPass
	default:
		a.Result = ResultFail
	}
	return a
}

// Disposition says what happens to a message.
type Disposition string

// Dispositions.
const (
	DispositionDeliver    Disposition = "delivered"   // accepted (other filters still apply)
	DispositionQuarantine Disposition = "spam folder" // quarantine: spam/junk folder
	DispositionReject     Disposition = "bounce"      // reject: SMTP 5xy, the sender gets a bounce
	DispositionUnknown    Disposition = "unknown"     // DNS failed: receivers defer (4xy) or deliver
)

// ReceiverOutcome is what one large mailbox provider does with the message.
type ReceiverOutcome struct {
	Receiver string `json:"receiver"`
	Outcome  string `json:"outcome"`
	Code     string `json:"code,omitempty"`
	Reply    string `json:"reply,omitempty"`
}

// Verdict is the consequence of a DMARC result: the policy applied and
// what receivers do (RFC 9989 5.3.6, 4.7 tag t).
type Verdict struct {
	Result Result `json:"result"`
	// RequestedPolicy is the Domain Owner Assessment Policy for the From:
	// domain (p, sp or np per PolicyTag); AppliedPolicy is what a receiver
	// honouring it applies to a failing message (one level lower with t=y,
	// RFC 9989 4.7).
	RequestedPolicy Policy            `json:"requested_policy,omitempty"`
	PolicyTag       string            `json:"policy_tag,omitempty"`
	AppliedPolicy   Policy            `json:"applied_policy,omitempty"`
	Disposition     Disposition       `json:"disposition"`
	BounceCodes     []string          `json:"bounce_codes"`
	Receivers       []ReceiverOutcome `json:"receivers"`
	Explanation     string            `json:"explanation"`
}

// decideVerdict turns a discovery and an alignment into the receiver's decision.
// Receivers may override policy (RFC 9989 5.4); this is what they do when
// they honour it, which the large providers do.
func decideVerdict(d *Discovery, a *Alignment) *Verdict {
	v := &Verdict{Result: a.Result, BounceCodes: []string{}, Receivers: []ReceiverOutcome{}}
	if d != nil && d.Err != nil {
		v.Result = ResultTempError
	}
	if d != nil && d.Record != nil {
		v.RequestedPolicy, v.PolicyTag = d.Policy, d.PolicyTag
		v.AppliedPolicy = d.Policy
		if d.Testing {
			v.AppliedPolicy = d.Policy.OneLevelDown()
		}
	}
	rs := receivers()
	switch v.Result {
	case ResultTempError:
		v.Disposition = DispositionUnknown
		v.Explanation = "the DMARC lookups did not complete; receivers either defer the message with a 4xx reply and retry, or deliver it (RFC 9989 5.3.6)"
	case ResultPass:
		v.Disposition = DispositionDeliver
		v.Explanation = "DMARC passes: an authenticated identifier aligns with the From: domain"
		for _, r := range rs {
			v.Receivers = append(v.Receivers, ReceiverOutcome{Receiver: r.Name, Outcome: "delivered (DMARC pass)"})
		}
	case ResultNone:
		v.Disposition = DispositionDeliver
		v.Explanation = "no DMARC policy applies, so DMARC does not affect delivery; but Gmail, Yahoo and Microsoft refuse bulk mail from domains without DMARC"
		for _, r := range rs {
			v.Receivers = append(v.Receivers, ReceiverOutcome{Receiver: r.Name, Outcome: "delivered if a low-volume sender; bulk senders are refused", Code: r.Bulk.Code, Reply: r.Bulk.Reply})
			v.BounceCodes = addCode(v.BounceCodes, r.Bulk.Code)
		}
	default: // fail
		switch v.AppliedPolicy {
		case PolicyReject:
			v.Disposition = DispositionReject
			v.Explanation = "DMARC fails and the policy is reject: receivers refuse the message during the SMTP session and the sender gets a bounce"
			for _, r := range rs {
				v.Receivers = append(v.Receivers, ReceiverOutcome{Receiver: r.Name, Outcome: "rejected", Code: r.Reject.Code, Reply: r.Reject.Reply})
				v.BounceCodes = addCode(v.BounceCodes, r.Reject.Code)
			}
		case PolicyQuarantine:
			v.Disposition = DispositionQuarantine
			v.Explanation = "DMARC fails and the policy is quarantine: receivers accept the message but file it as spam"
			for _, r := range rs {
				v.Receivers = append(v.Receivers, ReceiverOutcome{Receiver: r.Name, Outcome: "delivered to the " + r.Quarantine})
			}
		default:
			v.Disposition = DispositionDeliver
			v.Explanation = "DMARC fails but the policy is none: receivers deliver as they would without DMARC; bulk senders must pass DMARC at Gmail, Yahoo and Microsoft"
			for _, r := range rs {
				v.Receivers = append(v.Receivers, ReceiverOutcome{Receiver: r.Name, Outcome: "delivered if a low-volume sender; bulk senders are refused", Code: r.Bulk.Code, Reply: r.Bulk.Reply})
				v.BounceCodes = addCode(v.BounceCodes, r.Bulk.Code)
			}
		}
		if d != nil && d.Testing && v.RequestedPolicy != v.AppliedPolicy {
			v.Explanation += fmt.Sprintf(" (the record asks for %s but has t=y, so receivers apply %s)", v.RequestedPolicy, v.AppliedPolicy)
		}
	}
	if d != nil {
		for i := range v.Receivers {
			v.Receivers[i].Reply = strings.ReplaceAll(v.Receivers[i].Reply, "DOMAIN", d.Domain)
		}
	}
	return v
}

func addCode(codes []string, c string) []string {
	for _, x := range codes {
		if x == c {
			return codes
		}
	}
	return append(codes, c)
}

// Evaluation is a full DMARC evaluation of one message: discovery for the
// From: domain, alignment and the receivers' decision.
type Evaluation struct {
	Discovery *Discovery `json:"-"`
	Alignment *Alignment `json:"alignment"`
	Verdict   *Verdict   `json:"verdict"`
}

// Evaluate discovers the policy of from, determines the Organizational
// Domains of from, spfDomain and the dkimDomains by tree walks (all
// concurrently), and returns alignment and verdict. spfPass says whether
// SPF passed for spfDomain; dkimDomains are the d= domains of valid DKIM
// signatures. A DNS failure gives result temperror and is returned as the
// error too.
func Evaluate(ctx context.Context, r dnsx.Resolver, from, spfDomain string, spfPass bool, dkimDomains []string) (*Evaluation, error) {
	var (
		wg     sync.WaitGroup
		orgs   map[string]string
		orgErr error
	)
	others := append([]string{spfDomain}, dkimDomains...)
	wg.Add(1)
	go func() {
		defer wg.Done()
		orgs, orgErr = OrganizationalDomains(ctx, r, others...)
	}()
	d, err := Lookup(ctx, r, from)
	wg.Wait()
	if d == nil {
		return nil, err
	}
	if err == nil && orgErr != nil {
		err = orgErr
		d.Err = orgErr
	}
	orgs[d.Domain] = d.OrgDomain
	a := alignIdentifiers(d.Domain, spfDomain, spfPass, dkimDomains, d.Record, func(s string) string { return orgs[s] })
	return &Evaluation{Discovery: d, Alignment: a, Verdict: decideVerdict(d, a)}, err
}

//go:embed receivers.json
var receiversJSON []byte

type receiverData struct {
	Name       string `json:"name"`
	Mailboxes  string `json:"mailboxes"`
	Reject     reply  `json:"reject"`
	Quarantine string `json:"quarantine"`
	Bulk       reply  `json:"bulk_unauthenticated"`
}

type reply struct {
	Code      string `json:"code"`
	Reply     string `json:"reply"`
	AppliesTo string `json:"applies_to,omitempty"`
}

var receiversOnce = sync.OnceValue(func() []receiverData {
	var doc struct {
		Receivers []receiverData `json:"receivers"`
	}
	if err := json.Unmarshal(receiversJSON, &doc); err != nil {
		panic("dmarc: receivers.json: " + err.Error())
	}
	return doc.Receivers
})

func receivers() []receiverData { return receiversOnce() }

// RejectCodes are the enhanced status codes a DMARC reject produces at the
// large receivers, most specific first: Microsoft 5.7.509, Gmail 5.7.26,
// Yahoo 5.7.9.
func RejectCodes() []string {
	var out []string
	for _, r := range receivers() {
		out = addCode(out, r.Reject.Code)
	}
	return out
}

// BulkCodes are the codes the large receivers use to refuse bulk mail that
// lacks DMARC or fails it: Microsoft 5.7.515, Gmail 5.7.26, Yahoo 5.7.9.
func BulkCodes() []string {
	var out []string
	for _, r := range receivers() {
		out = addCode(out, r.Bulk.Code)
	}
	return out
}

// receiverEvidence lists, per receiver, what a kind of failure looks like.
func receiverEvidence(kind, domain string) []string {
	var out []string
	for _, r := range receivers() {
		var rp reply
		switch kind {
		case "reject":
			rp = r.Reject
		case "bulk":
			rp = r.Bulk
		case "quarantine":
			out = append(out, fmt.Sprintf("%s: delivered to the %s", r.Name, r.Quarantine))
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s): %s", r.Name, r.Mailboxes, strings.ReplaceAll(rp.Reply, "DOMAIN", domain)))
	}
	return out
}

// ReceiverReply is a receiver's SMTP reply and enhanced code.
type ReceiverReply struct{ Code, Reply string }

// ReceiverRule is one large receiver's replies: to a DMARC reject, and to
// bulk mail without the authentication it requires (DOMAIN stands for the
// From: domain).
type ReceiverRule struct {
	Name         string
	Reject, Bulk ReceiverReply
}

// ReceiverRules returns the receivers' replies (receivers.json).
func ReceiverRules() []ReceiverRule {
	var out []ReceiverRule
	for _, r := range receivers() {
		out = append(out, ReceiverRule{Name: r.Name, Reject: ReceiverReply{r.Reject.Code, r.Reject.Reply}, Bulk: ReceiverReply{r.Bulk.Code, r.Bulk.Reply}})
	}
	return out
}

// Status is what a DMARC result means for the sender: pass, fail, a
// warning for none (no policy), an error for temperror.
func (r Result) Status() findings.Status {
	switch r {
	case ResultPass:
		return findings.StatusPass
	case ResultTempError:
		return findings.StatusError
	case ResultNone:
		return findings.StatusWarn
	}
	return findings.StatusFail
}
