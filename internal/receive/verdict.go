package receive

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/headers"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

// Outcomes of a verdict.
const (
	OutcomeAccept = "accept" // delivered to the inbox (other filters still apply)
	OutcomeSpam   = "spam"   // accepted, filed in the spam/junk folder
	OutcomeReject = "reject" // refused in the SMTP session (Temporary: 4xx)
)

// Verdict is what one provider would do with the message.
type Verdict struct {
	Provider string `json:"provider"` // gmail, yahoo, microsoft
	Outcome  string `json:"outcome"`
	// Codes are the enhanced status codes of the reply, most specific
	// first (empty unless rejected).
	Codes []string `json:"codes"`
	// Reply is the SMTP reply the provider sends, as its bounces show it.
	Reply     string `json:"reply,omitempty"`
	SMTPCode  int    `json:"smtp_code,omitempty"`
	Temporary bool   `json:"temporary,omitempty"`
	// Meaning is the knowledge base's explanation of the first code.
	Meaning string `json:"meaning,omitempty"`
	// Reasons are the checks and findings that decided, worst first.
	Reasons []Reason `json:"reasons"`
}

// Reason ties a verdict to a check and one of its findings.
type Reason struct {
	Check   string `json:"check"`
	Finding string `json:"finding,omitempty"`
	Text    string `json:"text"`
	Outcome string `json:"outcome"`
	// Fix is the finding's fix (or the check's first fix), so a verdict
	// says what to change.
	Fix string `json:"fix,omitempty"`
}

// profile is one provider's receiving rules, as their sender guidelines
// and real bounces state them (sources in docs/receive.md).
type profile struct {
	ID, Name string
	// MaxSize is the largest message accepted, in bytes (about: encoding
	// overhead counts).
	MaxSize int
	// dmarcName is the provider's name in internal/dmarc's receivers.
	dmarcName string
}

var profiles = []profile{
	{ID: "gmail", Name: "Gmail", MaxSize: 50 << 20, dmarcName: "Gmail"},
	{ID: "yahoo", Name: "Yahoo", MaxSize: 39 << 20, dmarcName: "Yahoo"},
	{ID: "microsoft", Name: "Microsoft", MaxSize: 25 << 20, dmarcName: "Microsoft"},
}

// Providers are the ids --mimic accepts.
func Providers() []string {
	var out []string
	for _, p := range profiles {
		out = append(out, p.ID)
	}
	return out
}

// facts are what the rules look at, gathered once from the report.
type facts struct {
	from        string // From domain
	fromProblem string // finding id of a From problem
	noMsgID     bool
	size        int
	bulk        bool
	oneClick    string // finding id when bulk without one-click unsubscribe
	spf         spf.Result
	dkimPass    bool
	dmarc       *dmarc.Verdict
	ptrFinding  string // ptr.missing / ptr.not-fcrdns
	ipListed    []string
	linkListed  bool
	ip          string
}

func gather(rep *Report, a *headers.Analysis) facts {
	f := facts{from: a.FromDomain, size: rep.Message.Size, bulk: rep.Message.Bulk, ip: rep.Envelope.ClientIP}
	if a.SPF != nil {
		f.spf = a.SPF.Result
	}
	f.dkimPass = a.DKIM != nil && len(a.DKIM.Passing()) > 0
	if a.DMARC != nil {
		f.dmarc = a.DMARC.Verdict
	}
	for _, fd := range rep.Findings {
		switch fd.ID {
		case "bulk.no-from", "bulk.several-from", "bulk.bad-from":
			if fd.Severity == findings.SeverityFail && f.fromProblem == "" {
				f.fromProblem = fd.ID
			}
		case "bulk.no-message-id":
			f.noMsgID = true
		case "bulk.no-list-unsubscribe", "bulk.no-one-click":
			f.oneClick = fd.ID
		case "ptr.missing", "ptr.not-fcrdns":
			f.ptrFinding = fd.ID
		}
	}
	f.ipListed = listedIP(rep)
	for _, c := range rep.Checks {
		if d, ok := c.Data.(*RBLData); ok && c.Name == "rbl" {
			for _, l := range d.Links {
				if l != nil && l.Counts.Listed > 0 {
					f.linkListed = true
				}
			}
		}
	}
	return f
}

