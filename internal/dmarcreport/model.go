// Package dmarcreport reads the reports receivers mail to a domain: DMARC
// aggregate reports (RFC 7489 appendix C, RFC 9990), DMARC failure reports
// (RFC 6591 ARF) and SMTP TLS reports (RFC 8460). It takes them out of the
// containers they travel in (gzip, zip, e-mail messages, mbox, Maildir,
// directories) and parses them tolerantly: the wild sends upper-case
// values, invalid UTF-8, broken XML and gzip streams with trailing bytes.
// It does no DNS; internal/reports joins the result with today's records.
package dmarcreport

import (
	"errors"
	"time"
)

// Kind is the kind of a report.
type Kind string

// Report kinds, the "kind" of the deliverdoctor.reports/v1 contract.
const (
	KindAggregate Kind = "aggregate" // DMARC rua, RFC 7489 appendix C / RFC 9990
	KindTLS       Kind = "tls"       // SMTP TLS reporting, RFC 8460
	KindFailure   Kind = "failure"   // DMARC ruf, RFC 6591
)

// Errors a file can fail with, tested with errors.Is.
var (
	ErrTooLarge = errors.New("report too large")      // over the decompression or size limit
	ErrNoReport = errors.New("no report found")       // nothing in the input looks like a report
	ErrSyntax   = errors.New("report cannot be read") // XML/JSON beyond repair, or required fields missing
)

// Report is one report of any kind; exactly one of the pointers is set.
type Report struct {
	Kind      Kind
	File      string // where it came from: "a.zip", "box.mbox#3", "msg.eml"
	Aggregate *Aggregate
	TLS       *TLSReport
	Failure   *FailureReport
}

// Org is the reporting organization.
func (r *Report) Org() string {
	switch {
	case r.Aggregate != nil:
		return r.Aggregate.Org
	case r.TLS != nil:
		return r.TLS.Org
	case r.Failure != nil:
		return r.Failure.Org
	}
	return ""
}

// ID is the report id: with Org the de-duplication key.
func (r *Report) ID() string {
	switch {
	case r.Aggregate != nil:
		return r.Aggregate.ReportID
	case r.TLS != nil:
		return r.TLS.ReportID
	case r.Failure != nil:
		return r.Failure.ReportID
	}
	return ""
}

// Aggregate is a DMARC aggregate report (RFC 7489 appendix C; RFC 9990
// adds np, testing, discovery_method and a namespace).
type Aggregate struct {
	Version   string    `json:"version,omitempty"`
	Org       string    `json:"org"`
	Email     string    `json:"email,omitempty"`
	ReportID  string    `json:"report_id"`
	Begin     time.Time `json:"begin"`
	End       time.Time `json:"end"`
	Errors    []string  `json:"report_errors,omitempty"` // <error> elements of the metadata
	Generator string    `json:"generator,omitempty"`
	Policy    Published `json:"policy_published"`
	Rows      []Row     `json:"rows"`
}

// Published is the policy the receiver found (policy_published).
type Published struct {
	Domain          string `json:"domain"`
	ADKIM           string `json:"adkim,omitempty"`
	ASPF            string `json:"aspf,omitempty"`
	P               string `json:"p,omitempty"`
	SP              string `json:"sp,omitempty"`
	NP              string `json:"np,omitempty"`
	Pct             string `json:"pct,omitempty"`
	FO              string `json:"fo,omitempty"`
	Testing         string `json:"testing,omitempty"`
	DiscoveryMethod string `json:"discovery_method,omitempty"`
}

// Row is one record of an aggregate report: Count messages from SourceIP
// with the same identifiers and results.
type Row struct {
	SourceIP     string       `json:"source_ip"`
	Count        int64        `json:"count"`
	Disposition  string       `json:"disposition"` // none, quarantine, reject (lower case)
	DKIM         string       `json:"dkim"`        // policy_evaluated: pass or fail, i.e. DKIM aligned and passing
	SPF          string       `json:"spf"`         // policy_evaluated: pass or fail, i.e. SPF aligned and passing
	Reasons      []Reason     `json:"reasons,omitempty"`
	HeaderFrom   string       `json:"header_from"`
	EnvelopeFrom string       `json:"envelope_from,omitempty"`
	EnvelopeTo   string       `json:"envelope_to,omitempty"`
	DKIMAuth     []DKIMResult `json:"dkim_auth,omitempty"`
	SPFAuth      []SPFResult  `json:"spf_auth,omitempty"`
}

