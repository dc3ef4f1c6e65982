// Package bounce explains bounces: a knowledge base of SMTP enhanced status
// codes (RFC 3463 and the IANA registry, RFC 7372, RFC 7505) and of the
// codes Gmail, Microsoft 365, Yahoo and Amazon SES use, each tied to one of
// 16 bounce categories, a recommended action and the deliverdoctor checks
// that diagnose it; a parser for RFC 3464 delivery status notifications,
// for the non-standard bounces of common MTAs and providers, for Amazon SES
// JSON notifications and for SMTP replies pasted by a user; and a
// classifier that turns each failed recipient into code, hard or soft,
// category and disposition (suppress, retry, fix your setup).
//
// The knowledge is data (data/*.yaml, embedded), reviewed like code, with a
// source for every entry.
package bounce

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of input Parse recognises.
const (
	KindDSN       = "dsn"          // RFC 3464 multipart/report with message/delivery-status
	KindText      = "non-standard" // a bounce in prose (Exim, qmail, Exchange, ...)
	KindReply     = "smtp-reply"   // an SMTP reply pasted by a user
	KindSES       = "ses-notification"
	KindNotBounce = "not-a-bounce" // feedback report, auto-reply, delivery notice, ...
	KindUnknown   = "unknown"      // a message in which no bounce data was found
)

// Origins: where the failure happened, which decides who must act
// (the OpenSRS seed's "SMTP reject vs bounce reject").
const (
	// OriginSMTPReject: a receiving server refused the message in an SMTP
	// session - your client got the reply directly (a pasted reply) or your
	// own mail server got it and wrote the bounce. Nothing was accepted.
	OriginSMTPReject = "smtp-reject"
	// OriginRemoteBounce: the receiving side accepted the message and later
	// sent this bounce itself (if you never sent the original, this is
	// backscatter from a forged sender).
	OriginRemoteBounce = "remote-bounce"
	// OriginLocal: your own side gave up without a reply from the receiver
	// (no answer, DNS failure, time-out in the queue).
	OriginLocal = "local-failure"
)

// Bounce is everything found in one message (or pasted reply).
type Bounce struct {
	Kind string `json:"kind"`
	// NotBounce says what the message is when it is not a bounce
	// ("feedback report", "auto-reply", "delivery notification: delivered").
	NotBounce string `json:"not_bounce,omitempty"`
	// MTA guesses what wrote the bounce from its format ("postfix", "exim",
	// "qmail", "sendmail", "exchange", "gmail", ...), empty when unknown.
	MTA          string `json:"mta,omitempty"`
	ReportingMTA string `json:"reporting_mta,omitempty"`
	Subject      string `json:"subject,omitempty"` // of the bounce
	Date         string `json:"date,omitempty"`    // of the bounce
	// Sender is the original message's author (From), else its envelope
	// sender; SenderDomain its domain - the domain whose setup the checks
	// examine.
	Sender       string `json:"sender,omitempty"`
	SenderDomain string `json:"sender_domain,omitempty"`
	MailFrom     string `json:"mail_from,omitempty"` // envelope sender (Return-Path) when known
	// SenderIP is the sending IP when the receiver named it in its reply
	// ("Client host [192.0.2.1] blocked", "SPF ... with the ip: [...]").
	SenderIP string `json:"sender_ip,omitempty"`
	// DKIM lists the d=/s= of DKIM signatures on the original message.
	DKIM []DKIMRef `json:"dkim,omitempty"`
	// Failures: one per recipient the bounce reports on.
	Failures []Failure `json:"recipients"`
	// Notes explain how the message was read (truncations, fallbacks).
	Notes []string `json:"notes,omitempty"`
	// Truncated: a size limit left part of the message unread (Notes say
	// which); recipients may be missing.
	Truncated bool `json:"truncated,omitempty"`
}

// DKIMRef is one DKIM-Signature's domain and selector.
type DKIMRef struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
}

