package address

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
)

// Options tune Check.
type Options struct {
	// SMTP enables the RCPT probe: MAIL FROM, RCPT TO for the address and
	// for a random address (catch-all test), then RSET and QUIT; no DATA.
	SMTP  bool
	Port  int               // 0: 25
	Probe smtpprobe.Options // timeouts, HELO name, roots
	// MailFrom is the reverse-path of the probe; "" is the null path "<>"
	// (RFC 5321 4.5.5), which needs no sender domain of ours.
	MailFrom string
	// Rand feeds the random local part of the catch-all test (tests set
	// it; nil is crypto/rand).
	Rand io.Reader
	// MaxHosts bounds the MX hosts tried until one answers (default 3).
	MaxHosts int
}

// MXSummary is the receiving side of the address's domain.
type MXSummary struct {
	Status   findings.Status `json:"status"`
	Summary  string          `json:"summary"`
	NullMX   bool            `json:"null_mx"`
	Implicit bool            `json:"implicit"`
	Hosts    []mx.Host       `json:"hosts"`
}

// SMTPSummary is what the RCPT probe learnt.
type SMTPSummary struct {
	Host string `json:"host,omitempty"`
	Addr string `json:"addr,omitempty"`
	Port int    `json:"port"`
	// Accepted: the server answered RCPT TO with 2xx.
	Accepted     bool   `json:"accepted"`
	Code         int    `json:"code,omitempty"`
	EnhancedCode string `json:"enhanced_code,omitempty"`
	Text         string `json:"text,omitempty"`
	// CatchAll: a random address of the domain was accepted too (true),
	// refused (false), or it could not be told (null).
	CatchAll *bool  `json:"catch_all"`
	Caveat   string `json:"caveat"`
	Error    string `json:"error,omitempty"`
	TLS      bool   `json:"tls"`
	// Transcript is the dialogue, for people who want to see it.
	Transcript []smtpprobe.Step `json:"transcript"`
	noHost     bool
}

// Result is the address check: the stable JSON object of
// `deliverdoctor address`.
type Result struct {
	Address       string             `json:"address"` // normalised (minimal quoting, A-label domain)
	Input         string             `json:"input"`
	Local         string             `json:"local"`
	Domain        string             `json:"domain"`
	DomainUnicode string             `json:"domain_unicode,omitempty"`
	SyntaxValid   bool               `json:"syntax_valid"`
	SMTPUTF8      bool               `json:"smtputf8_required"`
	Problems      []Problem          `json:"problems"`
	MX            MXSummary          `json:"mx"`
	SMTP          *SMTPSummary       `json:"smtp"` // null without --smtp
	Status        findings.Status    `json:"status"`
	Summary       string             `json:"summary"`
	Findings      []findings.Finding `json:"findings"`

	Parsed   *Address          `json:"-"`
	Analysis *mx.Result        `json:"-"`
	Probe    *smtpprobe.Result `json:"-"`
}

// Caveat explains what an RCPT answer does and does not prove.
const Caveat = "An accepted RCPT TO is not proof that mail will be delivered: servers may accept at RCPT and bounce later, greylist, or answer probes from unknown networks differently; a refusal with 5.1.x is reliable."

// CatchAllCaveat is added when the server accepted a random address.
const CatchAllCaveat = "The server accepts any address of this domain at RCPT time (catch-all), so its acceptance says nothing about whether this mailbox exists."

// Check runs the syntax check, the MX analysis of the domain and, with
// opts.SMTP, the RCPT probe.
func Check(ctx context.Context, r dnsx.Resolver, input string, opts Options) *Result {
	a := Parse(input)
	res := &Result{
		Address: a.String(), Input: input, Local: a.Local, Domain: a.Domain, DomainUnicode: a.DomainUnicode,
		SyntaxValid: a.Valid(), SMTPUTF8: a.UTF8, Problems: a.Problems, Parsed: a,
		MX:       MXSummary{Status: findings.StatusSkip, Hosts: []mx.Host{}},
		Findings: []findings.Finding{},
	}
	if !res.SyntaxValid {
		res.Address = ""
	}
	for _, p := range a.Problems {
		if p.Severity == findings.SeverityInfo {
			continue
		}
		f := findings.Finding{ID: p.ID, Check: "address", Severity: p.Severity, Title: p.Message}
		if p.Ref != "" {
			f.Refs = []string{p.Ref}
		}
		switch p.ID {
		case "address.smtputf8":
			f.BounceCodes = []string{"5.6.7"}
		case "address.address-literal":
			f.BounceCodes = []string{"5.1.3"}
		default:
			if p.Severity == findings.SeverityFail {
				f.BounceCodes = []string{"5.1.3"} // bad destination mailbox address syntax
			}
		}
		res.Findings = append(res.Findings, f)
	}
	switch {
	case !res.SyntaxValid:
		res.MX.Summary = "not checked: the address is not valid"
	case a.Literal.IsValid():
		res.MX.Summary = "not checked: the domain is an address literal (mail goes to " + a.Literal.String() + ")"
	default:
		an := mx.Analyze(ctx, r, a.Domain)
		res.Analysis = an
		cr := an.CheckResult()
		res.MX = MXSummary{Status: cr.Status, Summary: cr.Summary, NullMX: an.NullMX, Implicit: an.Implicit, Hosts: an.Hosts}
		res.Findings = append(res.Findings, an.Findings...)
	}
	if opts.SMTP && res.SyntaxValid {
		res.SMTP = rcptProbe(ctx, res, opts)
	}
	res.finish()
	return res
}