// DMARCPass reports whether the receiver's evaluation passed DMARC: an
// aligned DKIM or SPF pass (RFC 7489 appendix C, policy_evaluated).
func (r *Row) DMARCPass() bool { return r.DKIM == "pass" || r.SPF == "pass" }

// Reason is a policy override reason (forwarded, local_policy, ...).
type Reason struct {
	Type    string `json:"type"`
	Comment string `json:"comment,omitempty"`
}

// DKIMResult is one DKIM signature's raw result (auth_results/dkim).
type DKIMResult struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector,omitempty"`
	Result   string `json:"result"`
	Human    string `json:"human_result,omitempty"`
}

// SPFResult is the raw SPF result (auth_results/spf).
type SPFResult struct {
	Domain string `json:"domain"`
	Scope  string `json:"scope,omitempty"`
	Result string `json:"result"`
}

// Messages is the sum of the rows' counts.
func (a *Aggregate) Messages() int64 {
	var n int64
	for i := range a.Rows {
		n += a.Rows[i].Count
	}
	return n
}

// DMARCPassMessages is the sum of the counts of rows that passed DMARC.
func (a *Aggregate) DMARCPassMessages() int64 {
	var n int64
	for i := range a.Rows {
		if a.Rows[i].DMARCPass() {
			n += a.Rows[i].Count
		}
	}
	return n
}

// TLSReport is an SMTP TLS report (RFC 8460 4.4).
type TLSReport struct {
	Org      string      `json:"organization-name"`
	Begin    time.Time   `json:"begin"`
	End      time.Time   `json:"end"`
	Contact  string      `json:"contact-info,omitempty"`
	ReportID string      `json:"report-id"`
	Policies []TLSPolicy `json:"policies"`
}

// TLSPolicy is one policy's results in a TLS report.
type TLSPolicy struct {
	Type     string       `json:"policy-type"` // sts, tlsa, no-policy-found
	Strings  []string     `json:"policy-string,omitempty"`
	Domain   string       `json:"policy-domain"`
	MXHost   string       `json:"mx-host,omitempty"`
	OK       int64        `json:"total-successful-session-count"`
	Failed   int64        `json:"total-failure-session-count"`
	Failures []TLSFailure `json:"failure-details,omitempty"`
}

// TLSFailure is one failure-details entry.
type TLSFailure struct {
	ResultType    string `json:"result-type"`
	SendingMTAIP  string `json:"sending-mta-ip,omitempty"`
	ReceivingMX   string `json:"receiving-mx-hostname,omitempty"`
	ReceivingHelo string `json:"receiving-mx-helo,omitempty"`
	ReceivingIP   string `json:"receiving-ip,omitempty"`
	Count         int64  `json:"failed-session-count"`
	Info          string `json:"additional-information,omitempty"`
	ReasonCode    string `json:"failure-reason-code,omitempty"`
}

// SessionsOK sums the successful sessions of all policies.
func (t *TLSReport) SessionsOK() int64 {
	var n int64
	for _, p := range t.Policies {
		n += p.OK
	}
	return n
}

// SessionsFailed sums the failed sessions of all policies.
func (t *TLSReport) SessionsFailed() int64 {
	var n int64
	for _, p := range t.Policies {
		n += p.Failed
	}
	return n
}

// Domain is the first policy domain (a report is usually for one).
func (t *TLSReport) Domain() string {
	for _, p := range t.Policies {
		if p.Domain != "" {
			return p.Domain
		}
	}
	return ""
}

// FailureReport is a DMARC failure report (RFC 6591, an ARF
// message/feedback-report with Feedback-Type: auth-failure), or the
// plain-text kind some MTAs send instead.
type FailureReport struct {
	Org              string    `json:"org"`
	ReportID         string    `json:"report_id"` // the report message's Message-ID
	Arrival          time.Time `json:"arrival_date"`
	Domain           string    `json:"reported_domain"`
	SourceIP         string    `json:"source_ip"`
	AuthFailure      string    `json:"auth_failure,omitempty"` // dmarc, dkim, spf
	OriginalMailFrom string    `json:"original_mail_from,omitempty"`
	OriginalRcptTo   string    `json:"original_rcpt_to,omitempty"`
	DeliveryResult   string    `json:"delivery_result,omitempty"`
	DKIMDomain       string    `json:"dkim_domain,omitempty"`
	DKIMSelector     string    `json:"dkim_selector,omitempty"`
	AuthResults      string    `json:"authentication_results,omitempty"`
	HeaderFrom       string    `json:"header_from,omitempty"`
	Subject          string    `json:"subject,omitempty"`
	ARF              bool      `json:"arf"` // false: recovered from a plain-text report
}
