// Package headers analyses a received message the way its receiver did:
// it reads what the receiver recorded (Authentication-Results, RFC 8601;
// Received-SPF, RFC 7208 9.1; the Received chain, RFC 5321 4.4), finds the
// client that handed the message to the receiver, and computes SPF
// (internal/spf), DKIM (internal/dkim) and DMARC (internal/dmarc) again, so
// the user sees what the receiver saw next to what holds now, with every
// failure tied to the bounce codes it causes.
package headers

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

// Where the client IP was found (Analysis.ClientIPSource).
const (
	SourceReceivedSPF = "received-spf"           // client-ip= of the receiver's Received-SPF
	SourceAuthResults = "authentication-results" // an address in the receiver's Authentication-Results
	SourceReceived    = "received"               // the border hop of the Received chain
)

// Analysis is everything Analyze found out about a message.
type Analysis struct {
	From       string `json:"from,omitempty"`
	FromDomain string `json:"from_domain,omitempty"`
	// ReturnPath is the RFC5321.MailFrom the receiver recorded; NullSender
	// is set for "<>" (bounces), when SPF checks the HELO name instead.
	ReturnPath     string `json:"return_path,omitempty"`
	NullSender     bool   `json:"null_sender,omitempty"`
	MailFromSource string `json:"mail_from_source,omitempty"`
	// Receiver is the receiving ADMD: the authserv-id of its
	// Authentication-Results, or the host of the topmost Received.
	Receiver string `json:"receiver,omitempty"`
	// ClientIP is the address of the last external hop: the client that
	// connected to the receiver. HELO is the name it gave.
	ClientIP       string `json:"client_ip,omitempty"`
	ClientIPSource string `json:"client_ip_source,omitempty"`
	HELO           string `json:"helo,omitempty"`
	// ChainIP is what the Received chain alone says, when it differs.
	ChainIP string `json:"received_chain_ip,omitempty"`

	Received    []Hop         `json:"received"`
	AuthResults []AuthResults `json:"authentication_results"`
	ReceivedSPF []ReceivedSPF `json:"received_spf"`

	// SPF is check_host() for ClientIP now (nil when it is unknown).
	SPF *spf.Evaluation `json:"-"`
	// DKIM is the verification of every signature now.
	DKIM *dkim.MessageVerification `json:"-"`
	// DMARC is the DMARC evaluation now (nil without a From domain).
	DMARC    *dmarc.Evaluation `json:"-"`
	DMARCErr error             `json:"-"`
}

// Analyze reads msg (from dkim.ReadMessage) and computes SPF, DKIM and
// DMARC through r. The error is for input that is no message at all.
func Analyze(ctx context.Context, r dnsx.Resolver, msg []byte) (*Analysis, error) {
	fields, _, _ := dkim.SplitHeader(msg)
	if len(fields) == 0 {
		return nil, fmt.Errorf("no header fields: this does not look like an e-mail message")
	}
	a := &Analysis{Received: []Hop{}, AuthResults: []AuthResults{}, ReceivedSPF: []ReceivedSPF{}}
	for _, v := range dkim.Values(fields, "Authentication-Results") {
		a.AuthResults = append(a.AuthResults, ParseAuthResults(v))
	}
	for _, v := range dkim.Values(fields, "Received-SPF") {
		a.ReceivedSPF = append(a.ReceivedSPF, ParseReceivedSPF(v))
	}
	for i, v := range dkim.Values(fields, "Received") {
		h := ParseReceived(v)
		h.Index = i + 1
		a.Received = append(a.Received, h)
	}
	if froms := dkim.Values(fields, "From"); len(froms) > 0 {
		a.From = froms[0]
		a.FromDomain, _ = dkim.AuthorDomain(froms[0])
	}
	a.findReceiver()
	a.findMailFrom(fields)
	a.findClient()

	// DKIM and SPF are independent: run them together. DMARC needs both.
	var wg sync.WaitGroup
	var verr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.DKIM, verr = dkim.VerifyMessage(ctx, r, msg, nil)
	}()
	if ip, err := netip.ParseAddr(a.ClientIP); err == nil {
		a.SPF = spf.CheckHost(ctx, r, spf.Args{IP: ip, Domain: a.spfDomain(), Sender: a.spfSender(), HELO: a.HELO, ReceivingHost: a.Receiver})
	}
	wg.Wait()
	if verr != nil {
		return nil, verr
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
	return a, nil
}

// ReceiverAuthResults is the receiver's own Authentication-Results: the
// topmost one, the last added (RFC 8601 5: receivers remove or ignore
// fields claiming their authserv-id that arrived with the message, so
// the topmost is theirs).
func (a *Analysis) ReceiverAuthResults() *AuthResults {
	if len(a.AuthResults) == 0 {
		return nil
	}
	return &a.AuthResults[0]
}

