package bounce

import (
	"slices"
	"strings"
)

// findProviderCode finds a provider code in brackets: Yahoo's "[TSS04]"
// and "[BL21]", iCloud's "[CS01]" and "[HM08]", Outlook.com's "(S3150)".
// It is the first submatch of
//
//	\[(TSS?\d{2}|BL\d{2}|CS\d{2}|HM\d{2})\]|\((S\d{3,4})\)
//
// (TestProviderCodeAgrees), found by hand: the expression ran on every
// diagnostic. At one bracket at most one form fits, so the first bracket
// where one does holds the leftmost match.
func findProviderCode(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			rest := s[i+1:]
			for _, p := range []string{"TSS", "TS", "BL", "CS", "HM"} {
				if strings.HasPrefix(rest, p) && digitsThen(rest[len(p):], 2, ']') {
					return rest[:len(p)+2]
				}
			}
		case '(':
			rest := s[i+1:]
			if strings.HasPrefix(rest, "S") {
				for _, n := range []int{4, 3} {
					if digitsThen(rest[1:], n, ')') {
						return rest[:1+n]
					}
				}
			}
		}
	}
	return ""
}

// digitsThen reports whether s starts with n ASCII digits and then c.
func digitsThen(s string, n int, c byte) bool {
	if len(s) < n+1 || s[n] != c {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var providerRes = []struct {
	re       *fre
	provider string
}{
	{mustFre(`(?i)gsmtp|\bgoogle\.com|googlemail\.com|gmail-smtp|support\.google\.com|aspmx\.l\.google`), "google"},
	{mustFre(`(?i)outlook\.com|protection\.outlook|office365|hotmail\.|\.prod\.outlook|microsoft\.com|messaging\.microsoft|sender\.office\.com`), "microsoft"},
	{mustFre(`(?i)yahoo|yahoodns|\baol\.com|\[TSS?\d{2}\]`), "yahoo"},
	{mustFre(`(?i)amazonses`), "ses"},
	{mustFre(`(?i)icloud\.com|\bme\.com|\bmac\.com|support\.apple\.com|\[(CS|HM)\d{2}\]`), "apple"},
}

// recipientProviders map well-known consumer domains to their provider.
var recipientProviders = map[string]string{
	"gmail.com": "google", "googlemail.com": "google",
	"outlook.com": "microsoft", "hotmail.com": "microsoft", "live.com": "microsoft", "msn.com": "microsoft",
	"yahoo.com": "yahoo", "aol.com": "yahoo", "ymail.com": "yahoo",
	"icloud.com": "apple", "me.com": "apple", "mac.com": "apple",
}

// detectProvider names the receiving provider from the remote MTA, the
// reply text and the recipient's domain.
func detectProvider(f *Failure) string {
	for _, s := range []string{f.RemoteMTA, f.Diagnostic} {
		for _, p := range providerRes {
			if s != "" && p.re.MatchString(s) {
				return p.provider
			}
		}
	}
	return recipientProviders[f.Domain()]
}

func classifyAll(b *Bounce) {
	for i := range b.Failures {
		classify(&b.Failures[i])
		b.Failures[i].Origin = origin(b, &b.Failures[i])
	}
}

// classify decides code, category, hard/soft and disposition for f.
func classify(f *Failure) {
	k := kb()
	f.Recipient = strings.Trim(f.Recipient, "<> ")

	// The code: the DSN Status, unless the receiver's own reply in the
	// diagnostic is more specific (Status 5.0.0, "550 5.1.1 ..."). Codes
	// a tool made up (x.0.9xx) count as none.
	status, _ := ParseCode(f.Status)
	if status.madeUp() {
		status = Code{}
	}
	if r, ok := FindReply(f.Diagnostic); ok {
		if f.ReplyCode == 0 {
			f.ReplyCode = r.Code
		}
		e := r.Enhanced
		if !e.IsZero() && (status.IsZero() || (status.Generic() && !e.Generic() && e.Class == status.Class) || (status.Subject == 0 && e.Subject != 0 && e.Class == status.Class)) {
			status = e
		}
	}
	f.Status = status.String()
	if f.Provider == "" {
		f.Provider = detectProvider(f)
	}
	var entry *Entry
	if pc := findProviderCode(f.Diagnostic); pc != "" {
		if e, ok := Lookup(pc, f.Provider); ok {
			f.ProviderCode, entry = pc, e
		}
	}
	if entry == nil && !status.IsZero() {
		entry, _ = Lookup(status.String(), f.Provider)
		// RFC 3463's X.4.1 is "no answer from host", but a server that
		// replied 550 5.4.1 did answer: that reply is Microsoft's "recipient
		// address rejected: access denied" (an unknown recipient).
		if entry != nil && entry.KBCode == "X.4.1" && f.ReplyCode >= 500 {
			if e, ok := Lookup(status.String(), "microsoft"); ok && e.Provider == "microsoft" {
				entry = e
			}
		}
	}
	specific := entry != nil && entry.Exact && (f.ProviderCode != "" || !status.Generic())

	p := matchText(f.Diagnostic)
	if f.ProviderCode != "" {
		p = nil // a provider's own code ("[TSS04]") says more than its words
	}
	if p != nil && specific && entry.firm && p.Category != entry.Category {
		p = nil // "550 5.7.26 ... To best protect our users from spam": the code decides
	}
	if p == nil && f.ProviderCode == "" && f.context != "" && f.context != f.Diagnostic {
		if q := matchText(f.context); q != nil && !specific {
			p = q
		}
	}

	// The class that decides permanence.
	class := status.Class
	if class == 0 && f.ProviderCode == "" && f.ReplyCode >= 400 {
		class = f.ReplyCode / 100
	}
	if entry != nil && f.ProviderCode != "" && class == 0 {
		if entry.Permanent {
			class = 5
		} else {
			class = 4
		}
	}
	switch {
	case class == 5:
		f.Permanent = true
	case class == 4:
		f.Permanent = false
	default:
		f.Permanent = f.DSNAction != "delayed"
	}
	if f.DSNAction == "delayed" {
		f.Permanent = false
	}
	if class == 0 {
		class = 4
		if f.Permanent {
			class = 5
		}
	}

	c := &f.Classification
	var disposition, ses string
	switch {
	case p != nil && (p.strong || !specific):
		c.Category = p.Category
		c.By = "text"
		if entry != nil && entry.Category == p.Category {
			c.By = "code+text"
			c.Entry = entry
			c.Meaning, c.Action = entry.Meaning, entry.Action
			c.Checks = union(entry.Checks, p.Checks)
			c.CheckDomain = entry.CheckDomain
			switch {
			case entry.Provider != "":
				// A provider's own meaning of its code is precise:
				// the words add nothing to its checks.
				c.Checks = slices.Clone(entry.Checks)
			case p.Checks != nil && !entry.firm:
				// The words name the cause more precisely than a
				// general code: their checks (none for "recipient
				// preferences") replace the code's.
				c.Checks, c.CheckDomain = slices.Clone(p.Checks), p.CheckDomain
			}
			if p.Meaning != "" && entry.Provider == "" && !entry.firm {
				c.Meaning = p.Meaning // and so does their meaning
			}
			disposition = entry.Disposition
			if p.Disposition != "" && entry.Provider == "" && !entry.firm {
				disposition = p.Disposition
			}
			ses = entry.SESType + "/" + entry.SESSubtype
			break
		}
		if p.Code != "" {
			pc := p.Code
			if strings.HasPrefix(pc, "X.") {
				pc = string(rune('0'+class)) + pc[1:]
			}
			if e, ok := Lookup(pc, f.Provider); ok {
				c.Entry = e
				c.Meaning, c.Action, c.Checks, c.CheckDomain = e.Meaning, e.Action, e.Checks, e.CheckDomain
				ses = e.SESType + "/" + e.SESSubtype
			}
		}
		if p.Meaning != "" {
			c.Meaning = p.Meaning
		}
		if p.Checks != nil {
			c.Checks, c.CheckDomain = slices.Clone(p.Checks), p.CheckDomain
		}
		if c.Action == "" || (c.Entry != nil && c.Entry.Category != p.Category) {
			c.Action = k.catBySlug[p.Category].Action
		}
		disposition = p.Disposition
	case entry != nil:
		c.Category, c.By, c.Entry = entry.Category, "code", entry
		c.Meaning, c.Action, c.Checks, c.CheckDomain = entry.Meaning, entry.Action, entry.Checks, entry.CheckDomain
		disposition = entry.Disposition
		ses = entry.SESType + "/" + entry.SESSubtype
	case k.replies[f.ReplyCode] != nil:
		rr := k.replies[f.ReplyCode]
		c.Category, c.By = rr.Category, "reply-code"
		if e, ok := Lookup(string(rune('0'+class)) + rr.Code[1:]); ok {
			c.Entry = e
			c.Meaning, c.Checks, c.CheckDomain = e.Meaning, e.Checks, e.CheckDomain
			if e.Category == rr.Category {
				c.Action = e.Action
			}
		}
		if c.Action == "" {
			c.Action = k.catBySlug[rr.Category].Action
		}
	default:
		c.Category, c.By = "other", "none"
		c.Meaning = "The bounce gives no code and no reason deliverdoctor recognises; read the diagnostic text."
		c.Action = k.catBySlug["other"].Action
	}
	if c.Checks == nil {
		c.Checks = []string{}
	}
	if c.CheckDomain == "" {
		c.CheckDomain = "sender"
	}
	cat := k.catBySlug[c.Category]
	if disposition == "" || (c.Entry != nil && c.Entry.Category != c.Category) {
		disposition = cat.Disposition
	}
	c.Hard = f.Permanent && cat.Hard
	switch {
	case c.Hard:
		disposition = DispositionSuppress
	case disposition == DispositionSuppress:
		disposition = DispositionRetry
	}
	c.Disposition = disposition

	// SES-style type and subtype (seed 001): Permanent only for hard
	// bounces; the subtype from the category or the entry.
	if ses == "" || ses == "/" || (c.Entry != nil && c.Entry.Category != c.Category) {
		ses = cat.SES
	}
	t, st, _ := strings.Cut(ses, "/")
	switch {
	case c.Hard:
		if t != "Permanent" {
			t, st = "Permanent", "General"
		}
	case t == "Permanent":
		t, st = "Transient", "General"
	case t == "Undetermined" && !f.Permanent:
		t, st = "Transient", "General"
	}
	if f.sesType != "" {
		t, st = f.sesType, f.sesSubtype
	}
	c.SESType, c.SESSubtype = t, st
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// relayedReply recognises a bounce in which the sender's own MTA reports
// the receiving server's reply in its SMTP session.
var relayedReply = lazyRegexp(`(?i)\bsaid:|remote (host|server) (said|returned)|smtp error from remote|did not like our|while talking to|<<< [45]\d\d|received >>> [45]\d\d|the error that the other server returned|responded with failure|failed with:|refused to accept|rejected (your message|recipient|the recipient)|in reply to (rcpt|mail|data|end of data)|does not like recipient|it responded as follows|remote server returned|server returned|smtp error from remote server`)

// origin decides where the failure happened (OpenSRS seed: "SMTP reject
// vs bounce reject").
func origin(b *Bounce, f *Failure) string {
	if b.Kind == KindReply {
		return OriginSMTPReject
	}
	rd := f.Domain()
	// The reporting MTA had an SMTP session with another organisation's
	// server, which answered with this reply: a reject in that session.
	if f.RemoteMTA != "" && f.ReplyCode != 0 && b.ReportingMTA != "" && !sameOrganization(f.RemoteMTA, b.ReportingMTA) &&
		(f.DiagnosticType == "smtp" || f.DiagnosticType == "") {
		return OriginSMTPReject
	}
	if b.ReportingMTA != "" && rd != "" && sameOrganization(b.ReportingMTA, rd) {
		return OriginRemoteBounce
	}
	if relayedIn(f.context) || relayedFre.MatchString(f.Diagnostic) ||
		(f.RemoteMTA != "" && f.ReplyCode != 0 && (f.DiagnosticType == "smtp" || f.DiagnosticType == "")) {
		return OriginSMTPReject
	}
	switch f.Category {
	case "message-expired", "no-answer-from-host", "bad-connection", "routing-errors":
		if f.ReplyCode == 0 || f.ReplyCode == 421 {
			return OriginLocal
		}
	case "bad-domain":
		if f.ReplyCode == 0 {
			return OriginLocal
		}
	}
	if f.DiagnosticType != "" && f.DiagnosticType != "smtp" {
		// x-unix, X-Notes, x-local: the reporting system's own delivery.
		return OriginRemoteBounce
	}
	if f.ReplyCode == 0 && f.Status != "" && f.RemoteMTA == "" && b.ReportingMTA != "" {
		return OriginRemoteBounce
	}
	return ""
}

// sameOrganization compares a host name and a domain by their last labels
// (three when the second-level label is a generic one like co.jp).
func sameOrganization(host, domain string) bool {
	o := orgDomain(host)
	return o != "" && o == orgDomain(domain)
}

func orgDomain(name string) string {
	// The labels are found from the end (strings.Split made a slice per
	// name compared).
	s := strings.ToLower(strings.Trim(name, ". "))
	dot1 := strings.LastIndexByte(s, '.') // before the last label
	if dot1 < 0 {
		return ""
	}
	dot2 := strings.LastIndexByte(s[:dot1], '.') // before the second-to-last, -1 if none
	if dot2 < 0 {
		return s
	}
	if len(s)-dot1-1 == 2 {
		switch s[dot2+1 : dot1] {
		case "co", "ne", "or", "ac", "ed", "go", "com", "net", "org", "gov", "edu", "ad", "lg", "gr":
			return s[strings.LastIndexByte(s[:dot2], '.')+1:]
		}
	}
	return s[dot2+1:]
}
