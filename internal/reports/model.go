// Package reports turns the DMARC aggregate, failure and SMTP TLS reports
// read by internal/dmarcreport into answers: per policy domain, who sends
// as it (source IP, PTR name), how much of that passes, what today's DNS
// says about each source (SPF check_host, DKIM alignment, blocklists) and
// a verdict per source; the readiness to tighten the DMARC policy; the
// DKIM selectors in use; TLS failure rates per receiving MX. The result is
// the deliverdoctor.reports/v1 JSON contract (docs/reports.md).
package reports

import (
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Schema names the JSON document.
const Schema = "deliverdoctor.reports/v1"

// Verdict is what a source is, judged from the reports and today's DNS.
type Verdict string

// Verdicts.
const (
	// VerdictAligned: aligned and passing (or passing with today's DNS).
	VerdictAligned Verdict = "aligned"
	// VerdictFailing: a service sending for the domain, failing DMARC;
	// Fix says what to change.
	VerdictFailing Verdict = "failing"
	// VerdictForwarded: SPF fails, DKIM passes: a forwarder or mailing
	// list relaying the domain's mail, expected.
	VerdictForwarded Verdict = "forwarded"
	// VerdictUnknown: not authorised and not passing: unknown or
	// spoofing, safe to reject once the rest are fixed.
	VerdictUnknown Verdict = "unknown"
)

// Document is the deliverdoctor.reports/v1 contract.
type Document struct {
	Schema    string             `json:"schema"`
	Status    findings.Status    `json:"status"`
	Offline   bool               `json:"offline"`
	Stats     dmarcreport.Stats  `json:"stats"`
	Reports   []ReportEntry      `json:"reports"`
	Sources   []*Source          `json:"sources"`
	Domains   []*Domain          `json:"domains"`
	Selectors []Selector         `json:"dkim_selectors"`
	TLS       []*TLSPolicy       `json:"tls"`
	Findings  []findings.Finding `json:"findings"`
	Errors    []ErrorEntry       `json:"errors"`
	Notes     []string           `json:"notes,omitempty"`
}

// ReportEntry is one report read.
type ReportEntry struct {
	Kind     dmarcreport.Kind `json:"kind"`
	File     string           `json:"file"`
	Org      string           `json:"org"`
	ReportID string           `json:"report_id"`
	Domain   string           `json:"domain"`
	Begin    string           `json:"begin"`
	End      string           `json:"end"`
	// aggregate
	Messages  *int64 `json:"messages,omitempty"`
	DMARCPass *int64 `json:"dmarc_pass,omitempty"`
	Rows      int    `json:"rows,omitempty"`
	Policy    string `json:"policy,omitempty"` // p= the receiver saw
	// tls
	SessionsOK     *int64 `json:"sessions_ok,omitempty"`
	SessionsFailed *int64 `json:"sessions_failed,omitempty"`
	// failure
	SourceIP    string `json:"source_ip,omitempty"`
	AuthFailure string `json:"auth_failure,omitempty"`
	HeaderFrom  string `json:"header_from,omitempty"`
	MailFrom    string `json:"original_mail_from,omitempty"`
	Subject     string `json:"subject,omitempty"`
}

// ErrorEntry is an input that could not be read, and why.
type ErrorEntry struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// Count is a value seen and how many messages carried it.
type Count struct {
	Value    string `json:"value"`
	Messages int64  `json:"messages"`
}

// DKIMSeen is a DKIM signature's d= and selector and its raw results.
type DKIMSeen struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector,omitempty"`
	Pass     int64  `json:"pass"`
	Fail     int64  `json:"fail"`
	Aligned  *bool  `json:"aligned,omitempty"` // d= aligned with the policy domain (with DNS)
}

