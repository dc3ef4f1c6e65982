package headers

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

// Seen is what the receiver recorded for one method.
type Seen struct {
	Result string `json:"result"`
	Source string `json:"source"` // "Received-SPF" or "Authentication-Results <authserv-id>"
	// Detail: the identity or policy the receiver named (smtp.mailfrom,
	// header.d/header.s, p=REJECT).
	Detail string `json:"detail,omitempty"`
}

// SPFData is the spf check's data for a message.
type SPFData struct {
	Receiver   *Seen           `json:"receiver"`
	Computed   *spf.Evaluation `json:"computed"`
	ClientIP   string          `json:"client_ip,omitempty"`
	IPSource   string          `json:"client_ip_source,omitempty"`
	ChainIP    string          `json:"received_chain_ip,omitempty"`
	HELO       string          `json:"helo,omitempty"`
	MailFrom   string          `json:"mail_from,omitempty"`
	NullSender bool            `json:"null_sender,omitempty"`
	Received   []Hop           `json:"received"`
}

// DKIMData is the dkim check's data for a message.
type DKIMData struct {
	Receiver []Seen                    `json:"receiver"`
	Computed *dkim.MessageVerification `json:"computed"`
}

// DMARCData is the dmarc check's data for a message.
type DMARCData struct {
	Receiver   *Seen             `json:"receiver"`
	Computed   *dmarc.Evaluation `json:"computed"`
	From       string            `json:"from,omitempty"`
	FromDomain string            `json:"from_domain,omitempty"`
}

// ReceiverSPF is the SPF result the receiver recorded: its Received-SPF,
// else the spf result of its Authentication-Results.
func (a *Analysis) ReceiverSPF() *Seen {
	if len(a.ReceivedSPF) > 0 && a.ReceivedSPF[0].Result != "" {
		rs := a.ReceivedSPF[0]
		return &Seen{Result: rs.Result, Source: "Received-SPF", Detail: rs.Properties["envelope-from"]}
	}
	for _, r := range a.receiverResults("spf") {
		return &Seen{Result: r.Result, Source: a.arSource(), Detail: firstNonEmpty(r.Prop("smtp.mailfrom"), r.Prop("smtp.helo"))}
	}
	return nil
}

// ReceiverDKIM lists the receiver's dkim results.
func (a *Analysis) ReceiverDKIM() []Seen {
	out := []Seen{}
	for _, r := range a.receiverResults("dkim") {
		d := "d=" + arDomain(r)
		if s := r.Prop("header.s"); s != "" {
			d += " s=" + s
		}
		if r.Reason != "" {
			d += " (" + r.Reason + ")"
		}
		out = append(out, Seen{Result: r.Result, Source: a.arSource(), Detail: d})
	}
	return out
}

