// Package receive judges a message the way a receiving mail server does
// when it arrives: from the SMTP session (client IP, HELO, MAIL FROM, TLS)
// and the message itself. It reuses the project's checks — SPF check_host
// (internal/spf), DKIM verification (internal/dkim), DMARC (internal/dmarc,
// through internal/headers' message findings), reverse DNS (internal/mx),
// blocklists (internal/rbl) — adds the transport, ARC and bulk-sender
// checks, and says per large provider whether the message would be
// accepted, filed as spam or rejected, with the reply it would get.
//
// Evaluate is a pure function of (message, envelope, resolver, options);
// Server wraps it in an SMTP listener (github.com/emersion/go-smtp).
package receive

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/headers"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// Kind is the report kind of a received message.
const Kind = "message"

// Order is the order of the checks in a message report.
var Order = []string{"spf", "dkim", "dmarc", "arc", "ptr", "rbl", "tls", "bulk"}

// TLSInfo is the transport of the SMTP session.
type TLSInfo struct {
	Used    bool   `json:"used"`
	Version string `json:"version,omitempty"` // "TLS 1.3"
	Cipher  string `json:"cipher,omitempty"`  // crypto/tls suite name
	// ServerName is the SNI the client sent.
	ServerName string `json:"server_name,omitempty"`
}

// Envelope is what the SMTP session says about a message.
type Envelope struct {
	// ClientIP is the address the message is judged as coming from: the
	// connecting client's, or the one --client-ip gave.
	ClientIP string `json:"client_ip"`
	// ConnectedIP is the real peer address when ClientIP was overridden.
	ConnectedIP string   `json:"connected_ip,omitempty"`
	HELO        string   `json:"helo"`
	MailFrom    string   `json:"mail_from"` // "" for the null sender <>
	RcptTo      []string `json:"rcpt_to"`
	TLS         TLSInfo  `json:"tls"`
	// Receiver is our host name (the authserv-id a receiver would use).
	Receiver string    `json:"receiver,omitempty"`
	Received time.Time `json:"received"`
}

// Options tune Evaluate. The zero value is usable.
type Options struct {
	// Lists are the blocklists for the client IP (IP lists) and the
	// message's link domains (domain lists); nil: the major lists.
	Lists []rbl.List
	// RBLTimeout bounds one list question (rbl.DefaultTimeout when zero).
	RBLTimeout time.Duration
	// Bulk treats every message as bulk mail (the sender sends 5,000 or
	// more a day to the provider). Without it, a message is bulk when it
	// says so (List-Unsubscribe, List-Id, Precedence: bulk/list, a
	// Feedback-ID).
	Bulk bool
	// Now is the clock for DKIM expiry and the Date check.
	Now func() time.Time
	// MaxLinkDomains bounds the link domains asked about (default 10).
	MaxLinkDomains int
}

// Report is the report/v1 contract for one received message: the usual
// report fields, the SMTP envelope and the per-provider verdicts.
type Report struct {
	*report.Report
	// ID names the report among those of one server run (and its file
	// under --output).
	ID       string      `json:"id,omitempty"`
	Envelope Envelope    `json:"envelope"`
	Message  MessageInfo `json:"message"`
	Verdicts []Verdict   `json:"verdicts"`
}

