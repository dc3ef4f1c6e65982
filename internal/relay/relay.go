// Package relay probes a mail server for open relaying: does it accept,
// from an unauthenticated stranger, mail for a domain it has no business
// with? It speaks just enough SMTP (RFC 5321) to find out: greeting,
// EHLO (HELO as fallback), then MAIL FROM / RCPT TO pairs from the
// variants.txt table (nmap's smtp-open-relay tests and a few more address
// tricks), RSET between them and QUIT at the end.
//
// It never sends DATA or BDAT: the command writer only knows EHLO, HELO,
// STARTTLS, MAIL, RCPT, RSET and QUIT, so no message can ever be
// transferred. The verdict rests on the RCPT reply, which is where RFC 5321
// and RFC 2505 put a relay decision (a 2xx means the server has taken
// responsibility for the recipient).
package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/ctxconn"
)

// Verdict is the answer to "is this an open relay?".
type Verdict string

// Verdicts (docs/contracts.md: open|closed|unknown).
const (
	VerdictOpen    Verdict = "open"    // a stranger's mail for a foreign domain was accepted
	VerdictClosed  Verdict = "closed"  // every relay attempt was refused
	VerdictUnknown Verdict = "unknown" // could not tell: unreachable, 421, greylisting, timeouts
)

// Outcome is what became of one attempt.
type Outcome string

// Outcomes.
const (
	OutcomeRelayed   Outcome = "relayed"        // proves relaying: foreign RCPT accepted, or a trick accepted while the control was refused
	OutcomeRefused   Outcome = "refused"        // 5xx to MAIL or RCPT
	OutcomeDeferred  Outcome = "deferred"       // 4xx: greylisting, rate limits, temporary DNS trouble
	OutcomeAmbiguous Outcome = "ambiguous"      // a trick accepted, but so was the control: lenient recipient checks, cannot tell
	OutcomeDomain    Outcome = "domain-refused" // refused because of the external domain itself (not found, null MX), not as relaying
	OutcomeFailed    Outcome = "failed"         // no usable reply: timeout, connection lost, protocol error
	OutcomeAccepted  Outcome = "accepted"       // control recipients only: 2xx
)

// Defaults.
const (
	DefaultPort    = 25
	DefaultTimeout = 10 * time.Second
	// DefaultExternal is the foreign domain the probe asks the server to
	// relay to. It is reserved by RFC 2606 3 and run by IANA, so it is
	// foreign to every server under test and nobody's mailbox can be
	// reached; and unlike names under .invalid or .test it exists in the
	// DNS, so servers that check the recipient domain's existence before
	// the relay decision do not hide a relay behind "domain not found".
	// (Nothing is delivered in any case: the probe never sends DATA.)
	DefaultExternal = "example.net"
	// SenderLocal, UserLocal and controlLocal are the local parts used:
	// recognisable in the server's logs as a test.
	SenderLocal  = "deliverdoctor-probe"
	UserLocal    = "relay-test"
	controlLocal = "no-such-user-"
)

// alternative externals when the default collides with the server's own
// domain (probing IANA's own servers).
var externalFallbacks = []string{"example.net", "example.org", "example.com"}

