package relay

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

const checkName = "relay"

// Where is the server as a person reads it: "mx.example.com [192.0.2.1]:25".
func (r *Result) Where() string {
	addr := r.IP
	if addr == "" {
		return net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	}
	hp := net.JoinHostPort(addr, strconv.Itoa(r.Port))
	if r.Host == "" || r.Host == addr {
		return hp
	}
	return r.Host + " " + hp
}

// Status is the check status the verdict implies (open fail, unknown
// error, closed pass or warn when address tricks stayed ambiguous).
func (r *Result) Status() findings.Status {
	return findings.StatusFromFindings(r.Findings())
}

// Relay-closing instructions, per MTA. Sources: Postfix SMTPD_ACCESS_README
// and postconf(5) (smtpd_relay_restrictions since 2.10, mynetworks,
// allow_untrusted_routing); Exim spec chapter 43 "Access control lists"
// and Debian's update-exim4.conf.conf (dc_relay_nets, dc_relay_domains);
// Exchange Server receive connector permissions (Get-ADPermission,
// ms-Exch-SMTP-Accept-Any-Recipient, Set-ReceiveConnector -RemoteIPRanges).
const (
	fixPostfix = "Postfix (main.cf): mynetworks = 127.0.0.0/8 [::1]/128 plus only hosts you really trust (never 0.0.0.0/0 or your provider's whole range); " +
		"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination " +
		"(before Postfix 2.10 put these three first in smtpd_recipient_restrictions); relay_domains = only the domains you are a backup MX for; " +
		"allow_untrusted_routing = no; then `postfix reload` and check with `postconf -n | grep -E 'mynetworks|relay'`."
	fixExim = "Exim: hostlist relay_from_hosts = <; 127.0.0.1 ; ::1 and in the acl_smtp_rcpt ACL (acl_check_rcpt) keep " +
		"`accept hosts = +relay_from_hosts`, `accept authenticated = *`, then `require message = relay not permitted` / `domains = +local_domains : +relay_to_domains`; " +
		"on Debian set dc_relay_nets='' and dc_relay_domains='' in /etc/exim4/update-exim4.conf.conf, run update-exim4.conf and restart exim4."
	fixExchange = "Exchange: internet-facing receive connectors must not give anonymous users the right to relay: find it with " +
		"`Get-ReceiveConnector | Get-ADPermission -User 'NT AUTHORITY\\ANONYMOUS LOGON' | Where-Object {$_.ExtendedRights -like 'ms-Exch-SMTP-Accept-Any-Recipient'}` " +
		"and remove it with `Remove-ADPermission -Identity 'SERVER\\Connector' -User 'NT AUTHORITY\\ANONYMOUS LOGON' -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient`; " +
		"keep an anonymous relay connector only for the application servers that need it: `Set-ReceiveConnector 'SERVER\\Relay' -RemoteIPRanges 10.0.0.25`."
)

var familyWords = map[string]string{
	"percent-hack":      "the percent hack (user%foreign@local, which sendmail-style routers rewrite to user@foreign and forward)",
	"bang-path":         "a UUCP bang path (foreign!user, routed to user@foreign by servers that still honour it)",
	"quoted-local-part": "a quoted local part holding a foreign address (\"user@foreign\" or \"user%foreign\")",
	"double-at":         "an address with two @ signs (user@foreign@local; some parsers route on the first domain)",
	"source-route":      "a source route (@local:user@foreign; RFC 5321 4.1.1.3 says the route is ignored and the mail goes to user@foreign)",
	"sender":            "a plain foreign recipient",
}