var policyInComment = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\bp=([a-z]+)`) })

// ReceiverDMARC is the receiver's dmarc result, with the policy it named.
func (a *Analysis) ReceiverDMARC() *Seen {
	rs := a.receiverResults("dmarc")
	if len(rs) == 0 {
		return nil
	}
	r := rs[0] // the first dmarc result the receiver wrote
	d := r.Prop("header.from")
	if p := submatch(policyInComment(), r.Comment); p != "" {
		d += " p=" + strings.ToLower(p)
	}
	if act := r.Prop("action"); act != "" {
		d += " action=" + act
	}
	return &Seen{Result: r.Result, Source: a.arSource(), Detail: strings.TrimSpace(d)}
}

func (a *Analysis) arSource() string {
	if ar := a.ReceiverAuthResults(); ar != nil && ar.AuthServID != "" {
		return "Authentication-Results " + ar.AuthServID
	}
	return "Authentication-Results"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func seenLine(s *Seen) string {
	line := fmt.Sprintf("the receiver recorded %s (%s)", s.Result, s.Source)
	if s.Detail != "" {
		line += " for " + s.Detail
	}
	return line
}

func notPass(result string) bool { return result != "" && result != "pass" }

// CheckResults are the message's spf, dkim and dmarc checks: each with
// what the receiver saw, what holds now, and findings for both.
func (a *Analysis) CheckResults() []findings.CheckResult {
	return []findings.CheckResult{a.spfCheck(), a.dkimCheck(), a.dmarcCheck()}
}

func (a *Analysis) spfCheck() findings.CheckResult {
	seen := a.ReceiverSPF()
	data := &SPFData{Receiver: seen, Computed: a.SPF, ClientIP: a.ClientIP, IPSource: a.ClientIPSource, ChainIP: a.ChainIP,
		HELO: a.HELO, MailFrom: a.ReturnPath, NullSender: a.NullSender, Received: a.Received}
	res := findings.CheckResult{Name: "spf", Data: data}
	var fs []findings.Finding
	if a.SPF == nil {
		f := findings.Finding{ID: "spf.no-client-ip", Check: "spf", Severity: findings.SeverityInfo,
			Title:  "the connecting IP cannot be found in the headers, so SPF was not evaluated again",
			Detail: "Neither a Received-SPF client-ip, an address in the receiver's Authentication-Results, nor a public address in the Received chain was found.",
			Fix:    "Use the full headers as the receiver delivered them, or run `deliverdoctor spf DOMAIN --ip IP`.",
			Refs:   []string{"RFC 5321 4.4", "RFC 7208 9.1"}}
		fs = append(fs, f)
	} else if f, ok := spf.EvaluationFinding(a.SPF, a.ClientIP); ok {
		f.Evidence = append([]string{fmt.Sprintf("client %s (from %s), MAIL FROM <%s>, HELO %s", a.ClientIP, a.ClientIPSource, a.ReturnPath, a.HELO)}, f.Evidence...)
		if a.ChainIP != "" {
			f.Evidence = append(f.Evidence, fmt.Sprintf("the Received chain names %s as the border hop instead", a.ChainIP))
		}
		if seen != nil {
			f.Evidence = append(f.Evidence, seenLine(seen))
			if seen.Result == "pass" && notPass(string(a.SPF.Result)) {
				f.Detail = strings.TrimSpace(f.Detail + " The receiver saw pass at delivery: the SPF record (or an include it uses) has changed since.")
			}
		}
		fs = append(fs, f)
	}
	if seen != nil && notPass(seen.Result) && (a.SPF == nil || a.SPF.Result == spf.ResultPass) {
		f := findings.Finding{ID: "spf.receiver-fail", Check: "spf", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the receiver %s saw SPF %s for this message", a.Receiver, seen.Result),
			Evidence:    []string{seenLine(seen)},
			BounceCodes: spfCodes(seen.Result),
			Refs:        []string{"RFC 7208 2.6", "RFC 8601 2.7.2"},
		}
		if a.SPF != nil {
			f.Detail = fmt.Sprintf("It passes now (%s): the record was fixed since, DNS failed at delivery, or the receiver checked another identity (HELO) or address.", a.SPF.Mechanism)
		} else {
			f.Detail = "The result cannot be re-checked without the connecting IP."
			f.Fix = "Check that the IP that sent this message is authorised: `deliverdoctor spf DOMAIN --ip IP`."
		}
		fs = append(fs, f)
	}
	res.Findings = fs
	res.Status = findings.StatusFromFindings(fs)
	switch {
	case a.SPF == nil && (seen == nil || !notPass(seen.Result)):
		res.Status, res.Summary = findings.StatusSkip, "not evaluated: no client IP in the headers"
	case a.SPF != nil && errors.Is(a.SPF.Err, spf.ErrOffline):
		res.Status, res.Summary = findings.StatusSkip, "not evaluated: --offline"
	case a.SPF != nil:
		res.Summary = fmt.Sprintf("%s for %s from %s", a.SPF.Result, a.SPF.Domain, a.ClientIP)
	default:
		res.Summary = "receiver saw " + seen.Result
	}
	if seen != nil && a.SPF != nil {
		res.Summary += fmt.Sprintf(" (receiver saw %s)", seen.Result)
	}
	return res
}

// spfCodes are the codes an SPF result leads to (RFC 7372 5.7.23/5.7.24,
// Gmail and Microsoft's DMARC codes when SPF was the aligned path).
func spfCodes(result string) []string {
	switch result {
	case "fail", "hardfail":
		return []string{"5.7.23", "5.7.26", "5.7.509"}
	case "softfail", "neutral", "none":
		return []string{"5.7.26", "5.7.509", "5.7.23"}
	case "permerror":
		return []string{"5.7.24", "5.7.26"}
	case "temperror":
		return []string{"4.7.24", "4.4.3"}
	}
	return nil
}

func (a *Analysis) dkimCheck() findings.CheckResult {
	m := a.DKIM
	seen := a.ReceiverDKIM()
	res := m.CheckResult()
	res.Data = &DKIMData{Receiver: seen, Computed: m}
	fs := slices.Clone(m.Findings)
	for _, r := range a.receiverResults("dkim") {
		sig := matchSignature(m.Signatures, r)
		line := seenLine(&Seen{Result: r.Result, Source: a.arSource(), Detail: "d=" + arDomain(r) + " s=" + r.Prop("header.s")})
		switch {
		case sig == nil:
			if notPass(r.Result) && r.Result != "none" {
				fs = append(fs, findings.Finding{ID: "dkim.receiver-fail", Check: "dkim", Severity: findings.SeverityWarn,
					Title:       fmt.Sprintf("the receiver %s saw dkim=%s for d=%s, a signature this copy does not carry", a.Receiver, r.Result, arDomain(r)),
					Detail:      "The signature was removed after delivery, or the receiver reports one it added itself.",
					Evidence:    []string{line},
					BounceCodes: dkim.NoPassCodes(), Refs: []string{"RFC 8601 2.7.1"}})
			}
		case sig.Result == dkim.ResultPass && notPass(r.Result):
			fs = append(fs, findings.Finding{ID: "dkim.receiver-fail", Check: "dkim", Severity: findings.SeverityWarn,
				Title:       fmt.Sprintf("the receiver %s saw dkim=%s for %s, which verifies now", a.Receiver, r.Result, sig.Label()),
				Detail:      "The key was published or repaired after delivery, or the key lookup failed at the receiver (temperror/permerror from DNS trouble).",
				Evidence:    []string{line},
				BounceCodes: dkim.NoPassCodes(), Refs: []string{"RFC 8601 2.7.1", "RFC 6376 6.1.2"}})
		default:
			annotate(fs, sig.Label(), line)
			if r.Result == "pass" && sig.Result != dkim.ResultPass {
				annotate(fs, sig.Label(), "it verified at delivery: the key changed since (rotated or removed), or the message was modified after delivery (by a mail client, an export or a forward)")
			}
		}
	}
	res.Findings = fs
	if res.Status != findings.StatusSkip {
		res.Status = findings.StatusFromFindings(fs)
	}
	return res
}

// matchSignature finds the signature an Authentication-Results dkim
// result is about: by header.b (the first characters of b=, RFC 6008),
// else by d= and s=, else by d=.
func matchSignature(sigs []*dkim.SignatureResult, r AuthResult) *dkim.SignatureResult {
	d, s, b := arDomain(r), strings.ToLower(r.Prop("header.s")), r.Prop("header.b")
	var byDS, byD *dkim.SignatureResult
	for _, sig := range sigs {
		if sig.Signature == nil {
			continue
		}
		if b != "" && len(b) >= 8 && strings.HasPrefix(base64.StdEncoding.EncodeToString(sig.Data), b) {
			return sig
		}
		if sig.Domain == d && sig.Selector == s && byDS == nil {
			byDS = sig
		}
		if sig.Domain == d && byD == nil {
			byD = sig
		}
	}
	if byDS != nil {
		return byDS
	}
	return byD
}

// arDomain is the signing domain of a dkim result: header.d, else the
// domain of header.i.
func arDomain(r AuthResult) string {
	if d := r.Prop("header.d"); d != "" {
		return strings.ToLower(d)
	}
	_, dom, _ := strings.Cut(r.Prop("header.i"), "@")
	return strings.ToLower(dom)
}

// annotate adds an evidence line to the findings about a signature.
func annotate(fs []findings.Finding, label, line string) {
	for i := range fs {
		if strings.HasPrefix(fs[i].Title, label) {
			fs[i].Evidence = append(fs[i].Evidence, line)
		}
	}
}

func (a *Analysis) dmarcCheck() findings.CheckResult {
	seen := a.ReceiverDMARC()
	data := &DMARCData{Receiver: seen, Computed: a.DMARC, From: a.From, FromDomain: a.FromDomain}
	res := findings.CheckResult{Name: "dmarc", Data: data}
	var fs []findings.Finding
	ev := a.DMARC
	switch {
	case a.FromDomain == "":
		fs = append(fs, findings.Finding{ID: "dmarc.no-author", Check: "dmarc", Severity: findings.SeverityFail,
			Title:       "the message has no usable From address, so DMARC cannot apply",
			Detail:      "Receivers reject mail without exactly one From address (RFC 5322 3.6, RFC 7489 6.6.1).",
			Evidence:    []string{"From: " + a.From},
			BounceCodes: []string{"5.7.1", "5.6.0"},
			Fix:         "Send with exactly one From: address.",
			Refs:        []string{"RFC 5322 3.6", "RFC 7489 6.6.1"}})
	case ev == nil:
		f := findings.Finding{ID: "dmarc.dns-error", Check: "dmarc", Severity: findings.SeverityError,
			Title: "the DMARC policy of " + a.FromDomain + " could not be looked up"}
		if a.DMARCErr != nil {
			f.Detail = a.DMARCErr.Error()
		}
		fs = append(fs, f)
	case ev.Discovery != nil && ev.Discovery.Offline:
		res.Status, res.Summary = findings.StatusSkip, "not evaluated: --offline and _dmarc."+a.FromDomain+" is in no --zone file"
		res.Findings = fs
		return res
	default:
		fs = append(fs, a.dmarcFinding(ev))
	}
	if seen != nil {
		if len(fs) > 0 {
			fs[len(fs)-1].Evidence = append(fs[len(fs)-1].Evidence, seenLine(seen))
		}
		if notPass(seen.Result) && seen.Result != "none" && ev != nil && ev.Verdict.Result == dmarc.ResultPass {
			sev := findings.SeverityWarn
			fs = append(fs, findings.Finding{ID: "dmarc.receiver-fail", Check: "dmarc", Severity: sev,
				Title:       fmt.Sprintf("the receiver %s saw dmarc=%s for this message; it passes now", a.Receiver, seen.Result),
				Detail:      "SPF or DKIM did not pass or align at delivery (DNS trouble, a key or record fixed since, or another client IP). At delivery the policy decided the message's fate.",
				Evidence:    []string{seenLine(seen)},
				BounceCodes: dmarc.RejectCodes(),
				Refs:        []string{"RFC 9989 5.3.5", "RFC 8601 2.7.1"}})
		}
	}
	res.Findings = fs
	res.Status = findings.StatusFromFindings(fs)
	if ev != nil && ev.Verdict != nil {
		res.Summary = fmt.Sprintf("%s for %s", ev.Verdict.Result, a.FromDomain)
		if ev.Verdict.AppliedPolicy != "" {
			res.Summary += fmt.Sprintf(" (policy %s)", ev.Verdict.AppliedPolicy)
		}
	}
	if seen != nil {
		res.Summary = strings.TrimSpace(res.Summary + " (receiver saw " + seen.Result + ")")
	}
	return res
}

// dmarcFinding states the DMARC verdict dmarc.Evaluate reached, with the
// alignment of each identifier as evidence.
func (a *Analysis) dmarcFinding(ev *dmarc.Evaluation) findings.Finding {
	v, al := ev.Verdict, ev.Alignment
	var evid []string
	if al.SPF != nil {
		evid = append(evid, "SPF "+al.SPF.Domain+": "+al.SPF.Reason)
	} else {
		evid = append(evid, "SPF: not evaluated (no client IP)")
	}
	for _, d := range al.DKIM {
		evid = append(evid, "DKIM d="+d.Domain+": "+d.Reason)
	}
	if len(al.DKIM) == 0 {
		evid = append(evid, "DKIM: no signature verified")
	}
	if ev.Discovery != nil && ev.Discovery.Text != "" {
		evid = append(evid, fmt.Sprintf("_dmarc.%s TXT %q", ev.Discovery.FoundAt, ev.Discovery.Text))
	}
	for _, r := range v.Receivers {
		line := r.Receiver + ": " + r.Outcome
		if r.Reply != "" {
			line += " — " + r.Reply
		}
		evid = append(evid, line)
	}
	f := findings.Finding{Check: "dmarc", Evidence: evid, Detail: v.Explanation, Refs: []string{"RFC 9989 4.4", "RFC 9989 5.3.5"}}
	switch v.Result {
	case dmarc.ResultPass:
		f.ID, f.Severity = "dmarc.message-pass", findings.SeverityInfo
		f.Title = fmt.Sprintf("the message passes DMARC for %s", a.FromDomain)
	case dmarc.ResultNone:
		f.ID, f.Severity = "dmarc.no-policy", findings.SeverityWarn
		f.Title = fmt.Sprintf("no DMARC policy applies to %s", a.FromDomain)
		f.BounceCodes = dmarc.BulkCodes()
		f.Fix = fmt.Sprintf("Publish _dmarc.%s TXT \"v=DMARC1; p=none; rua=mailto:...\" and move to p=quarantine/reject once reports are clean; Gmail, Yahoo and Microsoft require DMARC from bulk senders.", a.FromDomain)
	case dmarc.ResultTempError:
		f.ID, f.Severity = "dmarc.temperror", findings.SeverityError
		f.Title = fmt.Sprintf("the DMARC result for %s cannot be determined: a DNS lookup failed", a.FromDomain)
		f.BounceCodes = []string{"4.7.0"}
		if a.DMARCErr != nil && dnsx.IsTemporary(a.DMARCErr) {
			f.Evidence = append(f.Evidence, a.DMARCErr.Error())
		}
	default:
		f.ID, f.Severity = "dmarc.message-fail", findings.SeverityFail
		f.Title = fmt.Sprintf("the message fails DMARC for %s: no authenticated identifier aligns", a.FromDomain)
		if v.AppliedPolicy == dmarc.PolicyNone || v.AppliedPolicy == "" {
			f.Severity = findings.SeverityWarn
		}
		f.Title += fmt.Sprintf(" (policy %s: %s)", firstNonEmpty(string(v.AppliedPolicy), "none"), v.Disposition)
		f.BounceCodes = v.BounceCodes
		f.Fix = fmt.Sprintf("Sign with DKIM as d=%s (or a subdomain under relaxed alignment), or send with a Return-Path under %s whose SPF record authorises the sending IP.", a.FromDomain, a.FromDomain)
	}
	return f
}
