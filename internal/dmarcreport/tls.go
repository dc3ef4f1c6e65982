package dmarcreport

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// tlsJSON mirrors RFC 8460 4.4; numbers are json.Number so that a count
// sent as a string or a float is still read.
type tlsJSON struct {
	Org       string `json:"organization-name"`
	DateRange struct {
		Start string `json:"start-datetime"`
		End   string `json:"end-datetime"`
	} `json:"date-range"`
	Contact  string `json:"contact-info"`
	ReportID string `json:"report-id"`
	Policies []struct {
		Policy struct {
			Type    string   `json:"policy-type"`
			Strings []string `json:"policy-string"`
			Domain  string   `json:"policy-domain"`
			MXHost  any      `json:"mx-host"` // a string, or a list in some drafts
		} `json:"policy"`
		Summary struct {
			OK     json.Number `json:"total-successful-session-count"`
			Failed json.Number `json:"total-failure-session-count"`
		} `json:"summary"`
		Failures []struct {
			ResultType    string      `json:"result-type"`
			SendingMTAIP  string      `json:"sending-mta-ip"`
			ReceivingMX   string      `json:"receiving-mx-hostname"`
			ReceivingHelo string      `json:"receiving-mx-helo"`
			ReceivingIP   string      `json:"receiving-ip"`
			Count         json.Number `json:"failed-session-count"`
			Info          string      `json:"additional-information"`
			ReasonCode    string      `json:"failure-reason-code"`
		} `json:"failure-details"`
	} `json:"policies"`
}

// ParseTLS parses an SMTP TLS report (RFC 8460 4.4, JSON). Names and
// result types are lower-cased; a report without organization-name,
// report-id and policies is an error.
func ParseTLS(data []byte) (*TLSReport, error) {
	var j tlsJSON
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	if err := d.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: TLS report JSON: %v", ErrSyntax, err)
	}
	if j.Org == "" && j.ReportID == "" && len(j.Policies) == 0 {
		return nil, fmt.Errorf("%w: JSON without organization-name, report-id or policies: not an SMTP TLS report", ErrNoReport)
	}
	t := &TLSReport{Org: cleanText(j.Org), Contact: cleanText(j.Contact), ReportID: cleanText(j.ReportID)}
	var err error
	if t.Begin, err = parseTLSTime(j.DateRange.Start); err != nil {
		return nil, fmt.Errorf("%w: start-datetime: %v", ErrSyntax, err)
	}
	if t.End, err = parseTLSTime(j.DateRange.End); err != nil {
		return nil, fmt.Errorf("%w: end-datetime: %v", ErrSyntax, err)
	}
	for i, p := range j.Policies {
		tp := TLSPolicy{Type: lower(cleanText(p.Policy.Type)), Strings: p.Policy.Strings, Domain: lowerDomain(cleanText(p.Policy.Domain))}
		switch mx := p.Policy.MXHost.(type) {
		case string:
			tp.MXHost = lowerDomain(cleanText(mx))
		case []any:
			var hosts []string
			for _, h := range mx {
				if s, ok := h.(string); ok {
					hosts = append(hosts, lowerDomain(cleanText(s)))
				}
			}
			tp.MXHost = strings.Join(hosts, " ")
		}
		if tp.OK, err = count(p.Summary.OK); err != nil {
			return nil, fmt.Errorf("%w: policy %d: total-successful-session-count: %v", ErrSyntax, i+1, err)
		}
		if tp.Failed, err = count(p.Summary.Failed); err != nil {
			return nil, fmt.Errorf("%w: policy %d: total-failure-session-count: %v", ErrSyntax, i+1, err)
		}
		for _, f := range p.Failures {
			n, err := count(f.Count)
			if err != nil {
				return nil, fmt.Errorf("%w: policy %d: failed-session-count: %v", ErrSyntax, i+1, err)
			}
			tp.Failures = append(tp.Failures, TLSFailure{
				ResultType: lower(cleanText(f.ResultType)), SendingMTAIP: cleanText(f.SendingMTAIP),
				ReceivingMX: lowerDomain(cleanText(f.ReceivingMX)), ReceivingHelo: cleanText(f.ReceivingHelo),
				ReceivingIP: cleanText(f.ReceivingIP), Count: n, Info: cleanText(f.Info), ReasonCode: cleanText(f.ReasonCode),
			})
		}
		t.Policies = append(t.Policies, tp)
	}
	return t, nil
}

func count(n json.Number) (int64, error) {
	if n == "" {
		return 0, nil
	}
	if v, err := n.Int64(); err == nil && v >= 0 {
		return v, nil
	}
	if f, err := n.Float64(); err == nil && f >= 0 && f < 1<<53 {
		return int64(f), nil
	}
	return 0, fmt.Errorf("%q is not a count", n.String())
}

func parseTLSTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time", s)
}