// Findings are the findings for one probed server.
func (r *Result) Findings() []findings.Finding {
	where := r.Where()
	var fs []findings.Finding
	switch r.Verdict {
	case VerdictOpen:
		fs = append(fs, openFinding(r, where))
	case VerdictClosed:
		f := findings.Finding{
			ID: "relay.closed", Severity: findings.SeverityInfo,
			Title:  fmt.Sprintf("%s refused to relay: %d of %d attempts refused", where, countOutcome(r, OutcomeRefused), countKinds(r, KindForeign, KindTrick)),
			Detail: "Every MAIL FROM / RCPT TO pair with a foreign final recipient was refused with a permanent error.",
			Refs:   []string{"RFC 5321 3.6.1", "RFC 2505 2.1"},
		}
		if r.Reason != "" {
			f.Detail += " " + capitalize(r.Reason) + "."
		}
		fs = append(fs, f)
	default:
		fs = append(fs, unknownFinding(r, where))
	}
	fs = append(fs, trickFindings(r, where)...)
	if r.AuthSeen && r.Verdict != VerdictOpen {
		fs = append(fs, findings.Finding{
			ID: "relay.auth-required", Severity: findings.SeverityInfo,
			Title:  fmt.Sprintf("%s asks unauthenticated clients to log in (530 / 5.7.0)", where),
			Detail: "Requiring SMTP AUTH before relaying is what a submission server should do. On an MX (port 25) it must still accept mail for its own domains without authentication, or it will refuse inbound mail from the internet.",
			Refs:   []string{"RFC 4954 6", "RFC 6409 4.3"},
		})
	}
	for i := range fs {
		fs[i].Check = checkName
	}
	return fs
}

func openFinding(r *Result, where string) findings.Finding {
	var relayed []Attempt
	for _, a := range r.Attempts {
		if a.Outcome == OutcomeRelayed {
			relayed = append(relayed, a)
		}
	}
	first := relayed[0]
	how := familyWords[first.Family]
	var ev []string
	for _, a := range relayed {
		ev = append(ev, attemptEvidence(a))
	}
	for _, a := range r.Attempts {
		if a.Kind == KindControl && a.Outcome == OutcomeRefused {
			ev = append(ev, "control: "+attemptEvidence(a))
		}
	}
	detail := fmt.Sprintf("An unauthenticated stranger (this probe) got %s accepted for delivery via %s. "+
		"An open relay passes anyone's mail to anyone: spammers find open relays within hours by scanning the internet exactly like this, "+
		"and send through them. The server's IP address then lands on blocklists (Spamhaus, SpamCop, Barracuda, UCEPROTECT) and on Microsoft's and Gmail's own lists, "+
		"after which its owner's legitimate mail is refused too (\"550 5.7.1 Service unavailable; client host blocked\", Microsoft \"550 5.7.606 Access denied, banned sending IP\"), "+
		"its queue fills with spam and with bounces to forged senders, and the provider may cut it off. "+
		"The probe sent only MAIL FROM and RCPT TO, never DATA, so nothing was delivered. "+
		"A server that accepts RCPT and would refuse only at DATA or after it is still counted as open: a 2xx to RCPT says the server will take mail for that recipient (RFC 5321 3.3), "+
		"refusals belong in the SMTP dialogue (RFC 2505 1.5), relay testers and spamware judge by that reply, and a server that accepts now and fails later must bounce (RFC 5321 6.1), "+
		"which sends backscatter to whoever the sender claimed to be.",
		strings.TrimSuffix(strings.TrimPrefix(first.RcptTo, "<"), ">"), how)
	if first.Kind == KindTrick {
		detail += (" This recipient hides a foreign address in its local part; the server accepted it but refused the nonexistent control recipient at the same domain, so it did not take it as a local mailbox: it routes the hidden address.")
	}
	return findings.Finding{
		ID: "relay.open", Severity: findings.SeverityFail,
		Title:       fmt.Sprintf("%s is an open relay: it accepted RCPT TO:%s from an unauthenticated stranger", where, first.RcptTo),
		Detail:      detail,
		Evidence:    ev,
		BounceCodes: []string{"5.7.1", "5.7.606", "5.7.511"},
		Fix:         "Allow relaying only for your own networks and authenticated users, then run this probe again. " + fixPostfix + " " + fixExim + " " + fixExchange + " Afterwards check the address on blocklists (deliverdoctor check " + r.IP + ") and request delisting.",
		Refs:        []string{"RFC 5321 3.6.1", "RFC 5321 3.3", "RFC 2505 2.1", "RFC 5068 3"},
	}
}