// Source is one sending IP for one policy domain over the reports' span.
type Source struct {
	Domain          string     `json:"domain"`
	IP              string     `json:"ip"`
	PTR             string     `json:"ptr"`
	Messages        int64      `json:"messages"`
	DMARCPass       int64      `json:"dmarc_pass"`
	SPFAlignedPass  int64      `json:"spf_aligned_pass"`  // policy_evaluated spf=pass
	DKIMAlignedPass int64      `json:"dkim_aligned_pass"` // policy_evaluated dkim=pass
	SPFAuthPass     int64      `json:"spf_auth_pass"`     // auth_results spf=pass, aligned or not
	DKIMAuthPass    int64      `json:"dkim_auth_pass"`    // some auth_results dkim=pass, aligned or not
	Disposition     []Count    `json:"disposition"`
	Orgs            []Count    `json:"orgs"`
	HeaderFrom      []Count    `json:"header_from"`
	EnvelopeFrom    []Count    `json:"envelope_from"`
	SPFDomains      []Count    `json:"spf_domains"`
	DKIM            []DKIMSeen `json:"dkim"`
	Reasons         []Count    `json:"override_reasons,omitempty"`
	Begin           string     `json:"begin,omitempty"`
	End             string     `json:"end,omitempty"`

	// The join with today's DNS (empty with --offline).
	SPFNow        string   `json:"spf_now"`                  // check_host() for the envelope domain, or "skip"
	SPFNowDomain  string   `json:"spf_now_domain,omitempty"` // the domain check_host() evaluated
	SPFNowPolicy  string   `json:"spf_now_policy,omitempty"` // check_host() for the policy domain, when that differs
	SPFMechanism  string   `json:"spf_mechanism,omitempty"`
	SPFAlignedNow *bool    `json:"spf_aligned_now,omitempty"` // the envelope domain aligns with the policy domain
	Listed        []string `json:"listed,omitempty"`          // blocklists that list the IP today
	DNSError      string   `json:"dns_error,omitempty"`

	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	Fix     string  `json:"fix,omitempty"`

	begin, end  time.Time
	rblFindings []findings.Finding
}

// Failing is the number of messages that failed DMARC.
func (s *Source) Failing() int64 { return s.Messages - s.DMARCPass }

// Domain is one policy domain's summary and its readiness to tighten.
type Domain struct {
	Domain    string `json:"domain"`
	Begin     string `json:"begin"`
	End       string `json:"end"`
	Reports   int    `json:"reports"`
	Messages  int64  `json:"messages"`
	DMARCPass int64  `json:"dmarc_pass"`
	// Policy is the p= of the reports (the newest), PolicyNow today's
	// (with DNS).
	Policy    string `json:"policy"`
	PolicyNow string `json:"policy_now,omitempty"`
	// By verdict: sources and messages.
	Sources   map[Verdict]int   `json:"sources"`
	ByVerdict map[Verdict]int64 `json:"messages_by_verdict"`
	// LegitimateFailing is the mail of your own services (verdict failing)
	// that fails DMARC: what p=quarantine/reject would lose today.
	LegitimateFailing int64    `json:"legitimate_failing"`
	LegitimateTotal   int64    `json:"legitimate_total"`
	LossPercent       float64  `json:"loss_percent"`
	Next              string   `json:"next_policy"` // quarantine, reject, or "" when already reject
	Ready             bool     `json:"ready"`
	FixFirst          []string `json:"fix_first,omitempty"` // IPs of failing sources, most failing mail first
}

// Selector is a DKIM selector seen in the reports for a domain.
type Selector struct {
	Domain   string `json:"domain"` // d=
	Selector string `json:"selector"`
	Policy   string `json:"policy_domain"`
	Messages int64  `json:"messages"`
	Pass     int64  `json:"pass"`
}

// TLSPolicy sums the TLS reports for one policy domain and type.
type TLSPolicy struct {
	Domain      string       `json:"domain"`
	Type        string       `json:"policy_type"`
	Orgs        []string     `json:"orgs"`
	SessionsOK  int64        `json:"sessions_ok"`
	Failed      int64        `json:"sessions_failed"`
	FailureRate float64      `json:"failure_rate_percent"`
	Failures    []TLSFailure `json:"failures"`
}

// TLSFailure is the failed sessions for one receiving MX and result type.
type TLSFailure struct {
	MX          string   `json:"receiving_mx"`
	ResultType  string   `json:"result_type"`
	Sessions    int64    `json:"sessions"`
	RatePercent float64  `json:"rate_percent"` // of all sessions of the policy
	ReasonCodes []string `json:"reason_codes,omitempty"`
	Checks      []string `json:"checks"` // deliverdoctor checks that look at this
	// NotInPolicy: the MTA-STS policy the sender saw has mx: lines and none
	// matches this MX (RFC 8461 4.1): senders refuse it under enforce.
	NotInPolicy bool `json:"not_in_policy,omitempty"`
}