// Options configure one probe.
type Options struct {
	// Host is the name shown in results (the MX name, or what the user
	// typed). Addrs are tried in order until one accepts the connection.
	Host  string
	Addrs []netip.Addr
	Port  int // default 25
	// External is the foreign domain (default DefaultExternal).
	External string
	// LocalDomain is a domain the server receives mail for (the checked
	// domain for an MX); "" means the name in the server's greeting, else
	// Host, else the address literal.
	LocalDomain string
	// HELO is the EHLO/HELO name; "" means DefaultHELO.
	HELO string
	// AllVariants keeps going after the first relayed variant.
	AllVariants bool
	// Timeout bounds each network step: the dial and every reply.
	Timeout time.Duration
	// Variants replaces the embedded table (tests).
	Variants []Variant
	// Trace, when set, receives every line sent ("C") and received ("S").
	Trace func(dir, line string)
	// Dial, when set, replaces the TCP dialer (serve: refuses private
	// addresses).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Attempt is one MAIL FROM / RCPT TO pair and what the server said.
type Attempt struct {
	Variant      string  `json:"variant"`
	Kind         Kind    `json:"kind"`
	Family       string  `json:"family,omitempty"`
	MailFrom     string  `json:"mail_from"` // the path as sent, angle brackets included ("<>" is the null sender)
	RcptTo       string  `json:"rcpt_to"`   // "" when MAIL was refused and RCPT never sent
	Code         int     `json:"code"`      // the deciding reply: RCPT's, or MAIL's when MAIL was not accepted; 0 when none came
	EnhancedCode string  `json:"enhanced_code"`
	Text         string  `json:"text"`     // reply text, sanitized
	Accepted     bool    `json:"accepted"` // RCPT got a 2xx reply
	Stage        string  `json:"stage"`    // "mail" or "rcpt": which command Code answers
	Outcome      Outcome `json:"outcome"`
	ControlFor   string  `json:"control_for,omitempty"` // control attempts: the trick variant they check
	Error        string  `json:"error,omitempty"`       // network or protocol error, when Outcome is failed
}

// Command is the attempt as the SMTP commands sent.
func (a Attempt) Command() string {
	s := "MAIL FROM:" + a.MailFrom
	if a.RcptTo != "" {
		s += " → RCPT TO:" + a.RcptTo
	}
	return s
}

// Reply is the deciding reply as quoted text.
func (a Attempt) Reply() string {
	if a.Code == 0 {
		return a.Error
	}
	s := strconv.Itoa(a.Code)
	if a.EnhancedCode != "" {
		s += " " + a.EnhancedCode
	}
	if a.Text != "" {
		s += " " + a.Text
	}
	return s
}

// Result is the outcome of probing one server (docs/contracts.md's relay
// contract: host, verdict, attempts; the rest are additions).
type Result struct {
	Host        string    `json:"host"`
	Verdict     Verdict   `json:"verdict"`
	Attempts    []Attempt `json:"attempts"`
	IP          string    `json:"ip,omitempty"` // the address connected to
	Port        int       `json:"port"`
	Banner      string    `json:"banner,omitempty"` // the greeting, sanitized
	ServerName  string    `json:"server_name,omitempty"`
	Greeting    string    `json:"greeting,omitempty"` // "EHLO" or "HELO": which one the server took
	HELOName    string    `json:"helo_name,omitempty"`
	Extensions  []string  `json:"extensions,omitempty"`
	External    string    `json:"external"`
	LocalDomain string    `json:"local_domain,omitempty"`
	// Reason says why the verdict is unknown, or what limited a closed one.
	Reason string `json:"reason,omitempty"`
	// Failure classifies an unknown verdict: dns, unreachable, greeting,
	// helo, timeout, protocol, closed (connection lost or 421), deferred,
	// external-refused, sender-refused, config, untested.
	Failure    string   `json:"failure,omitempty"`
	Untested   []string `json:"untested,omitempty"` // variants never tried (connection ended early)
	Commands   int      `json:"commands"`           // SMTP commands sent, QUIT included
	DurationMS int64    `json:"duration_ms"`
	AuthSeen   bool     `json:"auth_required,omitempty"` // some reply demanded authentication (530, 5.7.0/5.7.1 "authentication required")
	// TLS is set when the server demanded STARTTLS and the probe upgraded.
	TLS bool `json:"tls,omitempty"`
	// Aliases are other MX names with the same address, probed once.
	Aliases []string `json:"aliases,omitempty"`
}

// DefaultHELO is the EHLO name used when none is given: this machine's
// host name if it is fully qualified, else the address literal of our end
// of the connection. RFC 5321 4.1.1.1: a client without a meaningful
// domain name SHOULD send an address literal. Servers commonly refuse
// bare single-label names (Postfix reject_non_fqdn_helo_hostname) and
// sometimes names that do not resolve, but accept address literals.
func DefaultHELO(local net.Addr) string {
	if h, err := os.Hostname(); err == nil && isFQDN(h) {
		return strings.ToLower(strings.TrimSuffix(h, "."))
	}
	if ta, ok := local.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return AddressLiteral(ip)
		}
	}
	return "[127.0.0.1]"
}