func unknownFinding(r *Result, where string) findings.Finding {
	f := findings.Finding{
		ID: "relay.unknown", Severity: findings.SeverityError,
		Detail: capitalize(r.Reason) + ".",
		Refs:   []string{"RFC 5321 3.1", "RFC 5321 4.5.3.2"},
	}
	if r.Banner != "" {
		f.Evidence = append(f.Evidence, "greeting: "+r.Banner)
	}
	for _, a := range r.Attempts {
		if a.Kind == KindForeign && a.Outcome != OutcomeRefused {
			f.Evidence = append(f.Evidence, attemptEvidence(a))
		}
	}
	switch r.Failure {
	case "unreachable":
		f.ID = "relay.unreachable"
		f.Title = fmt.Sprintf("could not connect to %s: %s", where, firstLine(r.Reason))
		f.Fix = "Check that the server listens on this port and that no firewall drops the connection; many ISPs and cloud providers block outgoing port 25, so run the probe from a server that may send mail."
		f.Detail = "Without a connection the relay question cannot be answered. " + f.Detail
	case "dns":
		d := findings.DNSError(checkName, "the address of "+r.Host, errors.New(r.Reason))
		f.ID, f.Title, f.Detail, f.Fix = d.ID, d.Title, d.Detail, d.Fix
	case "greeting":
		f.Title = fmt.Sprintf("%s would not talk to us: %s", where, r.Banner)
		f.Fix = "A 421 greeting means busy or temporarily refusing this client: try again later. A 554 greeting means the server refuses our address (often a blocklist or a geo/ISP policy): probe from a network it accepts."
	case "helo":
		f.Title = fmt.Sprintf("%s refused our EHLO and HELO %s", where, r.HELOName)
		f.Fix = "Give a fully qualified host name that resolves to the probing machine with --helo NAME."
	case "timeout":
		f.Title = fmt.Sprintf("%s did not answer in time; could not tell whether it relays", where)
		f.Fix = "The server replies slowly (a tarpit, or a greeting delay such as Postfix postscreen's): run again with a longer --probe-timeout, e.g. 60s."
	case "deferred":
		f.Title = fmt.Sprintf("%s deferred the relay attempts with 4xx replies (greylisting?); could not tell whether it relays", where)
		f.Fix = "Greylisting refuses a new sender/recipient/client triplet for a few minutes: run the probe again after 5–15 minutes. If it keeps deferring, the server may be rate-limiting this client."
	case "external-refused":
		f.ID = "relay.external-refused"
		f.Title = fmt.Sprintf("%s refused the external domain %s itself, not the relaying", where, r.External)
		f.Fix = "Run again with --external set to a domain that exists and accepts mail but that this server does not handle (e.g. one you control); nothing is delivered, the probe never sends DATA."
	case "sender-refused":
		f.Title = fmt.Sprintf("%s refused every sender at MAIL FROM; the relay decision was never reached", where)
		f.Fix = "The server rejects this client or these senders before any recipient is named (our address may be on a blocklist it uses): probe from another network, or look at the MAIL FROM replies above."
	default:
		f.Title = fmt.Sprintf("could not tell whether %s relays: %s", where, firstLine(r.Reason))
		f.Fix = "The SMTP dialogue broke off (connection closed, malformed or oversized replies); run again, with --probe-timeout 60s if the server is slow. A server that drops strangers after a few errors may need the probe to run from another address."
	}
	return f
}