// decide runs every provider's rules.
func decide(rep *Report, a *headers.Analysis) []Verdict {
	f := gather(rep, a)
	out := make([]Verdict, 0, len(profiles))
	for _, pr := range profiles {
		v := judge(pr, f)
		for i := range v.Reasons {
			v.Reasons[i].Fix = fixFor(rep.Findings, v.Reasons[i])
		}
		out = append(out, v)
	}
	return out
}

// fixFor finds the fix of the reason's finding, else of the first finding
// of its check that has one.
func fixFor(fs []findings.Finding, r Reason) string {
	for _, f := range fs {
		if r.Finding != "" && f.ID == r.Finding && f.Fix != "" {
			return f.Fix
		}
	}
	for _, f := range fs {
		if f.Check == r.Check && f.Fix != "" && f.Severity != findings.SeverityInfo {
			return f.Fix
		}
	}
	return ""
}

// judge applies one provider's rules. The first reject decides the reply;
// every rule that fired is a reason.
func judge(pr profile, f facts) Verdict {
	v := Verdict{Provider: pr.ID, Outcome: OutcomeAccept, Codes: []string{}, Reasons: []Reason{}}
	rank := map[string]int{OutcomeAccept: 0, OutcomeSpam: 1, OutcomeReject: 2}
	add := func(outcome, check, finding, text, reply string) {
		v.Reasons = append(v.Reasons, Reason{Check: check, Finding: finding, Text: text, Outcome: outcome})
		if rank[outcome] > rank[v.Outcome] {
			v.Outcome = outcome
			if outcome == OutcomeReject {
				v.Reply = strings.ReplaceAll(strings.ReplaceAll(reply, "DOMAIN", f.from), "{ip}", f.ip)
			}
		}
	}
	dmarcReply := func(kind string) string {
		for _, r := range dmarc.ReceiverRules() {
			if r.Name == pr.dmarcName {
				if kind == "reject" {
					return r.Reject.Reply
				}
				return r.Bulk.Reply
			}
		}
		return ""
	}

	// RFC 5322 basics: a message without one usable From cannot be
	// authenticated at all.
	if f.fromProblem != "" {
		switch pr.ID {
		case "gmail":
			add(OutcomeReject, "bulk", f.fromProblem, "no single valid From: address", "550-5.7.1 Messages missing a valid address in From: header, or having no From: header, are not accepted.")
		case "microsoft":
			add(OutcomeReject, "bulk", f.fromProblem, "no single valid From: address", "550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant and include a valid From address.")
		default:
			add(OutcomeReject, "bulk", f.fromProblem, "no single valid From: address", "554 5.7.9 Message not accepted for policy reasons.")
		}
	}
	if pr.MaxSize > 0 && f.size > pr.MaxSize {
		add(OutcomeReject, "bulk", "bulk.too-large", fmt.Sprintf("larger than %s's limit", pr.Name), "552-5.3.4 Your message exceeded the message size limits.")
	}
	spfPass := f.spf == spf.ResultPass
	if d := f.dmarc; d != nil {
		switch {
		case d.Result == dmarc.ResultTempError:
			add(OutcomeReject, "dmarc", "dmarc.temperror", "the DMARC result could not be determined (DNS failure): the message is deferred",
				"451 4.7.0 Temporary failure evaluating the sender's authentication; try again later.")
		case d.Result == dmarc.ResultFail && d.AppliedPolicy == dmarc.PolicyReject:
			add(OutcomeReject, "dmarc", "dmarc.message-fail", "DMARC fails and the policy is reject", dmarcReply("reject"))
		case d.Result == dmarc.ResultFail && d.AppliedPolicy == dmarc.PolicyQuarantine:
			add(OutcomeSpam, "dmarc", "dmarc.message-fail", "DMARC fails and the policy is quarantine", "")
		}
	}
	// All senders must authenticate with SPF or DKIM (Gmail since 2022,
	// Yahoo 2024); Microsoft files unauthenticated mail as junk.
	if !spfPass && !f.dkimPass {
		switch pr.ID {
		case "gmail":
			add(OutcomeReject, "dkim", "", "neither SPF nor DKIM passes",
				"550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked. The sender must authenticate with at least one of SPF or DKIM.")
		case "yahoo":
			add(OutcomeReject, "dkim", "", "neither SPF nor DKIM passes", dmarcReply("bulk"))
		default:
			add(OutcomeSpam, "dkim", "", "neither SPF nor DKIM passes", "")
		}
	}
	if f.bulk {
		var missing []string
		if !spfPass {
			missing = append(missing, "SPF does not pass")
		}
		if !f.dkimPass {
			missing = append(missing, "DKIM does not pass")
		}
		switch {
		case f.dmarc == nil || f.dmarc.Result == dmarc.ResultNone:
			missing = append(missing, "no DMARC record")
		case f.dmarc.Result == dmarc.ResultFail:
			missing = append(missing, "DMARC does not pass")
		}
		if len(missing) > 0 {
			add(OutcomeReject, "dmarc", "", "bulk mail must pass SPF and DKIM and DMARC: "+strings.Join(missing, ", "), dmarcReply("bulk"))
		}
		if f.oneClick != "" && pr.ID != "microsoft" {
			add(OutcomeSpam, "bulk", f.oneClick, "bulk mail without one-click unsubscribe (RFC 8058)", "")
		}
	}
	if f.ptrFinding != "" {
		if pr.ID == "gmail" {
			add(OutcomeReject, "ptr", f.ptrFinding, "the client IP has no forward-confirmed reverse DNS",
				"550-5.7.25 The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP. As a policy, Gmail does not accept messages from IPs with missing PTR records.")
		} else {
			add(OutcomeSpam, "ptr", f.ptrFinding, "the client IP has no forward-confirmed reverse DNS", "")
		}
	}
	if len(f.ipListed) > 0 {
		lists := strings.Join(f.ipListed, ", ")
		switch pr.ID {
		case "microsoft":
			add(OutcomeReject, "rbl", "", "the client IP is on "+lists, "550 5.7.1 Service unavailable, Client host [{ip}] blocked using "+f.ipListed[0])
		case "yahoo":
			add(OutcomeReject, "rbl", "", "the client IP is on "+lists, "553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in "+f.ipListed[0])
		default:
			add(OutcomeSpam, "rbl", "", "the client IP is on "+lists, "")
		}
	}
	if f.linkListed {
		add(OutcomeSpam, "rbl", "", "a link domain is on a domain blocklist", "")
	}
	if f.noMsgID && pr.ID == "gmail" {
		add(OutcomeReject, "bulk", "bulk.no-message-id", "no Message-ID", "550-5.7.1 Messages missing a valid Message-ID header are not accepted.")
	}
	// Rejects first, then spam, then the rest, stable.
	slices.SortStableFunc(v.Reasons, func(x, y Reason) int { return rank[y.Outcome] - rank[x.Outcome] })
	if v.Outcome == OutcomeReject {
		v.SMTPCode, v.Codes = parseReply(v.Reply)
		v.Temporary = v.SMTPCode/100 == 4
		if len(v.Codes) > 0 {
			if e, ok := bounce.Lookup(v.Codes[0], pr.ID); ok {
				v.Meaning = e.Meaning
			}
		}
	}
	return v
}

// parseReply splits "550-5.7.26 text" into 550 and ["5.7.26"].
func parseReply(reply string) (int, []string) {
	if len(reply) < 4 {
		return 0, []string{}
	}
	code, _ := strconv.Atoi(reply[:3])
	rest := strings.TrimLeft(reply[3:], " -")
	enh, _, _ := strings.Cut(rest, " ")
	if _, err := bounce.ParseCode(enh); err != nil {
		return code, []string{}
	}
	return code, []string{enh}
}