// ValidHELO checks an EHLO/HELO argument: a domain name or an address
// literal (RFC 5321 4.1.1.1: "EHLO" SP ( Domain / address-literal )).
func ValidHELO(s string) error {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		in := strings.TrimPrefix(s[1:len(s)-1], "IPv6:")
		if ip, err := netip.ParseAddr(in); err == nil && (ip.Is4() != strings.HasPrefix(s, "[IPv6:")) {
			return nil
		}
		return fmt.Errorf("HELO name %q is not a valid address literal ([192.0.2.1] or [IPv6:2001:db8::1])", s)
	}
	if !isDomainish(s) {
		return fmt.Errorf("HELO name %q is not a fully qualified domain name or an address literal", s)
	}
	return nil
}

func isFQDN(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if !strings.Contains(h, ".") || strings.HasSuffix(h, ".localdomain") || strings.HasSuffix(h, ".local") || h == "localhost.localdomain" {
		return false
	}
	return isDomainish(h)
}

// isDomainish reports an LDH host name with at least two labels.
func isDomainish(s string) bool {
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ChooseExternal picks the foreign domain: ext if given (it must not be,
// contain or be inside local), else the first reserved name that is
// foreign to local.
func ChooseExternal(ext, local string) (string, error) {
	ext = strings.ToLower(strings.TrimSuffix(ext, "."))
	local = strings.ToLower(strings.TrimSuffix(local, "."))
	if ext != "" {
		if !isDomainish(ext) {
			return "", fmt.Errorf("the external domain %q is not a domain name", ext)
		}
		if related(ext, local) {
			return "", fmt.Errorf("the external domain %s is not foreign to %s: give a domain the server does not receive mail for", ext, local)
		}
		return ext, nil
	}
	for _, d := range externalFallbacks {
		if !related(d, local) {
			return d, nil
		}
	}
	return DefaultExternal, nil
}

func related(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}

// Probe runs the relay probe against one server. It always returns a
// Result; problems reaching or talking to the server give verdict unknown
// with Failure and Reason set.
func Probe(ctx context.Context, o Options) *Result {
	start := time.Now()
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	res := &Result{Host: o.Host, Port: o.Port, Verdict: VerdictUnknown, Attempts: []Attempt{}}
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	p := &prober{o: o, res: res}
	p.run(ctx)
	res.Verdict, res.Failure, res.Reason = decide(res, p)
	return res
}

type prober struct {
	o   Options
	res *Result
	c   *conn
	// sessionErr ends the dialogue: timeout, lost connection, 421.
	sessionErr error
	// sessionFailure classifies sessionErr.
	sessionFailure string
	stopped        bool   // stopped early on purpose (relayed, not --all-variants)
	untested       []Step // variants never tried
}

func (p *prober) fail(kind string, err error) {
	p.sessionFailure = kind
	p.sessionErr = err
}

func (p *prober) run(ctx context.Context) {
	o, res := p.o, p.res
	var addrs []string
	for _, a := range o.Addrs {
		addrs = append(addrs, net.JoinHostPort(a.Unmap().String(), strconv.Itoa(o.Port)))
	}
	nc, used, err := dial(ctx, addrs, o.Timeout, o.Dial)
	if err != nil {
		p.fail("unreachable", err)
		return
	}
	host, _, _ := net.SplitHostPort(used)
	res.IP = host
	ip, _ := netip.ParseAddr(host)
	// Cancellation expires every deadline for good, also those the next
	// step sets after it (a plain AfterFunc would lose that race).
	wc, stopWatch := ctxconn.Watch(ctx, nc)
	defer stopWatch()
	nc = wc
	c := newConn(nc, o.Timeout)
	c.log = o.Trace
	p.c = c
	defer func() { res.Commands = c.sent }()

	// RFC 5321 3.1: the greeting. 220 is service ready; 554 means the
	// server will not talk to us (it must then wait for QUIT); 421 is
	// "service not available" (and the server closes).
	greet, err := c.readReply()
	if err != nil {
		p.fail(classify(err), fmt.Errorf("greeting: %w", err))
		_ = nc.Close()
		return
	}
	res.Banner = greet.String()
	res.ServerName = nameFromReply(greet)
	if greet.Code != 220 {
		p.fail("greeting", fmt.Errorf("the server greeted with %s instead of 220", greet.String()))
		c.quit(greet.Code == 554)
		return
	}

	helo := o.HELO
	if helo == "" {
		helo = DefaultHELO(nc.LocalAddr())
	}
	if err := ValidHELO(helo); err != nil {
		p.fail("config", err)
		c.quit(true)
		return
	}
	res.HELOName = helo
	if !p.hello(helo) {
		return
	}

	local := o.LocalDomain
	if local == "" {
		local = res.ServerName
	}
	if local == "" && o.Host != "" && isDomainish(o.Host) {
		if _, err := netip.ParseAddr(o.Host); err != nil {
			local = strings.ToLower(strings.TrimSuffix(o.Host, "."))
		}
	}
	literal := AddressLiteral(ip)
	if local == "" {
		local = literal
	}
	res.LocalDomain = local
	server := res.ServerName
	if server == "" {
		server = local
	}
	ext, err := ChooseExternal(o.External, local)
	if err != nil {
		p.fail("config", err)
		c.quit(true)
		return
	}
	res.External = ext
	vs := o.Variants
	if vs == nil {
		vs = Variants()
	}
	steps := Plan(vs, Params{Sender: SenderLocal, User: UserLocal, External: ext, Local: local, Server: server, Literal: literal})
	p.variants(steps)
	if p.sessionErr == nil {
		c.quit(true)
	} else if !errors.Is(p.sessionErr, io.EOF) && !errors.Is(p.sessionErr, io.ErrUnexpectedEOF) {
		c.quit(false)
	} else {
		_ = nc.Close()
	}
}

// hello sends EHLO, falling back to HELO on a 5xx (RFC 5321 3.2 and
// 4.1.4: a server that does not support EHLO answers 500/502/550, some
// send other 5xx codes).
func (p *prober) hello(name string) bool {
	r, err := p.c.cmd("EHLO", name)
	if err != nil {
		p.fail(classify(err), fmt.Errorf("EHLO: %w", err))
		p.c.quit(false)
		return false
	}
	if r.Positive() {
		p.res.Greeting = "EHLO"
		p.res.Extensions = extensions(r)
		if p.res.ServerName == "" {
			p.res.ServerName = nameFromReply(r)
		}
		return true
	}
	if r.Class() == 5 {
		r2, err := p.c.cmd("HELO", name)
		if err != nil {
			p.fail(classify(err), fmt.Errorf("HELO: %w", err))
			p.c.quit(false)
			return false
		}
		if r2.Positive() {
			p.res.Greeting = "HELO"
			return true
		}
		r = r2
	}
	kind := "helo"
	if r.Class() != 5 {
		kind = "closed" // 421 and other non-answers: not a verdict on our name
	}
	p.fail(kind, fmt.Errorf("the server refused our EHLO/HELO %s: %s", name, r.String()))
	p.c.quit(r.Code != 421)
	return false
}

// variants runs the plan: RSET between attempts, stop at the first relayed
// variant unless AllVariants, stop for good on 421 or a broken session.
func (p *prober) variants(steps []Step) {
	refusedSenders := map[string]bool{}
	goodSender := ""
	control := controlLocal + randomHex(4)
	for i, s := range steps {
		if p.sessionErr != nil || p.stopped {
			p.skip(s)
			continue
		}
		if i > 0 {
			// RFC 5321 4.1.1.5: RSET aborts the transaction; every
			// attempt starts clean.
			r, err := p.c.cmd("RSET", "")
			if err != nil || !r.Positive() {
				if err == nil {
					err = fmt.Errorf("RSET answered %s", r.String())
				}
				p.fail(classify(err), err)
				p.skip(s)
				continue
			}
		}
		a := Attempt{Variant: s.ID, Kind: s.Kind, Family: s.Family, MailFrom: s.MailFrom}
		// A trick tests its recipient, not its sender: if that sender was
		// already refused, use one the server took.
		if s.Kind == KindTrick && refusedSenders[a.MailFrom] && goodSender != "" {
			a.MailFrom = goodSender
		}
		mr, err := p.c.cmd("MAIL", "FROM:"+a.MailFrom)
		if err == nil && tlsRequired(mr) && !p.res.TLS && p.hasExtension("STARTTLS") {
			// RFC 3207: the server wants TLS first (a submission port, or a
			// misconfigured MX). Relaying is as bad over TLS, so upgrade once
			// and ask again.
			if !p.starttls() {
				p.skip(s)
				continue
			}
			mr, err = p.c.cmd("MAIL", "FROM:"+a.MailFrom)
		}
		if err != nil {
			p.fail(classify(err), fmt.Errorf("MAIL FROM: %w", err))
			a.Stage, a.Outcome, a.Error = "mail", OutcomeFailed, errText(err)
			p.res.Attempts = append(p.res.Attempts, a)
			continue
		}
		if !mr.Positive() {
			a.Stage = "mail"
			setReply(&a, mr)
			a.Outcome = outcomeOfRefusal(mr, false)
			if mr.Class() == 5 {
				refusedSenders[a.MailFrom] = true
			}
			p.noteAuth(mr)
			p.res.Attempts = append(p.res.Attempts, a)
			if mr.Code == 421 {
				p.fail("closed", fmt.Errorf("the server ended the session: %s", mr.String()))
			}
			continue
		}
		if goodSender == "" || goodSender == "<>" {
			goodSender = a.MailFrom // prefer a real address over the null sender
		}
		a.RcptTo = s.RcptTo
		a.Stage = "rcpt"
		rr, err := p.c.cmd("RCPT", "TO:"+a.RcptTo)
		if err != nil {
			p.fail(classify(err), fmt.Errorf("RCPT TO: %w", err))
			a.Outcome, a.Error = OutcomeFailed, errText(err)
			p.res.Attempts = append(p.res.Attempts, a)
			continue
		}
		setReply(&a, rr)
		p.noteAuth(rr)
		switch {
		case rr.Positive() && s.Kind == KindForeign:
			a.Accepted, a.Outcome = true, OutcomeRelayed
		case rr.Positive():
			a.Accepted, a.Outcome = true, OutcomeAmbiguous
			ctl := p.control(s, a.MailFrom, controlPath(a.RcptTo, control))
			// A refused control means the server does not take just any
			// local part at that domain, yet it took this one: it parsed
			// the hidden foreign address and will relay.
			if ctl.Outcome == OutcomeRefused {
				a.Outcome = OutcomeRelayed
			}
			p.res.Attempts = append(p.res.Attempts, a, ctl)
			if a.Outcome == OutcomeRelayed && !p.o.AllVariants {
				p.stopped = true
			}
			continue
		default:
			a.Outcome = outcomeOfRefusal(rr, s.Kind == KindForeign)
			if rr.Code == 421 {
				p.fail("closed", fmt.Errorf("the server ended the session: %s", rr.String()))
			}
		}
		p.res.Attempts = append(p.res.Attempts, a)
		if a.Outcome == OutcomeRelayed && !p.o.AllVariants {
			p.stopped = true
		}
	}
}

// control sends the control RCPT in the same transaction as an accepted
// trick.
func (p *prober) control(s Step, mailFrom, path string) Attempt {
	a := Attempt{Variant: s.ID + "-control", Kind: KindControl, Family: s.Family, MailFrom: mailFrom, RcptTo: path, Stage: "rcpt", ControlFor: s.ID}
	r, err := p.c.cmd("RCPT", "TO:"+path)
	if err != nil {
		p.fail(classify(err), fmt.Errorf("RCPT TO (control): %w", err))
		a.Outcome, a.Error = OutcomeFailed, errText(err)
		return a
	}
	setReply(&a, r)
	switch r.Class() {
	case 2:
		a.Accepted, a.Outcome = true, OutcomeAccepted
	case 5:
		a.Outcome = OutcomeRefused
	default:
		a.Outcome = OutcomeDeferred
	}
	if r.Code == 421 {
		p.fail("closed", fmt.Errorf("the server ended the session: %s", r.String()))
	}
	return a
}

// hasExtension reports whether the EHLO reply listed kw.
func (p *prober) hasExtension(kw string) bool {
	for _, e := range p.res.Extensions {
		if e == kw {
			return true
		}
	}
	return false
}

// starttls upgrades the session (RFC 3207 4) and repeats EHLO (4.2: the
// client must forget what it learnt before). The certificate is not
// checked: this probe asks about relaying; certificates are the smtp
// check's business.
func (p *prober) starttls() bool {
	r, err := p.c.cmd("STARTTLS", "")
	if err != nil || r.Code != 220 {
		if err == nil {
			err = fmt.Errorf("STARTTLS answered %s", r.String())
		}
		p.fail(classify(err), fmt.Errorf("STARTTLS: %w", err))
		return false
	}
	// Plaintext queued behind the 220 would be read as if it came over
	// TLS (the STARTTLS command injection of CVE-2011-0411, reversed).
	if n := p.c.br.Buffered(); n > 0 {
		p.fail("protocol", fmt.Errorf("%w: %d bytes after the STARTTLS reply", errReplySyntax, n))
		return false
	}
	serverName := ""
	if p.res.ServerName != "" {
		serverName = p.res.ServerName
	}
	tc := tls.Client(p.c.nc, &tls.Config{InsecureSkipVerify: true, ServerName: serverName, MinVersion: tls.VersionTLS10}) //nolint:gosec // see above
	_ = tc.SetDeadline(time.Now().Add(p.c.timeout))
	if err := tc.Handshake(); err != nil {
		p.fail("protocol", fmt.Errorf("TLS handshake: %w", err))
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	p.c.nc = tc
	p.c.br = bufio.NewReaderSize(tc, maxLineLen)
	p.res.TLS = true
	r, err = p.c.cmd("EHLO", p.res.HELOName)
	if err != nil || !r.Positive() {
		if err == nil {
			err = fmt.Errorf("EHLO after STARTTLS answered %s", r.String())
		}
		p.fail(classify(err), err)
		return false
	}
	p.res.Extensions = extensions(r)
	return true
}

// tlsRequired recognises "530 5.7.0 Must issue a STARTTLS command first"
// (RFC 3207 4).
func tlsRequired(r Reply) bool {
	return r.Class() == 5 && strings.Contains(strings.ToUpper(strings.Join(r.Lines, " ")), "STARTTLS")
}

// skip records a variant that was never tried.
func (p *prober) skip(s Step) {
	p.res.Untested = append(p.res.Untested, s.ID)
	p.untested = append(p.untested, s)
}

func (p *prober) noteAuth(r Reply) {
	if authRequired(r) {
		p.res.AuthSeen = true
	}
}

func setReply(a *Attempt, r Reply) {
	a.Code, a.EnhancedCode, a.Text = r.Code, r.Enhanced, r.Text()
}

// outcomeOfRefusal classifies a non-2xx reply to MAIL or RCPT. For a
// foreign RCPT, a permanent refusal about the external recipient or domain
// itself (RFC 3463 5.1.1 bad destination mailbox, 5.1.2 bad destination
// system, 5.1.10 null MX, 5.4.4 unable to route) does not answer the relay
// question: a closed relay says "relaying denied" (5.7.1 and friends); a
// server that checked whether the foreign mailbox or domain can take mail
// was considering delivering it, and might for one that exists.
func outcomeOfRefusal(r Reply, foreignRcpt bool) Outcome {
	switch r.Class() {
	case 4:
		return OutcomeDeferred
	case 5:
		if foreignRcpt && domainRefusal(r) {
			return OutcomeDomain
		}
		return OutcomeRefused
	}
	// 1yz/3yz to MAIL or RCPT is a protocol violation.
	return OutcomeFailed
}

func domainRefusal(r Reply) bool {
	t := strings.ToLower(strings.Join(r.Lines, " "))
	// "Relay access denied" is a relay decision whatever the code; the
	// recipient echoed in the text (<relay-test@...>) does not count.
	if strings.Contains(strings.ReplaceAll(stripBracketed(t), UserLocal, ""), "relay") {
		return false
	}
	switch r.Enhanced {
	case "5.1.1", "5.1.2", "5.1.10", "5.4.4":
		return true
	}
	for _, k := range []string{"domain not found", "nullmx", "null mx", "does not accept mail", "host not found"} {
		if strings.Contains(t, k) {
			return true
		}
	}
	return false
}

// stripBracketed removes <...> segments (echoed addresses) from s.
func stripBracketed(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '<':
			depth++
		case r == '>' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// authRequired recognises "authenticate first" replies: 530 (RFC 4954 6)
// or 5.7.x with authentication in the text.
func authRequired(r Reply) bool {
	return isAuthReply(r.Code, r.Enhanced, strings.Join(r.Lines, " "))
}

func (a Attempt) authRequired() bool { return isAuthReply(a.Code, a.EnhancedCode, a.Text) }

func isAuthReply(code int, enhanced, text string) bool {
	t := strings.ToLower(text)
	if strings.Contains(t, "starttls") {
		return false // TLS required, not authentication
	}
	if code == 530 {
		return true
	}
	return code/100 == 5 && strings.HasPrefix(enhanced, "5.7.") && (strings.Contains(t, "authenticat") || strings.Contains(t, "auth required"))
}

// nameFromReply takes the domain the server announces at the start of its
// greeting or EHLO reply (RFC 5321 4.2: "220 domain text").
func nameFromReply(r Reply) string {
	if len(r.Lines) == 0 {
		return ""
	}
	f := strings.Fields(r.Lines[0])
	if len(f) == 0 {
		return ""
	}
	n := strings.ToLower(strings.TrimSuffix(f[0], "."))
	if isDomainish(n) && !strings.Contains(n, "_") {
		if _, err := netip.ParseAddr(n); err != nil {
			return n
		}
	}
	return ""
}

// extensions lists the EHLO keywords (RFC 5321 4.1.1.1), sanitized.
func extensions(r Reply) []string {
	var out []string
	for i, l := range r.Lines {
		if i == 0 || len(out) >= 30 {
			continue
		}
		kw := strings.Fields(l)
		if len(kw) == 0 {
			continue
		}
		w := strings.ToUpper(kw[0])
		if len(w) > 32 || !isKeyword(w) {
			continue
		}
		out = append(out, w)
	}
	return out
}

func isKeyword(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

func classify(err error) string {
	switch {
	case errors.Is(err, errTimeout):
		return "timeout"
	case errors.Is(err, errReplySyntax), errors.Is(err, ErrForbiddenCommand):
		return "protocol"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	}
	return "closed"
}

func errText(err error) string {
	if errors.Is(err, errTimeout) {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