// Failure is one recipient's failure, as found and as classified.
type Failure struct {
	Recipient         string `json:"recipient"`
	OriginalRecipient string `json:"original_recipient,omitempty"`
	// DSNAction is the DSN Action (RFC 3464 2.3.3): failed, delayed,
	// delivered, relayed, expanded; for non-DSN bounces what the text says.
	DSNAction string `json:"dsn_action"`
	// Status is the enhanced status code the bounce gives (the most
	// specific of the DSN Status and the code in the diagnostic); empty
	// when it has none.
	Status         string `json:"status"`
	ReplyCode      int    `json:"reply_code,omitempty"`
	Diagnostic     string `json:"diagnostic"`
	DiagnosticType string `json:"diagnostic_type,omitempty"`
	Command        string `json:"smtp_command,omitempty"` // CONN, HELO, EHLO, MAIL, RCPT, DATA
	RemoteMTA      string `json:"remote_mta,omitempty"`
	LastAttempt    string `json:"last_attempt,omitempty"`
	// Provider is the receiving provider when recognised (google,
	// microsoft, yahoo, ses); ProviderCode a provider code in the text
	// ("TSS04").
	Provider     string `json:"provider,omitempty"`
	ProviderCode string `json:"provider_code,omitempty"`

	Classification

	context    string // the bounce text about this recipient, for classification
	sesType    string // SES bounceType/bounceSubType when the input was a SES notification
	sesSubtype string
}

// Classification is the verdict for one failure.
type Classification struct {
	Category string `json:"category"`
	// Hard: the address itself is undeliverable - suppress it.
	Hard bool `json:"hard"`
	// Permanent: the failure will not be retried (a 5.x.x code, or a final
	// "failed" report).
	Permanent   bool   `json:"permanent"`
	Disposition string `json:"disposition"` // suppress, retry, fix-setup
	SESType     string `json:"ses_type"`
	SESSubtype  string `json:"ses_subtype"`
	// Meaning explains the failure; Entry is the knowledge-base entry
	// behind it (nil when only a text pattern matched).
	Meaning string `json:"meaning"`
	Action  string `json:"action"`
	Entry   *Entry `json:"entry,omitempty"`
	// Checks are the deliverdoctor checks that diagnose it, CheckDomain
	// whose domain they examine ("sender" or "recipient").
	Checks      []string `json:"checks"`
	CheckDomain string   `json:"check_domain"`
	// By says what decided the category: "code", "text", "code+text",
	// "reply-code", "ses", "none".
	By string `json:"classified_by"`
	// Origin: smtp-reject, remote-bounce, local-failure or "" (unknown).
	Origin string `json:"origin"`
}

// SMTPReject reports a failure that happened in an SMTP session (the
// receiving server refused the message; nothing was accepted).
func (f *Failure) SMTPReject() bool { return f.Origin == OriginSMTPReject }

// Domain returns the recipient's domain.
func (f *Failure) Domain() string {
	if i := strings.LastIndexByte(f.Recipient, '@'); i >= 0 {
		return strings.ToLower(f.Recipient[i+1:])
	}
	return ""
}

// ErrTooLarge is returned for input over the size limit.
var ErrTooLarge = errors.New("message too large")

// DefaultMaxSize is the largest message Parse reads (bounces are small; the
// largest in the test corpus is 74 KB).
const DefaultMaxSize = 16 << 20

// OriginText explains an origin for people: what happened and who must act.
func OriginText(origin string) string {
	switch origin {
	case OriginSMTPReject:
		return "SMTP reject: the receiving server refused the message during the SMTP session, so it was never accepted. The reply is the receiver's own verdict: fix the cause it names (or the address) and send again; nobody else's bounce is involved."
	case OriginRemoteBounce:
		return "Bounce after acceptance: the receiving side accepted the message and later sent this bounce itself. The reason is in its text. If you never sent the original, it is backscatter from someone forging your address: ignore it, and publish SPF/DKIM/DMARC so receivers reject forgeries instead of bouncing them to you."
	case OriginLocal:
		return "Not delivered by your side: your mail server gave up without getting an answer from the receiver (no answer, DNS failure, or too long in the queue). Check the recipient domain's MX and whether it is reachable; your own setup needs a change only if every destination fails."
	}
	return "Unknown whether the receiver refused the message in the SMTP session or bounced it after accepting it."
}

func (b *Bounce) note(format string, a ...any) {
	if len(b.Notes) < 20 {
		b.Notes = append(b.Notes, fmt.Sprintf(format, a...))
	}
}
