package report

import (
	"embed"
	"html/template"
	"io"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

//go:embed templates/report.html.tmpl
var templatesFS embed.FS

// The template uses tables and inline styles only: Gmail and Outlook drop
// most <style> rules and all external CSS. html/template escapes every value;
// clean() also makes control characters visible before that. Parsed on
// first use: every run of the binary would pay it at start-up.
var htmlTmpl = sync.OnceValue(parseHTML)

func parseHTML() *template.Template {
	return template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
		"clean": sanitize.Line,
		"prose": prose,
		"upper": func(s Status) string { return strings.ToUpper(string(s)) },
		"color": func(s Status) string {
			switch s {
			case StatusPass:
				return "#1a7f37"
			case StatusWarn:
				return "#9a6700"
			case StatusFail:
				return "#cf222e"
			case StatusError:
				return "#8250df"
			default:
				return "#6e7781"
			}
		},
		"sevstatus": func(s Severity) Status { return s.Status() },
		"groups":    findingGroups,
		"join":      strings.Join,
		"summary":   func(rs []*Report) string { return Summarize(rs).String() },
	}).ParseFS(templatesFS, "templates/report.html.tmpl"))
}

// prose renders our own prose (a finding's title, detail, fix): escaped,
// control characters visible, and `code` spans - Markdown backticks in the
// texts - as <code> instead of literal backticks.
func prose(s string) template.HTML {
	esc := template.HTMLEscapeString(sanitize.Line(s))
	parts := strings.Split(esc, "`")
	if len(parts) < 3 {
		return template.HTML(esc)
	}
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i%2 == 0:
			b.WriteString(p)
		case i == len(parts)-1:
			// An unpaired backtick stays as it is.
			b.WriteString("`" + p)
		default:
			b.WriteString(`<code style="font-family:monospace;background:#f6f8fa;padding:0 2px">` + p + "</code>")
		}
	}
	return template.HTML(b.String())
}

type htmlData struct {
	Reports []*Report
	Verbose bool
	Title   string
}

func renderHTML(w io.Writer, reports []*Report, opts Options) error {
	return HTML(w, reports, opts)
}

// HTML writes a self-contained HTML document, suitable as the HTML part of a
// report mail.
func HTML(w io.Writer, reports []*Report, opts Options) error {
	title := "deliverdoctor report"
	if len(reports) == 1 {
		title = "deliverdoctor: " + reports[0].Target + " — " + strings.ToUpper(string(reports[0].Status))
	}
	return htmlTmpl().Execute(w, htmlData{Reports: reports, Verbose: opts.Verbose, Title: title})
}
