package bounce

import (
	"strings"
	"sync"
	"unsafe"
)

// DSN is the machine-readable part of a delivery status notification:
// the body of a message/delivery-status part (RFC 3464 2.1) or of a
// message/global-delivery-status part (RFC 6533 6.2, the same fields in
// UTF-8).
type DSN struct {
	// Per-message fields (RFC 3464 2.2).
	ReportingMTA       string `json:"reporting_mta,omitempty"`
	ReceivedFromMTA    string `json:"received_from_mta,omitempty"`
	ArrivalDate        string `json:"arrival_date,omitempty"`
	OriginalEnvelopeID string `json:"original_envelope_id,omitempty"`
	// Recipients holds one entry per per-recipient block (RFC 3464 2.3).
	Recipients []DSNRecipient `json:"recipients"`
	// Dropped counts recipient blocks past the limit of maxDSNRecipients,
	// not read (the caller says so; none is lost silently).
	Dropped int `json:"dropped,omitempty"`
}

// DSNRecipient is one per-recipient block (RFC 3464 2.3).
type DSNRecipient struct {
	FinalRecipient    string `json:"final_recipient"`              // 2.3.2, the address part
	OriginalRecipient string `json:"original_recipient,omitempty"` // 2.3.1
	Action            string `json:"action"`                       // 2.3.3: failed, delayed, delivered, relayed, expanded
	Status            string `json:"status"`                       // 2.3.4: the enhanced status code, comments removed
	RemoteMTA         string `json:"remote_mta,omitempty"`         // 2.3.5
	DiagnosticType    string `json:"diagnostic_type,omitempty"`    // 2.3.6: "smtp", "x-unix", ...
	DiagnosticCode    string `json:"diagnostic_code,omitempty"`    // 2.3.6: the text after the type
	LastAttemptDate   string `json:"last_attempt_date,omitempty"`  // 2.3.7
	WillRetryUntil    string `json:"will_retry_until,omitempty"`   // 2.3.9
}

// Limits for hostile input.
const (
	maxDSNSize       = 4 << 20
	maxDSNRecipients = 10000
	maxFieldLen      = 8192
)

// ParseDSN parses a delivery-status body. It is lenient the way real
// bounces need it to be: blocks may lack the blank lines between them, a
// block may mix per-message and per-recipient fields, field names are
// case-insensitive, unknown fields are ignored. It never fails; a body
// without recipients gives a DSN with none.
func ParseDSN(body []byte) *DSN {
	if len(body) > maxDSNSize {
		body = body[:maxDSNSize]
	}
	d := &DSN{}
	var cur *DSNRecipient
	flush := func() {
		if cur != nil && (cur.FinalRecipient != "" || cur.OriginalRecipient != "") {
			if len(d.Recipients) < maxDSNRecipients {
				d.Recipients = append(d.Recipients, *cur)
			} else {
				d.Dropped++
			}
		}
		cur = nil
	}
	pooled := dsnFieldPool.Get().(*[]dsnField)
	fields := appendDSNFields((*pooled)[:0], body)
	defer func() {
		clear(fields)
		if cap(fields) <= 1024 {
			*pooled = fields[:0]
			dsnFieldPool.Put(pooled)
		}
	}()
	for _, f := range fields {
		if f.name == "" { // a blank line ends a block (RFC 3464 2.1)
			flush()
			continue
		}
		v := f.value
		switch f.name {
		case "reporting-mta":
			d.ReportingMTA = mtaName(v)
			continue
		case "received-from-mta":
			d.ReceivedFromMTA = mtaName(v)
			continue
		case "arrival-date":
			d.ArrivalDate = v
			continue
		case "original-envelope-id":
			d.OriginalEnvelopeID = v
			continue
		}
		if cur == nil {
			cur = &DSNRecipient{}
		}
		switch f.name {
		case "final-recipient":
			if cur.FinalRecipient != "" {
				flush()
				cur = &DSNRecipient{}
			}
			cur.FinalRecipient = addressValue(v)
		case "original-recipient":
			if cur.OriginalRecipient != "" {
				flush()
				cur = &DSNRecipient{}
			}
			cur.OriginalRecipient = addressValue(v)
		case "action":
			cur.Action = strings.ToLower(firstWord(v))
		case "status":
			cur.Status = firstWord(v)
		case "remote-mta":
			cur.RemoteMTA = mtaName(v)
		case "diagnostic-code":
			t, rest := typedValue(v)
			cur.DiagnosticType, cur.DiagnosticCode = strings.ToLower(t), rest
		case "last-attempt-date":
			cur.LastAttemptDate = v
		case "will-retry-until":
			cur.WillRetryUntil = v
		}
	}
	flush()
	return d
}

type dsnField struct{ name, value string }

// dsnFieldNames are the names ParseDSN reads, plus common others.
var dsnFieldNames = []string{
	"reporting-mta", "received-from-mta", "arrival-date", "original-envelope-id", "final-recipient",
	"original-recipient", "action", "status", "remote-mta", "diagnostic-code", "last-attempt-date",
	"will-retry-until", "x-postfix-queue-id", "x-postfix-sender", "x-actual-recipient",
}

