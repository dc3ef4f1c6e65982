package dmarcreport

import (
	"net/mail"
	"regexp"
	"strings"
	"sync"

	_ "github.com/emersion/go-message/charset" // reports in ISO-8859-x, windows-125x
	"github.com/emersion/go-message/textproto"
)

// failureFrom builds an RFC 6591 failure report from the feedback-report
// part (RFC 5965 3.1 fields, RFC 6591 3.1 additions) and the reported
// message's headers.
func failureFrom(m *msgState) *FailureReport {
	fb := m.feedback
	get := func(h *textproto.Header, k string) string {
		if h == nil {
			return ""
		}
		return decodeHeader(h.Get(k))
	}
	f := &FailureReport{
		ARF:              true,
		Org:              orgOf(get(m.top, "From")),
		ReportID:         strings.Trim(get(m.top, "Message-Id"), "<> "),
		Domain:           lowerDomain(get(fb, "Reported-Domain")),
		SourceIP:         get(fb, "Source-Ip"),
		AuthFailure:      lower(get(fb, "Auth-Failure")),
		OriginalMailFrom: strings.Trim(get(fb, "Original-Mail-From"), "<> "),
		OriginalRcptTo:   strings.Trim(get(fb, "Original-Rcpt-To"), "<> "),
		DeliveryResult:   lower(get(fb, "Delivery-Result")),
		DKIMDomain:       lowerDomain(get(fb, "Dkim-Domain")),
		DKIMSelector:     get(fb, "Dkim-Selector"),
		AuthResults:      get(fb, "Authentication-Results"),
		HeaderFrom:       get(m.reported, "From"),
		Subject:          get(m.reported, "Subject"),
	}
	if t, err := mail.ParseDate(get(fb, "Arrival-Date")); err == nil {
		f.Arrival = t.UTC()
	} else if t, err := mail.ParseDate(get(m.top, "Date")); err == nil {
		f.Arrival = t.UTC()
	}
	if f.Domain == "" {
		f.Domain = domainOf(f.HeaderFrom)
	}
	if f.ReportID == "" {
		f.ReportID = strings.Trim(get(fb, "Message-Id"), "<> ")
	}
	return f
}

var (
	plainDomain = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?im)^\s*Sender Domain:\s*(\S+)`) })
	plainIP     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?im)^\s*Sender IP Address:\s*(\S+)`) })
	plainDate   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?im)^\s*Received date:\s*(.+)$`) })
	plainFrom   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?im)^From:\s*(.+)$`) })
	plainSubj   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?im)^Subject:\s*(.+)$`) })
)

// plainFailure recovers a failure report from the plain-text form some
// MTAs (Exim) send without an ARF part: "Sender Domain:", "Sender IP
// Address:" lines and the reported headers quoted below them. nil when
// the message is not one.
func plainFailure(m *msgState) *FailureReport {
	subject := ""
	if m.top != nil {
		subject = strings.ToLower(decodeHeader(m.top.Get("Subject")))
	}
	if !strings.Contains(subject, "dmarc") {
		return nil
	}
	for _, text := range m.plainText {
		d := plainDomain().FindStringSubmatch(text)
		ip := plainIP().FindStringSubmatch(text)
		if d == nil || ip == nil {
			continue
		}
		f := &FailureReport{
			Org:      orgOf(decodeHeader(m.top.Get("From"))),
			ReportID: strings.Trim(decodeHeader(m.top.Get("Message-Id")), "<> "),
			Domain:   lowerDomain(cleanText(d[1])), SourceIP: cleanText(ip[1]), AuthFailure: "dmarc",
		}
		if dt := plainDate().FindStringSubmatch(text); dt != nil {
			if t, err := mail.ParseDate(strings.TrimSpace(dt[1])); err == nil {
				f.Arrival = t.UTC()
			}
		}
		if fr := plainFrom().FindStringSubmatch(text); fr != nil {
			f.HeaderFrom = decodeHeader(fr[1])
		}
		if s := plainSubj().FindStringSubmatch(text); s != nil {
			f.Subject = decodeHeader(s[1])
		}
		return f
	}
	return nil
}

// orgOf names the reporter by its From: address's domain.
func orgOf(from string) string {
	if d := domainOf(from); d != "" {
		return d
	}
	return from
}

func domainOf(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return lowerDomain(strings.Trim(addr[i+1:], "<> "))
	}
	return ""
}