func trickFindings(r *Result, where string) []findings.Finding {
	byFamily := map[string][]Attempt{}
	var order []string
	for _, a := range r.Attempts {
		if a.Kind != KindTrick || a.Outcome != OutcomeAmbiguous {
			continue
		}
		if _, ok := byFamily[a.Family]; !ok {
			order = append(order, a.Family)
		}
		byFamily[a.Family] = append(byFamily[a.Family], a)
	}
	ctl := map[string]Attempt{}
	for _, a := range r.Attempts {
		if a.Kind == KindControl {
			ctl[a.ControlFor] = a
		}
	}
	var fs []findings.Finding
	for _, fam := range order {
		as := byFamily[fam]
		var ev []string
		controlAccepted := true
		for _, a := range as {
			ev = append(ev, attemptEvidence(a))
			c, ok := ctl[a.Variant]
			if ok {
				ev = append(ev, "control: "+attemptEvidence(c))
			}
			if !ok || c.Outcome != OutcomeAccepted {
				controlAccepted = false
			}
		}
		name := strings.SplitN(familyWords[fam], " (", 2)[0]
		title := fmt.Sprintf("%s accepted %d recipient(s) written with %s, and a nonexistent control recipient too", where, len(as), name)
		why := "It also accepted a plain local part that cannot exist at the same domain, so it probably takes every recipient at RCPT (a catch-all, or recipient checks after DATA) and this is local delivery to a mailbox that does not exist, followed by a bounce; or it really routes the hidden address, which is relaying. "
		if !controlAccepted {
			title = fmt.Sprintf("%s accepted %d recipient(s) written with %s; the control recipient could not settle whether it relays", where, len(as), name)
			why = "The control recipient (a plain local part that cannot exist at the same domain) was deferred or got no answer, so it stays open whether the server routes the hidden address (relaying) or takes any local part and bounces later. "
		}
		fs = append(fs, findings.Finding{
			ID: "relay.accepts-" + fam, Severity: findings.SeverityWarn,
			Title: title,
			Detail: fmt.Sprintf("The server said 250 to RCPT TO:%s, which hides a foreign address in %s. ", as[0].RcptTo, familyWords[fam]) + why +
				"Without sending a message the two cannot be told apart. Either way it accepts mail it may not be able to deliver, which turns into backscatter: bounces to the forged senders of spam.",
			Evidence: ev,
			Fix: "Refuse unknown recipients during the SMTP dialogue and do not honour routing syntax from strangers. " +
				"Postfix: keep smtpd_reject_unlisted_recipient = yes (the default) with complete local_recipient_maps / virtual_mailbox_maps / relay_recipient_maps (an empty local_recipient_maps accepts every local part) and allow_untrusted_routing = no (the default). " +
				"Exim: `verify = recipient` in acl_check_rcpt, and leave percent_hack_domains empty. " +
				"Exchange: enable Recipient Filtering with \"Block messages sent to recipients not listed in the Global Address List\".",
			Refs: []string{"RFC 5321 4.1.1.3", "RFC 5321 6.1", "RFC 2505 2.1"},
		})
	}
	return fs
}

func attemptEvidence(a Attempt) string {
	s := "MAIL FROM:" + a.MailFrom
	if a.RcptTo != "" {
		s += " → RCPT TO:" + a.RcptTo
	}
	return s + ": " + a.Reply()
}

func countOutcome(r *Result, o Outcome) int {
	n := 0
	for _, a := range r.Attempts {
		if a.Outcome == o && a.Kind != KindControl {
			n++
		}
	}
	return n
}

func countKinds(r *Result, ks ...Kind) int {
	n := 0
	for _, a := range r.Attempts {
		for _, k := range ks {
			if a.Kind == k {
				n++
			}
		}
	}
	return n
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func firstLine(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i]
	}
	return sanitize.Truncate(s, 200)
}

// Summary is a one-line description of a result.
func (r *Result) Summary() string {
	switch r.Verdict {
	case VerdictOpen:
		return fmt.Sprintf("%s: OPEN relay (%d of %d attempts relayed)", r.Where(), countOutcome(r, OutcomeRelayed), countKinds(r, KindForeign, KindTrick))
	case VerdictClosed:
		return fmt.Sprintf("%s: closed (%d attempts refused)", r.Where(), countOutcome(r, OutcomeRefused))
	}
	if r.Failure != "" {
		return fmt.Sprintf("%s: unknown (%s)", r.Where(), r.Failure)
	}
	return fmt.Sprintf("%s: unknown", r.Where())
}

// CheckResult is the relay check's result for a set of probed servers
// (the MX hosts of a domain, or one IP), plus findings from finding them
// (DNS errors).
func CheckResult(results []*Result, extra []findings.Finding) findings.CheckResult {
	if results == nil {
		results = []*Result{}
	}
	cr := findings.CheckResult{Name: checkName, Data: map[string]any{"hosts": results}}
	var sums []string
	for _, r := range results {
		cr.Findings = append(cr.Findings, r.Findings()...)
		sums = append(sums, r.Summary())
	}
	for _, f := range extra {
		f.Check = checkName
		cr.Findings = append(cr.Findings, f)
		sums = append(sums, f.Title)
	}
	cr.Status = findings.StatusFromFindings(cr.Findings)
	cr.Summary = strings.Join(sums, "; ")
	if len(cr.Findings) == 0 {
		cr.Status = findings.StatusSkip
		cr.Summary = "no mail server to probe"
	}
	return cr
}