// MessageInfo summarises the message.
type MessageInfo struct {
	From      string `json:"from,omitempty"`
	Subject   string `json:"subject,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	Size      int    `json:"size"`
	Bulk      bool   `json:"bulk"`
	// BulkReason says why the message counts as bulk.
	BulkReason string `json:"bulk_reason,omitempty"`
}

// Evaluate judges msg (the DATA as received) with its envelope, asking DNS
// through r. It never fails: what could not be determined is an error
// check with a finding.
func Evaluate(ctx context.Context, msg []byte, env Envelope, r dnsx.Resolver, opts Options) *Report {
	start := time.Now()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxLinkDomains <= 0 {
		opts.MaxLinkDomains = 10
	}
	if opts.Lists == nil {
		opts.Lists, _ = rbl.Default().Select("major")
	}
	if env.RcptTo == nil {
		env.RcptTo = []string{}
	}
	out := &Report{
		Report:   &report.Report{Kind: Kind},
		Envelope: env,
		Verdicts: []Verdict{},
	}
	ip, ipErr := netip.ParseAddr(env.ClientIP)
	ip = ip.Unmap()

	fields, _, _ := dkim.SplitHeader(msg)
	parsed := parseMessage(msg, fields)
	out.Message = MessageInfo{From: parsed.from, Subject: parsed.subject, MessageID: parsed.messageID, Size: len(msg)}
	out.Message.Bulk, out.Message.BulkReason = isBulk(parsed, opts.Bulk)
	out.Target = targetName(parsed, env)

	a := &headers.Analysis{
		From: parsed.from, FromDomain: parsed.fromDomain,
		ReturnPath: env.MailFrom, NullSender: env.MailFrom == "", MailFromSource: "smtp",
		Receiver: env.Receiver, HELO: env.HELO,
		Received: []headers.Hop{}, AuthResults: []headers.AuthResults{}, ReceivedSPF: []headers.ReceivedSPF{},
	}
	if ipErr == nil {
		a.ClientIP, a.ClientIPSource = ip.String(), "smtp session"
	}

	var (
		wg       sync.WaitGroup
		dkimErr  error
		heloEval *spf.Evaluation
		ipChecks []findings.CheckResult
		links    []*rbl.Report
		arcRes   *ARCResult
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.DKIM, dkimErr = dkim.VerifyMessage(ctx, r, msg, &dkim.VerifyOptions{Now: opts.Now})
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		arcRes = VerifyARC(ctx, r, msg, fields)
	}()
	if ipErr == nil {
		wg.Add(3)
		go func() {
			defer wg.Done()
			// RFC 7208 2.4: with a null MAIL FROM, the identity checked is
			// postmaster@HELO.
			dom, sender := spfIdentity(env)
			a.SPF = spf.CheckHost(ctx, r, spf.Args{IP: ip, Domain: dom, Sender: sender, HELO: env.HELO, ReceivingHost: env.Receiver})
		}()
		go func() {
			defer wg.Done()
			// RFC 7208 2.3: the HELO identity is checked on its own too.
			if h := strings.TrimSuffix(env.HELO, "."); h != "" && mx.ValidHostname(h) == nil && strings.Contains(h, ".") {
				heloEval = spf.CheckHost(ctx, r, spf.Args{IP: ip, Domain: h, Sender: "postmaster@" + h, HELO: h, ReceivingHost: env.Receiver})
			}
		}()
		go func() {
			defer wg.Done()
			ipChecks = clientIPChecks(ctx, r, ip, opts)
		}()
	}
	domains := linkDomains(parsed, opts.MaxLinkDomains)
	links = make([]*rbl.Report, len(domains))
	for i, d := range domains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			links[i] = rbl.CheckDomainName(ctx, r, d, rbl.Options{Lists: domainLists(opts.Lists), Timeout: opts.RBLTimeout})
		}()
	}
	wg.Wait()

	if dkimErr != nil || a.DKIM == nil {
		a.DKIM = &dkim.MessageVerification{Signatures: []*dkim.SignatureResult{}}
	}
	if a.FromDomain != "" {
		var dkimDomains []string
		for _, s := range a.DKIM.Passing() {
			dkimDomains = append(dkimDomains, s.Domain)
		}
		spfDomain, spfPass := "", false
		if a.SPF != nil {
			spfDomain, spfPass = a.SPF.Domain, a.SPF.Result == spf.ResultPass
		}
		a.DMARC, a.DMARCErr = dmarc.Evaluate(ctx, r, a.FromDomain, spfDomain, spfPass, dkimDomains)
	}

	checks := a.CheckResults() // spf, dkim, dmarc: the findings of `headers`
	if ipErr != nil {
		checks[0] = findings.CheckResult{Name: "spf", Status: findings.StatusError, Summary: "no client IP",
			Findings: []findings.Finding{{ID: "receive.no-client-ip", Check: "spf", Severity: findings.SeverityError,
				Title: fmt.Sprintf("the client address %q is not an IP address, so SPF, reverse DNS and blocklists were not checked", env.ClientIP)}}}
	}
	addHELO(&checks[0], heloEval)
	if dkimErr != nil {
		checks[1].Status = findings.StatusFail
		checks[1].Findings = append(checks[1].Findings, findings.Finding{ID: "receive.not-a-message", Check: "dkim", Severity: findings.SeverityFail,
			Title: "the DATA is not a readable message: " + dkimErr.Error(), BounceCodes: []string{"5.6.0"},
			Fix: "Send an RFC 5322 message: header fields, an empty line, the body."})
	}
	if arcRes != nil && arcRes.Present {
		checks = append(checks, arcRes.CheckResult())
	}
	var rblIP *rbl.Report
	for _, c := range ipChecks {
		switch c.Name {
		case "ptr":
			checks = append(checks, c)
		case "rbl":
			rblIP, _ = c.Data.(*rbl.Report)
		}
	}
	rc := rblCheck(rblIP, links, domains)
	checks = append(checks, rc)
	checks = append(checks, tlsCheck(env.TLS))
	checks = append(checks, bulkCheck(parsed, out.Message, opts.Now()))
	out.Checks = checks
	out.Finalize(Order)
	out.Verdicts = decide(out, a)
	out.DurationMS = time.Since(start).Milliseconds()
	return out
}

// clientIPChecks runs the checks of the connecting IP that are checks of a
// target (reverse DNS, the IP blocklists) through the one orchestrator, so
// receive says what "check IP --checks ptr,rbl" says about the same
// address.
func clientIPChecks(ctx context.Context, r dnsx.Resolver, ip netip.Addr, opts Options) []findings.CheckResult {
	runner := &check.Runner{Resolver: r, Options: check.Options{Only: []string{"ptr", "rbl"}, Blocklists: opts.Lists, RBLTimeout: opts.RBLTimeout}}
	return runner.Run(ctx, target.Target{Kind: target.KindIP, Name: ip.String(), IP: ip}).Checks
}

func spfIdentity(env Envelope) (domain, sender string) {
	if env.MailFrom == "" {
		h := strings.TrimSuffix(env.HELO, ".")
		return h, "postmaster@" + h
	}
	_, d, ok := strings.Cut(env.MailFrom, "@")
	if !ok {
		return env.MailFrom, "postmaster@" + env.MailFrom
	}
	return strings.ToLower(strings.TrimSuffix(d, ".")), env.MailFrom
}

func targetName(p *parsedMessage, env Envelope) string {
	switch {
	case p.messageID != "":
		return p.messageID
	case p.from != "":
		return "message from " + p.from
	}
	return "message from " + env.ClientIP
}

// addHELO records the HELO identity's SPF result (RFC 7208 2.3) in the spf
// check's evidence; it decides nothing DMARC uses.
func addHELO(c *findings.CheckResult, ev *spf.Evaluation) {
	if ev == nil {
		return
	}
	line := fmt.Sprintf("HELO identity %s: SPF %s", ev.Domain, ev.Result)
	if ev.Mechanism != "" {
		line += fmt.Sprintf(" (%s)", ev.Mechanism)
	}
	if len(c.Findings) > 0 {
		c.Findings[0].Evidence = append(c.Findings[0].Evidence, line)
	}
	c.Summary = strings.TrimSpace(c.Summary + "; HELO " + string(ev.Result))
}

func domainLists(ls []rbl.List) []rbl.List {
	var out []rbl.List
	for _, l := range ls {
		if l.Kind != rbl.KindIP {
			out = append(out, l)
		}
	}
	return out
}
