package reports

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// RowLine is one line of --format jsonl: one aggregate report row, one
// TLS failure detail (or a policy without failures), or one failure
// report, with its report's metadata, flat for a database.
type RowLine struct {
	Kind         dmarcreport.Kind         `json:"kind"`
	File         string                   `json:"file"`
	Org          string                   `json:"org"`
	ReportID     string                   `json:"report_id"`
	Domain       string                   `json:"domain"`
	Begin        string                   `json:"begin"`
	End          string                   `json:"end"`
	SourceIP     string                   `json:"source_ip,omitempty"`
	Count        int64                    `json:"count"`
	Disposition  string                   `json:"disposition,omitempty"`
	DKIM         string                   `json:"dkim,omitempty"`
	SPF          string                   `json:"spf,omitempty"`
	DMARCPass    *bool                    `json:"dmarc_pass,omitempty"`
	HeaderFrom   string                   `json:"header_from,omitempty"`
	EnvelopeFrom string                   `json:"envelope_from,omitempty"`
	EnvelopeTo   string                   `json:"envelope_to,omitempty"`
	DKIMAuth     []dmarcreport.DKIMResult `json:"dkim_auth,omitempty"`
	SPFAuth      []dmarcreport.SPFResult  `json:"spf_auth,omitempty"`
	Reasons      []dmarcreport.Reason     `json:"reasons,omitempty"`
	Policy       string                   `json:"policy,omitempty"`
	// tls
	PolicyType     string `json:"policy_type,omitempty"`
	SessionsOK     *int64 `json:"sessions_ok,omitempty"`
	SessionsFailed *int64 `json:"sessions_failed,omitempty"`
	ResultType     string `json:"result_type,omitempty"`
	ReceivingMX    string `json:"receiving_mx,omitempty"`
	ReceivingIP    string `json:"receiving_ip,omitempty"`
	ReasonCode     string `json:"failure_reason_code,omitempty"`
	// failure
	AuthFailure string `json:"auth_failure,omitempty"`
	Subject     string `json:"subject,omitempty"`
}

// Rows flattens a report into jsonl lines.
func Rows(r *dmarcreport.Report) []RowLine {
	var out []RowLine
	switch {
	case r.Aggregate != nil:
		a := r.Aggregate
		for _, row := range a.Rows {
			pass := row.DMARCPass()
			out = append(out, RowLine{Kind: r.Kind, File: r.File, Org: a.Org, ReportID: a.ReportID, Domain: a.Policy.Domain,
				Begin: rfc3339(a.Begin), End: rfc3339(a.End), SourceIP: normalizeIP(row.SourceIP), Count: row.Count,
				Disposition: row.Disposition, DKIM: row.DKIM, SPF: row.SPF, DMARCPass: &pass, HeaderFrom: row.HeaderFrom,
				EnvelopeFrom: row.EnvelopeFrom, EnvelopeTo: row.EnvelopeTo, DKIMAuth: row.DKIMAuth, SPFAuth: row.SPFAuth,
				Reasons: row.Reasons, Policy: a.Policy.P})
		}
	case r.TLS != nil:
		t := r.TLS
		for _, p := range t.Policies {
			base := RowLine{Kind: r.Kind, File: r.File, Org: t.Org, ReportID: t.ReportID, Domain: p.Domain,
				Begin: rfc3339(t.Begin), End: rfc3339(t.End), PolicyType: p.Type, SessionsOK: i64(p.OK), SessionsFailed: i64(p.Failed)}
			if len(p.Failures) == 0 {
				out = append(out, base)
			}
			for _, f := range p.Failures {
				l := base
				l.Count, l.ResultType, l.ReceivingMX, l.ReceivingIP, l.SourceIP, l.ReasonCode = f.Count, f.ResultType, f.ReceivingMX, f.ReceivingIP, f.SendingMTAIP, f.ReasonCode
				out = append(out, l)
			}
		}
	case r.Failure != nil:
		f := r.Failure
		out = append(out, RowLine{Kind: r.Kind, File: r.File, Org: f.Org, ReportID: f.ReportID, Domain: f.Domain,
			Begin: rfc3339(f.Arrival), End: rfc3339(f.Arrival), SourceIP: f.SourceIP, Count: 1, HeaderFrom: f.HeaderFrom,
			EnvelopeFrom: f.OriginalMailFrom, AuthFailure: f.AuthFailure, Subject: f.Subject})
	}
	return out
}

