package relay

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// decide turns the attempts into the verdict.
//
//   - open: some attempt relayed: a foreign RCPT got a 2xx, or an address
//     trick got a 2xx while a plain nonexistent local part at the same
//     domain was refused. A 2xx to RCPT says the server will take mail for
//     that recipient (RFC 5321 3.3) and refusals belong in the dialogue
//     (RFC 2505 1.5), so a server that would refuse later, at DATA or
//     after it, is still counted as open: we cannot see a later refusal
//     without sending a message, relay testers and spammers' ratware judge
//     by the RCPT reply, and a server that accepts and then fails must
//     bounce (RFC 5321 6.1), which is backscatter to forged senders.
//   - closed: every foreign variant got a permanent refusal, and at least
//     one of them at RCPT (so the relay decision itself was seen). Address
//     tricks that stayed ambiguous, deferred or untested do not prevent
//     closed; they get their own findings.
//   - unknown: anything else: unreachable, a 421/554 greeting, EHLO and
//     HELO refused, a foreign variant deferred (greylisting: 450/451),
//     timed out, refused because of the external domain itself, or never
//     tried; or every sender refused at MAIL FROM, so RCPT was never seen.
func decide(res *Result, p *prober) (Verdict, string, string) {
	for _, a := range res.Attempts {
		if a.Outcome == OutcomeRelayed {
			return VerdictOpen, "", ""
		}
	}
	if len(res.Attempts) == 0 {
		if p.sessionErr != nil {
			return VerdictUnknown, p.sessionFailure, p.sessionErr.Error()
		}
		return VerdictUnknown, "untested", "no relay attempt was made"
	}
	var deferred, failed, domain, untested []string
	rcptRefusals := 0
	for _, a := range res.Attempts {
		if a.Kind != KindForeign {
			continue
		}
		switch a.Outcome {
		case OutcomeRefused:
			if a.Stage == "rcpt" {
				rcptRefusals++
			}
		case OutcomeDeferred:
			deferred = append(deferred, a.Variant+" ("+shortReply(a)+")")
		case OutcomeDomain:
			domain = append(domain, a.Variant+" ("+shortReply(a)+")")
		default:
			failed = append(failed, a.Variant+" ("+a.Error+")")
		}
	}
	for _, s := range p.untested {
		if s.Kind == KindForeign {
			untested = append(untested, s.ID)
		}
	}
	var why []string
	failure := ""
	if len(deferred) > 0 {
		failure = "deferred"
		why = append(why, fmt.Sprintf("%d relay attempt(s) were deferred with a 4xx reply, as greylisting or rate limiting do: %s", len(deferred), strings.Join(deferred, "; ")))
	}
	if len(domain) > 0 {
		if failure == "" {
			failure = "external-refused"
		}
		why = append(why, fmt.Sprintf("%d relay attempt(s) were refused because of the external domain %s itself (not found, or it accepts no mail), which does not show whether the server would relay to a domain that exists: %s", len(domain), res.External, strings.Join(domain, "; ")))
	}
	if len(failed) > 0 || len(untested) > 0 {
		if failure == "" {
			failure = p.sessionFailure
			if failure == "" {
				failure = "protocol"
			}
		}
		// Count what was tried apart from what never was: "6 attempts got
		// no usable reply" when one was tried misleads.
		var parts []string
		if len(failed) > 0 {
			parts = append(parts, fmt.Sprintf("%d relay attempt(s) got no usable reply", len(failed)))
		}
		if len(untested) > 0 {
			parts = append(parts, fmt.Sprintf("%d were never tried", len(untested)))
		}
		s := strings.Join(parts, " and ")
		if p.sessionErr != nil {
			s += ": " + p.sessionErr.Error()
		}
		why = append(why, s)
	}
	if len(why) > 0 {
		return VerdictUnknown, failure, strings.Join(why, ". ")
	}
	if rcptRefusals == 0 && allAuth(res) {
		// nmap's rule too: a server that wants AUTH before MAIL does not
		// relay for strangers.
		return VerdictClosed, "", "the server requires authentication before MAIL FROM"
	}
	if rcptRefusals == 0 {
		return VerdictUnknown, "sender-refused", "the server refused every sender at MAIL FROM, so it never said whether it would take a foreign recipient (it may refuse our address or network as a client, not relaying as such)"
	}
	return VerdictClosed, "", closedNote(res, p)
}

// closedNote says what limited a closed verdict: address tricks that could
// not be decided.
func closedNote(res *Result, p *prober) string {
	counts := map[Outcome]int{}
	for _, a := range res.Attempts {
		if a.Kind == KindTrick && a.Outcome != OutcomeRefused {
			counts[a.Outcome]++
		}
	}
	var parts []string
	for o, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, o))
	}
	sort.Strings(parts)
	if len(p.untested) > 0 {
		s := fmt.Sprintf("%d not tried", len(p.untested))
		if p.sessionErr != nil {
			s += " (" + p.sessionErr.Error() + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return ""
	}
	return "address-trick variants not refused: " + strings.Join(parts, ", ")
}

func shortReply(a Attempt) string { return sanitize.Truncate(a.Reply(), 80) }

// allAuth reports whether every foreign attempt was refused at MAIL with
// "authentication required".
func allAuth(res *Result) bool {
	n := 0
	for _, a := range res.Attempts {
		if a.Kind != KindForeign {
			continue
		}
		if a.Stage != "mail" || !a.authRequired() {
			return false
		}
		n++
	}
	return n > 0
}
