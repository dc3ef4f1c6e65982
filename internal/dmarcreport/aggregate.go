package dmarcreport

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseAggregate parses a DMARC aggregate report: RFC 7489 appendix C,
// the RFC 9990 schema (namespace urn:ietf:params:xml:ns:dmarc-2.0) and the
// older drafts. It recovers from the XML errors receivers make (see
// parseXML) and lower-cases the enumerated values ("Pass", "None"). It
// fails only when there is no <feedback> element, no report id and no
// rows, or a row count that is not a number.
func ParseAggregate(data []byte) (*Aggregate, error) {
	doc, complete := parseXML(data)
	if !complete {
		return nil, fmt.Errorf("%w: more than %d XML elements", ErrTooLarge, maxElements)
	}
	fb := doc.child("feedback")
	if fb == nil {
		fb = doc.find("feedback")
	}
	if fb == nil {
		if len(strings.TrimSpace(string(data))) == 0 {
			return nil, fmt.Errorf("%w: the file is empty", ErrNoReport)
		}
		return nil, fmt.Errorf("%w: no <feedback> element: not a DMARC aggregate report", ErrNoReport)
	}
	a := &Aggregate{Version: fb.value("version")}
	md := fb.child("report_metadata")
	a.Org = md.value("org_name")
	a.Email = md.value("email")
	a.ReportID = md.value("report_id")
	a.Generator = md.value("generator")
	if a.Org == "" {
		// Some reporters leave org_name empty; their address names them.
		a.Org = domainOf(a.Email)
	}
	if md != nil {
		for _, c := range md.children {
			if c.name == "error" {
				if s := cleanText(c.text.String()); s != "" {
					a.Errors = append(a.Errors, s)
				}
			}
		}
	}
	var err error
	if a.Begin, err = parseReportTime(md.value("date_range", "begin")); err != nil {
		return nil, fmt.Errorf("%w: date_range begin: %v", ErrSyntax, err)
	}
	if a.End, err = parseReportTime(md.value("date_range", "end")); err != nil {
		return nil, fmt.Errorf("%w: date_range end: %v", ErrSyntax, err)
	}
	pp := fb.child("policy_published")
	a.Policy = Published{
		Domain: lowerDomain(pp.value("domain")),
		ADKIM:  lower(pp.value("adkim")), ASPF: lower(pp.value("aspf")),
		P: lower(pp.value("p")), SP: lower(pp.value("sp")), NP: lower(pp.value("np")),
		Pct: pp.value("pct"), FO: pp.value("fo"), Testing: lower(pp.value("testing")),
		DiscoveryMethod: lower(pp.value("discovery_method")),
	}
	for _, rec := range fb.children {
		if rec.name != "record" {
			continue
		}
		row, err := parseRow(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrSyntax, len(a.Rows)+1, err)
		}
		a.Rows = append(a.Rows, row)
	}
	if a.ReportID == "" && a.Org == "" && len(a.Rows) == 0 {
		return nil, fmt.Errorf("%w: <feedback> has no report_metadata and no records", ErrSyntax)
	}
	return a, nil
}

func parseRow(rec *node) (Row, error) {
	row := rec.child("row")
	if row == nil {
		// Some drafts put the row's elements directly in the record.
		row = rec
	}
	r := Row{SourceIP: row.value("source_ip")}
	if r.SourceIP == "" {
		r.SourceIP = cleanText(textOf(rec.find("source_ip")))
	}
	countText := row.value("count")
	if countText == "" {
		countText = cleanText(textOf(rec.find("count")))
	}
	n, err := strconv.ParseInt(countText, 10, 64)
	// A row of more than 2^40 messages is a broken report, and sums of
	// such counts must not overflow.
	if err != nil || n < 0 || n > 1<<40 {
		return r, fmt.Errorf("count %q is not a number of messages", countText)
	}
	r.Count = n
	pe := row.child("policy_evaluated")
	if pe == nil {
		pe = rec.find("policy_evaluated")
	}
	r.Disposition = lower(pe.value("disposition"))
	r.DKIM = lower(pe.value("dkim"))
	r.SPF = lower(pe.value("spf"))
	if pe != nil {
		for _, c := range pe.children {
			if c.name == "reason" {
				rs := Reason{Type: lower(c.value("type")), Comment: c.value("comment")}
				if rs.Type != "" || rs.Comment != "" {
					r.Reasons = append(r.Reasons, rs)
				}
			}
		}
	}
	ids := rec.child("identifiers")
	if ids == nil {
		ids = rec.child("identities") // an early draft's spelling
	}
	r.HeaderFrom = lowerDomain(ids.value("header_from"))
	r.EnvelopeFrom = lowerDomain(ids.value("envelope_from"))
	r.EnvelopeTo = lowerDomain(ids.value("envelope_to"))
	if r.HeaderFrom == "" {
		r.HeaderFrom = lowerDomain(cleanText(textOf(rec.find("header_from"))))
	}
	if ar := rec.child("auth_results"); ar != nil {
		for _, c := range ar.children {
			switch c.name {
			case "dkim":
				r.DKIMAuth = append(r.DKIMAuth, DKIMResult{
					Domain: lowerDomain(c.value("domain")), Selector: c.value("selector"),
					Result: lower(c.value("result")), Human: c.value("human_result"),
				})
			case "spf":
				r.SPFAuth = append(r.SPFAuth, SPFResult{
					Domain: lowerDomain(c.value("domain")), Scope: lower(c.value("scope")),
					Result: lower(c.value("result")),
				})
			}
		}
	}
	return r, nil
}

func textOf(n *node) string {
	if n == nil {
		return ""
	}
	return n.text.String()
}

func lower(s string) string { return strings.ToLower(s) }

func lowerDomain(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

// parseReportTime reads a date_range bound: seconds since the epoch (RFC
// 7489 appendix C), also written with a fraction, or an RFC 3339 time as
// a few reporters send. Empty is the zero time.
func parseReportTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("%q is out of range", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1<<40 && !math.IsNaN(f) {
		return time.Unix(int64(f), 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (seconds since 1970)", s)
}