// randomLocal makes a local part no one has: the catch-all test.
func randomLocal(rd io.Reader) string {
	if rd == nil {
		rd = rand.Reader
	}
	b := make([]byte, 8)
	if _, err := io.ReadFull(rd, b); err != nil {
		return "deliverdoctor-no-such-user-0"
	}
	return "deliverdoctor-no-such-user-" + hex.EncodeToString(b)
}

// rcptProbe tries the MX hosts in preference order until one answers.
func rcptProbe(ctx context.Context, res *Result, opts Options) *SMTPSummary {
	a := res.Parsed
	port := opts.Port
	if port <= 0 {
		port = smtpprobe.DefaultPort
	}
	maxHosts := opts.MaxHosts
	if maxHosts <= 0 {
		maxHosts = 3
	}
	sum := &SMTPSummary{Port: port, Caveat: Caveat, Transcript: []smtpprobe.Step{}}
	var hosts []mx.Host
	switch {
	case a.Literal.IsValid():
		// RFC 5321 4.1.3: an address literal names the host directly.
		hosts = []mx.Host{{Addrs: []netip.Addr{a.Literal}, Status: mx.HostIPLiteral}}
	case res.Analysis != nil && !res.Analysis.NullMX:
		hosts = res.Analysis.Reachable()
	}
	if len(hosts) == 0 {
		sum.Error = "no mail host to ask: " + res.MX.Summary
		sum.noHost = true
		return sum
	}
	if len(hosts) > maxHosts {
		hosts = hosts[:maxHosts]
	}
	probeOpts := opts.Probe
	probeOpts.MailFrom = opts.MailFrom
	random := randomLocal(opts.Rand) + "@" + a.Domain
	probeOpts.Recipients = []string{a.String(), random}
	var last, busy *smtpprobe.Result
	busyHost, connected := "", false
	var errs []string
	for _, h := range hosts {
		for _, ip := range h.Addrs {
			p := smtpprobe.Probe(ctx, h.Name, ip, port, probeOpts)
			last = p
			connected = connected || p.Connected
			if !p.Connected || p.Greeting == nil {
				errs = append(errs, fmt.Sprintf("%s [%s]: %s", h.Name, ip, p.Error))
				if ctx.Err() != nil {
					break
				}
				continue
			}
			// RFC 5321 5.1: a 4xx greeting sends the client to the next MX.
			if p.Greeting.Transient() {
				if busy == nil {
					busy, busyHost = p, h.Name
				}
				errs = append(errs, fmt.Sprintf("%s [%s]: %s", h.Name, ip, p.Greeting))
				continue
			}
			// A TLS failure ends the session; try once more in plaintext,
			// as senders with opportunistic TLS do.
			if p.TLSError != "" && p.Failure != "" && len(p.Recipients) == 0 {
				plain := probeOpts
				plain.NoTLS = true
				if q := smtpprobe.Probe(ctx, h.Name, ip, port, plain); q.Connected {
					q.TLSError = p.TLSError
					p = q
				}
			}
			fillSummary(sum, h.Name, p)
			res.Probe = p
			return sum
		}
	}
	if busy != nil {
		fillSummary(sum, busyHost, busy)
		res.Probe = busy
		return sum
	}
	if last != nil {
		sum.Transcript = last.Steps
	}
	// "could not connect" only when no TCP connection was made: a server
	// that accepted the connection and then said nothing usable is a
	// different failure (issue 23, item 11).
	what := "could not connect to any MX host: "
	if connected {
		what = "no MX host greeted usably: "
	}
	sum.Error = what + strings.Join(errs, "; ")
	return sum
}