// dsnFieldName is name (a token: ASCII) lower-cased, in new memory: a
// constant for a known name, so that the usual fields cost no allocation.
func dsnFieldName(name string) string {
	var buf [32]byte
	if len(name) > len(buf) {
		return strings.Clone(strings.ToLower(name))
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	for _, k := range dsnFieldNames {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// dsnFields splits a body into unfolded header fields (RFC 5322 2.2.3
// folding) with an empty field for each blank line.
func dsnFields(body []byte) []dsnField { return appendDSNFields(nil, body) }

// dsnFieldPool holds ParseDSN's field lists (cleared: a pooled list keeps
// no string alive).
var dsnFieldPool = sync.Pool{New: func() any { return new([]dsnField) }}

// appendDSNFields is dsnFields into out, which must be empty.
func appendDSNFields(out []dsnField, body []byte) []dsnField {
	// The lines are cut from the body itself, read as a string (a line
	// scanner allocated a 4 KB buffer and a string per line, and a copy
	// of the body cost as much as the body): everything kept is a copy
	// (a known name is a constant), so the fields hold nothing of body.
	text := unsafe.String(unsafe.SliceData(body), len(body))
	last := -1
	for len(text) > 0 {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if len(line) >= maxDSNSize {
			break // a line scanner's limit: nothing more is read
		}
		// A bare CR inside a line is white space, not a line break.
		line = strings.ReplaceAll(strings.TrimRight(line, "\r"), "\r", " ")
		if strings.TrimSpace(line) == "" {
			if last >= 0 && out[last].name != "" {
				out = append(out, dsnField{})
				last = len(out) - 1
			}
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last >= 0 && out[last].name != "" {
			if len(out[last].value) < maxFieldLen {
				out[last].value += " " + strings.TrimSpace(line)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(strings.TrimSpace(name)) {
			continue
		}
		out = append(out, dsnField{dsnFieldName(strings.TrimSpace(name)), strings.Clone(strings.TrimSpace(value))})
		last = len(out) - 1
	}
	return out
}

// typedValue splits "rfc822; bob@example.com" (RFC 3464 2.1.2's
// address-type ";" generic-address) into its type and value.
func typedValue(v string) (string, string) {
	if t, rest, ok := strings.Cut(v, ";"); ok && isToken(strings.TrimSpace(t)) {
		return strings.TrimSpace(t), strings.TrimSpace(rest)
	}
	return "", strings.TrimSpace(v)
}

// addressValue returns the address of a recipient field: the typed value
// without angle brackets; when the value is not an address (Exim puts a
// pipe command there) the first address inside it.
func addressValue(v string) string {
	_, a := typedValue(v)
	// Spaces first, then brackets and quotes: trimming before folding
	// left "{>" of "{>\f\"", which printed and parsed again lost its ">".
	a = strings.Trim(collapse(a), "<> \"")
	if strings.ContainsAny(a, " |/") {
		if m := findAddr(a); m != "" {
			return m
		}
	}
	return a
}

// mtaName is the host of an MTA field ("dns; mx.example.com [192.0.2.1]"
// -> "mx.example.com").
func mtaName(v string) string {
	_, n := typedValue(v)
	n = strings.Trim(n, "[]<> ")
	if i := strings.IndexAny(n, " \t("); i > 0 {
		n = strings.TrimRight(n[:i], "[]<> ")
	}
	return n
}

// String prints the DSN back as a delivery-status body (RFC 3464 2.1):
// the per-message fields, then one block per recipient.
func (d *DSN) String() string {
	var b strings.Builder
	field := func(name, v string) {
		if v != "" {
			b.WriteString(name + ": " + oneLineValue(v) + "\r\n")
		}
	}
	typed := func(name, typ, v string) {
		if v != "" {
			field(name, typ+"; "+v)
		}
	}
	typed("Reporting-MTA", "dns", d.ReportingMTA)
	typed("Received-From-MTA", "dns", d.ReceivedFromMTA)
	field("Arrival-Date", d.ArrivalDate)
	field("Original-Envelope-Id", d.OriginalEnvelopeID)
	for _, r := range d.Recipients {
		b.WriteString("\r\n")
		typed("Original-Recipient", "rfc822", r.OriginalRecipient)
		typed("Final-Recipient", "rfc822", r.FinalRecipient)
		field("Action", r.Action)
		field("Status", r.Status)
		typed("Remote-MTA", "dns", r.RemoteMTA)
		if r.DiagnosticCode != "" {
			t := r.DiagnosticType
			if t == "" {
				t = "x-unknown"
			}
			typed("Diagnostic-Code", t, r.DiagnosticCode)
		}
		field("Last-Attempt-Date", r.LastAttemptDate)
		field("Will-Retry-Until", r.WillRetryUntil)
	}
	return b.String()
}

func oneLineValue(s string) string { return collapse(s) }
