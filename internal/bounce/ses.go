package bounce

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// sesEvent is an Amazon SES notification (SNS "notificationType" or event
// publishing "eventType") as far as bounces need it.
type sesEvent struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		ReportingMTA      string `json:"reportingMTA"`
		RemoteMtaIP       string `json:"remoteMtaIp"`
		Timestamp         string `json:"timestamp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
	} `json:"delivery"`
	Mail struct {
		Source        string `json:"source"`
		SourceIP      string `json:"sourceIp"`
		CommonHeaders struct {
			From    []string `json:"from"`
			Subject string   `json:"subject"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

// parseSESJSON reads an Amazon SES bounce, complaint or delivery
// notification, bare or wrapped in an SNS envelope. It returns nil for
// JSON that is not one.
func parseSESJSON(raw []byte) *Bounce {
	if len(raw) > maxPartRead {
		return nil
	}
	var env struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}
	// Decode the first JSON value only: SNS mail adds an unsubscribe
	// footer after it.
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&env); err == nil && env.Type == "Notification" && strings.HasPrefix(strings.TrimSpace(env.Message), "{") {
		raw = []byte(env.Message)
	}
	var ev sesEvent
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&ev); err != nil {
		return nil
	}
	typ := ev.NotificationType
	if typ == "" {
		typ = ev.EventType
	}
	if typ == "" {
		return nil
	}
	b := &Bounce{Kind: KindSES, MTA: "amazonses", Failures: []Failure{}}
	if len(ev.Mail.CommonHeaders.From) > 0 {
		if a := findAddr(ev.Mail.CommonHeaders.From[0]); a != "" {
			b.Sender = a
		}
	}
	b.MailFrom = ev.Mail.Source
	if b.Sender == "" {
		b.Sender = ev.Mail.Source
	}
	if i := strings.LastIndexByte(b.Sender, '@'); i >= 0 {
		b.SenderDomain = strings.ToLower(b.Sender[i+1:])
	}
	switch typ {
	case "Bounce":
		if ev.Bounce == nil {
			return nil
		}
		b.ReportingMTA = mtaName(ev.Bounce.ReportingMTA)
		for _, r := range ev.Bounce.BouncedRecipients {
			f := Failure{Recipient: r.EmailAddress, DSNAction: strings.ToLower(r.Action), Status: r.Status,
				RemoteMTA: ev.Bounce.RemoteMtaIP, LastAttempt: ev.Bounce.Timestamp}
			f.DiagnosticType, f.Diagnostic = typedValue(r.DiagnosticCode)
			f.DiagnosticType = strings.ToLower(f.DiagnosticType)
			f.Diagnostic = sanitize.Truncate(collapse(f.Diagnostic), 1000)
			if f.DSNAction == "" {
				f.DSNAction = "failed"
			}
			f.sesType, f.sesSubtype = ev.Bounce.BounceType, ev.Bounce.BounceSubType
			f.context = f.Diagnostic
			b.Failures = append(b.Failures, f)
		}
		if len(b.Failures) == 0 {
			b.note("SES bounce notification without bouncedRecipients")
		}
		classifyAll(b)
		for i := range b.Failures {
			f := &b.Failures[i]
			// SES's own verdict decides where the text says nothing.
			if f.By == "none" || f.Category == "other" {
				if e, ok := Lookup(f.sesType+"/"+f.sesSubtype, "ses"); ok && f.sesType != "" {
					f.Category, f.Entry, f.Meaning, f.Action, f.By = e.Category, e, e.Meaning, e.Action, "ses"
					f.Disposition = e.Disposition
					f.Hard = f.sesType == "Permanent" && e.Hard
					if f.Hard {
						f.Disposition = DispositionSuppress
					}
				}
			}
		}
	case "Complaint":
		b.Kind, b.NotBounce = KindNotBounce, "an Amazon SES complaint notification (a recipient marked the message as spam), not a delivery failure"
	case "Delivery":
		b.Kind, b.NotBounce = KindNotBounce, "an Amazon SES delivery notification: the message was delivered"
	default:
		b.Kind, b.NotBounce = KindNotBounce, "an Amazon SES "+typ+" notification, not a delivery failure"
	}
	return b
}