// receiverResults returns the receiver's results for method.
func (a *Analysis) receiverResults(method string) []AuthResult {
	ar := a.ReceiverAuthResults()
	if ar == nil {
		return nil
	}
	var out []AuthResult
	for _, r := range ar.Results {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func (a *Analysis) findReceiver() {
	if ar := a.ReceiverAuthResults(); ar != nil && ar.AuthServID != "" {
		a.Receiver = ar.AuthServID
		return
	}
	for _, h := range a.Received {
		if h.By != "" && !validIP(h.By) {
			a.Receiver = h.By
			return
		}
	}
}

// findMailFrom takes the envelope sender from Return-Path (written by the
// final delivery, RFC 5321 4.4), else from what the receiver recorded.
func (a *Analysis) findMailFrom(fields []dkim.Field) {
	set := func(v, src string) bool {
		v = strings.TrimSpace(v)
		if v == "" {
			return false
		}
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">"))
		a.ReturnPath, a.NullSender, a.MailFromSource = v, v == "", src
		return true
	}
	if rp := dkim.Values(fields, "Return-Path"); len(rp) > 0 && set(rp[0], "Return-Path") {
		return
	}
	if len(a.ReceivedSPF) > 0 && set(a.ReceivedSPF[0].Properties["envelope-from"], "Received-SPF envelope-from") {
		return
	}
	for _, r := range a.receiverResults("spf") {
		if set(r.Prop("smtp.mailfrom"), "Authentication-Results smtp.mailfrom") {
			return
		}
	}
}

// spfDomain is the identity SPF checks: the MAIL FROM domain, or the HELO
// name for the null sender (RFC 7208 2.4).
func (a *Analysis) spfDomain() string {
	if !a.NullSender && a.ReturnPath != "" {
		if _, d, ok := strings.Cut(a.ReturnPath, "@"); ok {
			return strings.ToLower(d)
		}
		return strings.ToLower(a.ReturnPath) // smtp.mailfrom may be a bare domain
	}
	return strings.ToLower(a.HELO)
}

func (a *Analysis) spfSender() string {
	if a.NullSender || !strings.Contains(a.ReturnPath, "@") {
		return ""
	}
	return a.ReturnPath
}

var (
	designatesIP = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)designates ([0-9a-f:.]+) as`) })
	senderIPIs   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)sender IP is ([0-9a-f:.]+)`) })
)

// findClient determines the client IP, in decreasing order of trust:
//
//  1. client-ip= of the topmost Received-SPF (RFC 7208 9.1), which the
//     receiver wrote for the connection it saw;
//  2. an address in the receiver's Authentication-Results: smtp.remote-ip,
//     policy.iprev, or the address in the SPF comment ("designates IP as
//     permitted sender", Gmail; "sender IP is IP", Microsoft);
//  3. the Received chain: from the top, hops inside the receiver are
//     skipped (no client address; a private, loopback, link-local or
//     shared address; or a client whose name is in the receiver's
//     organisational domain), and the first other hop is the border,
//     whose client address is the last external hop. Everything below it
//     was written by the sending side and is not trusted.
//
// The HELO name comes from the border hop, else from Received-SPF helo= or
// Authentication-Results smtp.helo.
func (a *Analysis) findClient() {
	border := a.markBorder()
	if border >= 0 {
		a.ChainIP = a.Received[border].IP
		a.HELO = a.Received[border].HELO
	}
	if len(a.ReceivedSPF) > 0 {
		rs := a.ReceivedSPF[0]
		if ip := rs.Properties["client-ip"]; validIP(ip) {
			a.ClientIP, a.ClientIPSource = ip, SourceReceivedSPF
		}
		if a.HELO == "" {
			a.HELO = rs.Properties["helo"]
		}
	}
	if a.ClientIP == "" {
		if ar := a.ReceiverAuthResults(); ar != nil {
			for _, r := range ar.Results {
				for _, ip := range []string{r.Prop("smtp.remote-ip"), r.Prop("policy.iprev"), submatch(designatesIP(), r.Comment), submatch(senderIPIs(), r.Comment)} {
					if a.ClientIP == "" && validIP(ip) {
						a.ClientIP, a.ClientIPSource = ip, SourceAuthResults
					}
				}
				if a.HELO == "" && r.Method == "spf" {
					a.HELO = r.Prop("smtp.helo")
				}
			}
		}
	}
	if a.ClientIP == "" && a.ChainIP != "" {
		a.ClientIP, a.ClientIPSource = a.ChainIP, SourceReceived
	}
	if a.ChainIP == a.ClientIP {
		a.ChainIP = ""
	}
}

func submatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// markBorder sets each hop's Role and returns the border hop's index (-1
// when there is none).
func (a *Analysis) markBorder() int {
	receiverOrg := ""
	if a.Receiver != "" {
		receiverOrg = dmarc.PSLOrganizationalDomain(a.Receiver)
	}
	border, lastInternal := -1, -1
	for i := range a.Received {
		h := &a.Received[i]
		if border >= 0 {
			h.Role = "sender"
			continue
		}
		h.Role = "receiver"
		ip, err := netip.ParseAddr(h.IP)
		if err != nil {
			continue // locally generated, or no address recorded
		}
		if internalAddr(ip) {
			continue
		}
		lastInternal = i
		if receiverOrg != "" && (sameOrg(h.RDNS, receiverOrg) || (h.RDNS == "" && sameOrg(h.HELO, receiverOrg))) {
			continue // a relay of the receiver's own
		}
		h.Role, border = "border", i
	}
	if border < 0 && lastInternal >= 0 {
		// Sender and receiver are one organisation (Gmail to Gmail): the
		// lowest public hop is where the message entered.
		border = lastInternal
		a.Received[border].Role = "border"
		for i := border + 1; i < len(a.Received); i++ {
			a.Received[i].Role = "sender"
		}
	}
	return border
}

func sameOrg(host, org string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host != "" && !validIP(host) && dmarc.PSLOrganizationalDomain(host) == org
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598, carrier-grade NAT

func internalAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || sharedSpace.Contains(ip)
}