func fillSummary(sum *SMTPSummary, host string, p *smtpprobe.Result) {
	sum.Host, sum.Addr, sum.TLS, sum.Transcript = host, p.Addr.String(), p.TLS != nil, p.Steps
	switch {
	case p.Greeting != nil && p.Greeting.Code != 220:
		sum.Error = "the server refused the connection: " + p.Greeting.String()
		sum.Code, sum.EnhancedCode, sum.Text = p.Greeting.Code, p.Greeting.Enhanced, p.Greeting.Text()
		return
	case len(p.Recipients) == 0:
		sum.Error = p.Error
		if sum.Error == "" {
			sum.Error = "the dialogue ended before RCPT TO"
		}
		return
	}
	rc := p.Recipients[0]
	if rc.Reply == nil {
		sum.Error = rc.Error
		if p.MailReply != nil && !p.MailReply.Positive() {
			sum.Code, sum.EnhancedCode, sum.Text = p.MailReply.Code, p.MailReply.Enhanced, p.MailReply.Text()
		}
		return
	}
	sum.Accepted = rc.Accepted
	sum.Code, sum.EnhancedCode, sum.Text = rc.Reply.Code, rc.Reply.Enhanced, rc.Reply.Text()
	// The random address tells catch-all only when its answer is
	// definite: accepted, or refused permanently for the mailbox (a
	// deferral or a policy refusal says nothing about addresses).
	if len(p.Recipients) > 1 && p.Recipients[1].Reply != nil {
		rr := p.Recipients[1].Reply
		switch {
		case rr.Positive():
			ca := true
			sum.CatchAll = &ca
			if sum.Accepted {
				sum.Caveat = CatchAllCaveat + " " + Caveat
			}
		case rr.Permanent() && !isPolicy(rr.Enhanced, rr.Text()):
			ca := false
			sum.CatchAll = &ca
		}
	}
}