func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func pct(a, b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

func day(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

func (d *Domain) policyLine() string {
	s := "p=" + orDefault(d.Policy, "?") + " in the reports"
	if d.PolicyNow != "" {
		s += ", p=" + d.PolicyNow + " today"
	}
	return s
}

func (d *Domain) readiness() string {
	switch {
	case d.Next == "":
		return "already at p=reject"
	case d.LegitimateTotal == 0:
		return "no mail from your own sources in these reports"
	case d.Ready:
		return fmt.Sprintf("ready for p=%s: no legitimate source fails", d.Next)
	default:
		return fmt.Sprintf("not ready for p=%s: it would lose %s of %s legitimate messages (%.1f%%); fix first: %s",
			d.Next, num(d.LegitimateFailing), num(d.LegitimateTotal), d.LossPercent, strings.Join(d.FixFirst, ", "))
	}
}

func sourceRows(doc *Document, domain string) [][]string {
	var rows [][]string
	for _, s := range doc.Sources {
		if s.Domain != domain {
			continue
		}
		env := ""
		if len(s.EnvelopeFrom) > 0 {
			env = s.EnvelopeFrom[0].Value
		}
		var dk []string
		for i, d := range s.DKIM {
			if i == 2 {
				break
			}
			dk = append(dk, d.Domain)
		}
		rows = append(rows, []string{s.IP, s.PTR, num(s.Messages), pct(s.DMARCPass, s.Messages), env, strings.Join(dk, " "), s.SPFNow, string(s.Verdict)})
	}
	return rows
}

var sourceHeaders = []string{"SOURCE", "PTR", "MESSAGES", "DMARC PASS", "ENVELOPE FROM", "DKIM d=", "SPF NOW", "VERDICT"}

// Text writes the document as tables for a terminal. Every string that
// came from a report is sanitized (report.Table does it for cells).
func Text(w io.Writer, doc *Document, color, verbose bool) error {
	fmt.Fprintln(w, summaryLine(doc))
	for _, d := range doc.Domains {
		fmt.Fprintf(w, "\n%s  %s – %s  %s\n", sanitize.Line(d.Domain), day(d.Begin), day(d.End), d.policyLine())
		fmt.Fprintf(w, "  %s messages, %s pass DMARC (%s); readiness: %s\n\n", num(d.Messages), num(d.DMARCPass), pct(d.DMARCPass, d.Messages), d.readiness())
		if err := report.Table(w, sourceHeaders, sourceRows(doc, d.Domain)); err != nil {
			return err
		}
		for _, s := range doc.Sources {
			if s.Domain == d.Domain && s.Verdict == VerdictFailing {
				fmt.Fprintf(w, "  %s: %s\n    fix: %s\n", sanitize.Line(s.IP), sanitize.Line(s.Reason), sanitize.Line(s.Fix))
			}
		}
	}
	if len(doc.Selectors) > 0 {
		fmt.Fprintln(w, "\nDKIM selectors seen (check their keys: deliverdoctor check DOMAIN --selectors-from REPORTS...)")
		var rows [][]string
		for _, s := range doc.Selectors {
			rows = append(rows, []string{s.Domain, s.Selector, num(s.Messages), pct(s.Pass, s.Messages)})
		}
		if err := report.Table(w, []string{"D=", "SELECTOR", "MESSAGES", "PASS"}, rows); err != nil {
			return err
		}
	}
	if len(doc.TLS) > 0 {
		fmt.Fprintln(w, "\nSMTP TLS reports")
		var rows [][]string
		for _, p := range doc.TLS {
			rows = append(rows, []string{p.Domain, p.Type, "(all)", "", num(p.SessionsOK + p.Failed), num(p.Failed), fmt.Sprintf("%.1f%%", p.FailureRate)})
			for _, f := range p.Failures {
				rows = append(rows, []string{"", "", f.MX, f.ResultType, "", num(f.Sessions), fmt.Sprintf("%.1f%%", f.RatePercent)})
			}
		}
		if err := report.Table(w, []string{"DOMAIN", "POLICY", "MX", "RESULT", "SESSIONS", "FAILED", "RATE"}, rows); err != nil {
			return err
		}
	}
	if len(doc.Findings) > 0 {
		fmt.Fprintln(w)
		report.WriteFindingsText(w, doc.Findings, color, verbose)
	}
	if len(doc.Errors) > 0 {
		fmt.Fprintf(w, "\nCould not read %d inputs:\n", len(doc.Errors))
		for _, e := range doc.Errors {
			fmt.Fprintf(w, "  %s: %s\n", sanitize.Line(e.File), sanitize.Line(e.Error))
		}
	}
	for _, n := range doc.Notes {
		fmt.Fprintf(w, "note: %s\n", sanitize.Line(n))
	}
	return nil
}

func summaryLine(doc *Document) string {
	kinds := map[dmarcreport.Kind]int{}
	for _, r := range doc.Reports {
		kinds[r.Kind]++
	}
	s := fmt.Sprintf("%d aggregate, %d TLS and %d failure reports from %d inputs", kinds[dmarcreport.KindAggregate], kinds[dmarcreport.KindTLS], kinds[dmarcreport.KindFailure], doc.Stats.Inputs)
	if doc.Stats.Duplicates > 0 {
		s += fmt.Sprintf(", %d duplicates skipped", doc.Stats.Duplicates)
	}
	if len(doc.Errors) > 0 {
		s += fmt.Sprintf(", %d unreadable", len(doc.Errors))
	}
	return s + "; status " + strings.ToUpper(string(doc.Status))
}

// CSV writes one line per source.
func CSV(w io.Writer, doc *Document) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"domain", "ip", "ptr", "messages", "dmarc_pass", "spf_aligned_pass", "dkim_aligned_pass", "spf_auth_pass", "dkim_auth_pass", "envelope_from", "dkim_domains", "orgs", "spf_now", "listed", "verdict", "reason", "fix"})
	for _, s := range doc.Sources {
		var env, dk, orgs []string
		for _, c := range s.EnvelopeFrom {
			env = append(env, c.Value)
		}
		for _, d := range s.DKIM {
			dk = append(dk, d.Domain)
		}
		for _, o := range s.Orgs {
			orgs = append(orgs, o.Value)
		}
		rec := []string{s.Domain, s.IP, s.PTR, strconv.FormatInt(s.Messages, 10), strconv.FormatInt(s.DMARCPass, 10),
			strconv.FormatInt(s.SPFAlignedPass, 10), strconv.FormatInt(s.DKIMAlignedPass, 10), strconv.FormatInt(s.SPFAuthPass, 10),
			strconv.FormatInt(s.DKIMAuthPass, 10), strings.Join(env, " "), strings.Join(dk, " "), strings.Join(orgs, " "), s.SPFNow,
			strings.Join(s.Listed, " "), string(s.Verdict), s.Reason, s.Fix}
		for i := range rec {
			rec[i] = report.CSVCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Markdown writes the document for a ticket or a wiki page.
func Markdown(w io.Writer, doc *Document) error {
	fmt.Fprintf(w, "# DMARC and TLS reports\n\n%s\n", report.MarkdownEscape(summaryLine(doc)))
	for _, d := range doc.Domains {
		fmt.Fprintf(w, "\n## %s\n\n%s – %s, %s. %s messages, %s pass DMARC (%s). Readiness: %s.\n\n", report.MarkdownEscape(d.Domain), day(d.Begin), day(d.End),
			d.policyLine(), num(d.Messages), num(d.DMARCPass), pct(d.DMARCPass, d.Messages), report.MarkdownEscape(d.readiness()))
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(sourceHeaders, " | "), strings.Repeat(" --- |", len(sourceHeaders)))
		for _, r := range sourceRows(doc, d.Domain) {
			for i := range r {
				r[i] = report.MarkdownEscape(r[i])
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
	}
	if len(doc.TLS) > 0 {
		fmt.Fprintf(w, "\n## SMTP TLS\n\n| Domain | MX | Result | Failed sessions | Rate |\n| --- | --- | --- | --- | --- |\n")
		for _, p := range doc.TLS {
			fmt.Fprintf(w, "| %s | (all) | | %s of %s | %.1f%% |\n", report.MarkdownEscape(p.Domain), num(p.Failed), num(p.Failed+p.SessionsOK), p.FailureRate)
			for _, f := range p.Failures {
				fmt.Fprintf(w, "| | %s | %s | %s | %.1f%% |\n", report.MarkdownEscape(f.MX), report.MarkdownEscape(f.ResultType), num(f.Sessions), f.RatePercent)
			}
		}
	}
	if len(doc.Findings) > 0 {
		fmt.Fprintf(w, "\n## Findings\n\n")
		for _, f := range doc.Findings {
			fmt.Fprintf(w, "- **%s** %s", f.Severity, report.MarkdownEscape(f.Title))
			if len(f.BounceCodes) > 0 {
				fmt.Fprintf(w, " (bounces: %s)", strings.Join(f.BounceCodes, ", "))
			}
			if f.Fix != "" {
				fmt.Fprintf(w, "  \n  Fix: %s", report.MarkdownEscape(f.Fix))
			}
			fmt.Fprintln(w)
		}
	}
	if len(doc.Errors) > 0 {
		fmt.Fprintf(w, "\n## Unreadable inputs\n\n")
		for _, e := range doc.Errors {
			fmt.Fprintf(w, "- %s: %s\n", report.MarkdownEscape(e.File), report.MarkdownEscape(e.Error))
		}
	}
	return nil
}

// The page uses tables and inline styles only, so a mail client shows it
// as sent; html/template escapes every value.
// Parsed at first use, not at start-up: most runs never render HTML.
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("reports").Funcs(template.FuncMap{
		"clean": sanitize.Line, "num": num, "pct": pct, "day": day, "rows": sourceRows,
		"summary": summaryLine, "join": strings.Join,
	}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>deliverdoctor: DMARC and TLS reports</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#1f2328">
<h1 style="font-size:20px">DMARC and TLS reports</h1>
<p>{{clean (summary .Document)}}</p>
{{range .Domains}}
<h2 style="font-size:17px">{{clean .Domain}}</h2>
<p>{{day .Begin}} – {{day .End}}, {{.PolicyLineHTML}}. {{num .Messages}} messages, {{num .DMARCPass}} pass DMARC ({{pct .DMARCPass .Messages}}).<br>Readiness: {{clean .ReadinessHTML}}</p>
<table cellpadding="4" cellspacing="0" border="1" style="border-collapse:collapse;border-color:#d0d7de">
<tr>{{range $.Headers}}<th align="left" style="background:#f6f8fa">{{.}}</th>{{end}}</tr>
{{range rows $.Document .Domain}}<tr>{{range .}}<td>{{clean .}}</td>{{end}}</tr>
{{end}}</table>
{{end}}
{{if .TLS}}<h2 style="font-size:17px">SMTP TLS</h2>
<table cellpadding="4" cellspacing="0" border="1" style="border-collapse:collapse;border-color:#d0d7de">
<tr><th align="left">Domain</th><th align="left">MX</th><th align="left">Result</th><th align="left">Failed</th><th align="left">Rate</th></tr>
{{range .TLS}}<tr><td>{{clean .Domain}}</td><td>(all)</td><td></td><td>{{num .Failed}}</td><td>{{printf "%.1f%%" .FailureRate}}</td></tr>
{{range .Failures}}<tr><td></td><td>{{clean .MX}}</td><td>{{clean .ResultType}}</td><td>{{num .Sessions}}</td><td>{{printf "%.1f%%" .RatePercent}}</td></tr>
{{end}}{{end}}</table>{{end}}
{{if .Findings}}<h2 style="font-size:17px">Findings</h2><ul>
{{range .Findings}}<li><b>{{.Severity}}</b> {{clean .Title}}{{if .BounceCodes}} <i>(bounces: {{join .BounceCodes ", "}})</i>{{end}}{{if .Fix}}<br>Fix: {{clean .Fix}}{{end}}</li>
{{end}}</ul>{{end}}
{{if .Errors}}<h2 style="font-size:17px">Unreadable inputs</h2><ul>
{{range .Errors}}<li>{{clean .File}}: {{clean .Error}}</li>
{{end}}</ul>{{end}}
</body></html>
`))
})

// PolicyLineHTML and ReadinessHTML feed the HTML template.
func (d *Domain) PolicyLineHTML() string { return d.policyLine() }

// ReadinessHTML is the readiness sentence.
func (d *Domain) ReadinessHTML() string { return d.readiness() }

type htmlDoc struct {
	*Document
	Headers []string
}

// HTML writes a self-contained page, fit to be mailed.
func HTML(w io.Writer, doc *Document) error {
	return htmlTmpl().Execute(w, htmlDoc{Document: doc, Headers: sourceHeaders})
}
