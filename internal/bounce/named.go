package bounce

import (
	"net/netip"
	"strings"
)

// Named is what a receiver's reply names itself: the sending domain it
// judged, the sending IP, and the blocklist it consulted. explain --check
// runs the linked checks on these rather than guessing.
type Named struct {
	Domain string `json:"domain,omitempty"`
	IP     string `json:"ip,omitempty"`
	List   string `json:"list,omitempty"` // a DNSBL zone ("zen.spamhaus.org")
}

const domainRe = `([a-z0-9](?:[a-z0-9-]{0,62}\.)+[a-z]{2,63})`

// namedDomainRes find the sending domain in providers' replies; each
// names one domain in one place.
var namedDomainRes = []*lazyRE{
	// Microsoft 5.7.509/5.7.515: "Access denied, sending domain example.com does not pass DMARC verification".
	lazyRegexp(`(?i)sending domain \[?` + domainRe + `\]? (?:does not|doesn't|did not)`),
	// Gmail 4.7.27/5.7.27: "SPF [example.com] with ip: [192.0.2.10] = did not pass".
	lazyRegexp(`(?i)\bSPF \[` + domainRe + `\] with ip`),
	// Gmail 5.7.26: "Unauthenticated email from example.com is not accepted due to domain's DMARC policy".
	lazyRegexp(`(?i)unauthenticated email from ` + domainRe + ` is not accepted`),
	// Gmail: "The MAIL FROM domain [example.com] has an SPF record with a hard fail policy".
	lazyRegexp(`(?i)mail from domain \[` + domainRe + `\]`),
	// Gmail 4.7.28: "originating from your DKIM domain [example.com]".
	lazyRegexp(`(?i)DKIM domain \[` + domainRe + `\]`),
	// iCloud: "Your message was rejected due to example.com DMARC policy".
	lazyRegexp(`(?i)due to ` + domainRe + `(?:'s)? DMARC policy`),
	// Gmail SPF: "domain of example.com does not designate 192.0.2.10 as permitted sender".
	lazyRegexp(`(?i)domain of ` + domainRe + ` does not designate`),
}

// namedListRes find "this IP is on that list".
var namedListRes = []*lazyRE{
	// Postfix reject_rbl_client: "Client host [192.0.2.10] blocked using zen.spamhaus.org".
	lazyRegexp(`(?i)client host \[?([0-9a-f.:]+)\]? blocked using ` + domainRe),
	// Exim dnslists: "rejected because 192.0.2.10 is in a black list at zen.spamhaus.org".
	lazyRegexp(`(?i)\b([0-9a-f.:]{7,39}) is (?:in a black ?list|listed) (?:at|in|on|by) ` + domainRe),
}

// listNames maps blocklists named in prose to their DNS zone.
var listNames = []struct {
	re   *lazyRE
	zone string
}{
	{lazyRegexp(`(?i)barracuda reputation`), "b.barracudacentral.org"},
	{lazyRegexp(`(?i)spamhaus'?s? list|listed (?:at|in|on|by) spamhaus`), "zen.spamhaus.org"},
	{lazyRegexp(`(?i)spamcop`), "bl.spamcop.net"},
}

// NamedInReply reads what a reply names: the sending domain ("sending
// domain X does not pass DMARC", "SPF [X] with ip: [IP]"), the sending IP
// and the blocklist ("Client host [IP] blocked using LIST"). Fields the
// text does not name are empty.
func NamedInReply(text string) Named {
	if len(text) > maxMatchText {
		text = text[:maxMatchText]
	}
	var n Named
	for _, re := range namedDomainRes {
		if m := re.FindStringSubmatch(text); m != nil {
			n.Domain = strings.ToLower(strings.TrimSuffix(m[1], "."))
			break
		}
	}
	for _, re := range namedListRes {
		if m := re.FindStringSubmatch(text); m != nil {
			if ip, err := netip.ParseAddr(m[1]); err == nil {
				n.IP, n.List = ip.String(), strings.ToLower(m[2])
				break
			}
		}
	}
	if n.List == "" {
		for _, l := range listNames {
			if l.re.MatchString(text) {
				n.List = l.zone
				break
			}
		}
	}
	if n.IP == "" {
		n.IP = findSenderIP(text)
	}
	return n
}

// Primary is the failure a bounce is explained by: the first recipient
// that failed or was delayed (nil when every recipient was delivered).
func (b *Bounce) Primary() *Failure {
	for i := range b.Failures {
		if f := &b.Failures[i]; f.DSNAction == "failed" || f.DSNAction == "delayed" {
			return f
		}
	}
	return nil
}

// SendingDomains lists the domains a bounce says the message was sent
// as, most specific first, each once: the author (From:), the envelope
// sender (Return-Path / MAIL FROM) and the DKIM signers (d=). Which one a
// receiver judged depends on the check: SPF the envelope sender's, DKIM the
// signer's, DMARC the author's.
func (b *Bounce) SendingDomains() []SendingDomain {
	var out []SendingDomain
	add := func(d, from string) {
		d = strings.ToLower(strings.Trim(d, "<>. "))
		if d == "" {
			return
		}
		for _, o := range out {
			if o.Domain == d {
				return
			}
		}
		out = append(out, SendingDomain{Domain: d, From: from})
	}
	add(b.SenderDomain, "From")
	if i := strings.LastIndexByte(b.MailFrom, '@'); i >= 0 {
		add(b.MailFrom[i+1:], "Return-Path")
	}
	for _, k := range b.DKIM {
		add(k.Domain, "DKIM d=")
	}
	return out
}

// SendingDomain is a domain a message was sent as and the header that
// says so.
type SendingDomain struct {
	Domain string `json:"domain"`
	From   string `json:"from"` // From, Return-Path, DKIM d=
}

// ConfirmsCode reports whether a check finding's bounce codes include
// code, or the same subject.detail in the other class (4.7.26 and 5.7.26
// have one cause).
func ConfirmsCode(bounceCodes []string, code string) bool {
	c, err := ParseCode(code)
	if err != nil {
		return false
	}
	for _, bc := range bounceCodes {
		if x, err := ParseCode(bc); err == nil && x.Subject == c.Subject && x.Detail == c.Detail {
			return true
		}
	}
	return false
}