// policyText spots refusals aimed at the prober (its IP on a blocklist,
// a reputation block) rather than at the address.
var policyText = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(block(ed|list)?|black ?list|spamhaus|dnsbl|rbl|reputation|policy|not allowed to send|access denied|client host|your ip)\b`)
})

// isPolicy reports a security/policy refusal (RFC 3463 X.7.x, or such
// words without an enhanced code).
func isPolicy(enhanced, text string) bool {
	if enhanced != "" {
		return strings.HasPrefix(enhanced[1:], ".7.")
	}
	return policyText().MatchString(text)
}

func (res *Result) finish() {
	if s := res.SMTP; s != nil {
		f := smtpFinding(res, s)
		if f != nil {
			f.Check = "address"
			res.Findings = append(res.Findings, *f)
		}
	}
	st := findings.StatusFromFindings(res.Findings)
	res.Status = st
	switch {
	case !res.SyntaxValid:
		res.Summary = "not a valid address: " + firstFail(res.Problems)
	case res.MX.Status == findings.StatusFail:
		res.Summary = "the domain cannot receive mail: " + res.MX.Summary
	case res.SMTP != nil && res.SMTP.Accepted && res.SMTP.CatchAll != nil && *res.SMTP.CatchAll:
		res.Summary = "accepted, but the server accepts any address (catch-all): the mailbox may not exist"
	case res.SMTP != nil && res.SMTP.Accepted:
		res.Summary = fmt.Sprintf("accepted by %s (%d %s)", res.SMTP.Host, res.SMTP.Code, res.SMTP.EnhancedCode)
	case res.SMTP != nil && res.SMTP.Code >= 500 && res.SMTP.Error == "":
		res.Summary = fmt.Sprintf("refused by %s: %d %s %s", res.SMTP.Host, res.SMTP.Code, res.SMTP.EnhancedCode, res.SMTP.Text)
	case res.SMTP != nil && res.SMTP.Error != "":
		res.Summary = "syntax and domain checked; the mailbox could not be tested: " + res.SMTP.Error
	case res.MX.Status == findings.StatusError:
		res.Summary = "valid syntax; the domain's mail hosts could not be determined"
	case res.MX.Status == findings.StatusSkip:
		res.Summary = "valid syntax; " + res.MX.Summary
	default:
		res.Summary = "valid syntax and the domain receives mail; use --smtp to ask its server about the mailbox"
	}
	res.Summary = strings.Join(strings.Fields(res.Summary), " ")
}

func firstFail(ps []Problem) string {
	for _, p := range ps {
		if p.Severity == findings.SeverityFail {
			return p.Message
		}
	}
	return "unknown problem"
}

// smtpFinding turns the RCPT probe into a finding (nil: accepted, no
// catch-all).
func smtpFinding(res *Result, s *SMTPSummary) *findings.Finding {
	addr := res.Address
	ev := []string{}
	for _, st := range s.Transcript {
		ev = append(ev, st.String())
	}
	codes := func(def ...string) []string {
		if s.EnhancedCode != "" && (len(def) == 0 || def[0] != s.EnhancedCode) {
			return append([]string{s.EnhancedCode}, def...)
		}
		return def
	}
	switch {
	case s.Error != "" && strings.Contains(s.Error, "SMTPUTF8"):
		return &findings.Finding{ID: "address.smtputf8-unsupported", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s does not offer SMTPUTF8, so it cannot accept the UTF-8 address %s", s.Host, addr),
			Detail:      "RFC 6531 3.4: a UTF-8 local part can only be sent to a server that advertises SMTPUTF8; senders bounce the message instead.",
			Evidence:    ev,
			BounceCodes: []string{"5.6.7"},
			Fix:         "Use an ASCII address for this mailbox, or enable SMTPUTF8 on the receiving server (Postfix: smtputf8_enable = yes).",
			Refs:        []string{"RFC 6531 3.4", "RFC 6531 3.5"}}
	case s.noHost:
		return nil // the mx findings (or --offline) say why
	case s.Error != "" && s.Code == 0 && s.Host == "":
		return &findings.Finding{ID: "address.smtp-unreachable", Severity: findings.SeverityError,
			Title:       "could not ask any mail server about " + addr,
			Detail:      s.Error + ". Many networks block outgoing port 25; run the probe from a host that can send mail.",
			Evidence:    ev,
			BounceCodes: []string{"4.4.1"},
			Refs:        []string{"RFC 5321 5.1"}}
	case s.Error != "" && s.Code == 0:
		return &findings.Finding{ID: "address.smtp-error", Severity: findings.SeverityError,
			Title:    fmt.Sprintf("%s ended the dialogue before answering RCPT TO: %s", s.Host, s.Error),
			Evidence: ev, BounceCodes: []string{"4.4.2"}}
	case s.Error != "":
		sev := findings.SeverityError
		return &findings.Finding{ID: "address.probe-refused", Severity: sev,
			Title:       fmt.Sprintf("%s refused the probe before RCPT TO: %d %s %s", s.Host, s.Code, s.EnhancedCode, s.Text),
			Detail:      "The refusal (of the connection or of MAIL FROM:<>) is about this probe, not about the mailbox, so the mailbox could not be tested.",
			Evidence:    ev,
			BounceCodes: codes(),
			Refs:        []string{"RFC 5321 4.5.5"}}
	case s.Accepted && s.CatchAll != nil && *s.CatchAll:
		return &findings.Finding{ID: "address.catch-all", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s accepts any address of %s (a random one was accepted too): cannot tell whether %s exists", s.Host, res.Domain, addr),
			Detail:   CatchAllCaveat + " Mail to a non-existent mailbox may be accepted and then bounced (5.1.1) or silently dropped.",
			Evidence: ev,
			Refs:     []string{"RFC 5321 3.3"}}
	case s.Accepted:
		return nil
	case s.Code >= 400 && s.Code < 500:
		return &findings.Finding{ID: "address.rcpt-deferred", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("%s deferred RCPT TO:<%s>: %d %s %s", s.Host, addr, s.Code, s.EnhancedCode, s.Text),
			Detail:      "A temporary refusal: greylisting, a rate limit or a full mailbox. Senders retry; try the probe again later.",
			Evidence:    ev,
			BounceCodes: codes("4.2.0"),
			Refs:        []string{"RFC 5321 4.2.1"}}
	case isPolicy(s.EnhancedCode, s.Text):
		return &findings.Finding{ID: "address.probe-refused", Severity: findings.SeverityError,
			Title:       fmt.Sprintf("%s refused the RCPT probe for policy reasons: %d %s %s", s.Host, s.Code, s.EnhancedCode, s.Text),
			Detail:      "A security or policy refusal (x.7.x) is usually about the probing host (its IP, its reputation), not the mailbox, so the mailbox could not be tested from here.",
			Evidence:    ev,
			BounceCodes: codes("5.7.1"),
			Refs:        []string{"RFC 3463 3.8"}}
	default:
		return &findings.Finding{ID: "address.rcpt-rejected", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s refused RCPT TO:<%s>: %d %s %s", s.Host, addr, s.Code, s.EnhancedCode, s.Text),
			Detail:      "The domain's mail server says this mailbox does not exist or cannot receive mail; mail to it bounces.",
			Evidence:    ev,
			BounceCodes: codes("5.1.1"),
			Fix:         "Check the spelling of the address with its owner; remove it from your lists if it bounced before.",
			Refs:        []string{"RFC 5321 4.2.2", "RFC 3463 3.2"}}
	}
}
