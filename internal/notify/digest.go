package notify

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// Size budget of a report mail. Gmail clips a message body past about
// 102 KB, so the whole message stays well under 100 KB: the text and HTML
// digests get a share each, and the full reports ride along as a gzipped
// jsonl attachment only when they fit in what is left.
const (
	TextBudget       = 30 << 10
	HTMLBudget       = 40 << 10
	AttachmentBudget = 20 << 10
	// targetsPerLine bounds the targets named on one collapsed line.
	targetsPerLine = 10
	// maxGroups bounds the distinct findings a digest remembers.
	maxGroups = 2000
	// fullReportsMax: with this many reports or fewer the mail shows them
	// in full below the digest (when they fit the budget).
	fullReportsMax = 5
)

// group is one finding (severity, ID, title) shared by several targets.
type group struct {
	Severity findings.Severity
	ID       string
	Title    string
	Targets  []string // the first targetsPerLine
	N        int
}

// Digest gathers a run's reports for the mail as they finish, in bounded
// memory: counts by status, each distinct finding once with the targets it
// was found on, the first few reports in full, and the full reports as
// gzipped jsonl up to the attachment budget.
type Digest struct {
	Total    int
	ByStatus map[findings.Status]int
	// OutputPath, when set, is where every report is (--output).
	OutputPath string

	groups   map[string]*group
	dropped  int // findings not grouped: over maxGroups
	first    []*report.Report
	gzBuf    bytes.Buffer
	gz       *gzip.Writer
	gzFull   bool
	failing  []string
	nFailing int
}

// NewDigest returns an empty digest.
func NewDigest() *Digest {
	d := &Digest{ByStatus: map[findings.Status]int{}, groups: map[string]*group{}}
	d.gz = gzip.NewWriter(&d.gzBuf)
	return d
}

// Add takes one report.
func (d *Digest) Add(r *report.Report) {
	d.Total++
	d.ByStatus[r.Status]++
	if r.Status == findings.StatusFail || r.Status == findings.StatusError {
		d.nFailing++
		if len(d.failing) < targetsPerLine*5 {
			d.failing = append(d.failing, r.Target)
		}
	}
	if len(d.first) < fullReportsMax+1 {
		d.first = append(d.first, r)
	}
	for _, f := range r.Findings {
		if f.Severity == findings.SeverityInfo {
			continue
		}
		k := string(f.Severity) + "\x00" + f.ID + "\x00" + f.Title
		g := d.groups[k]
		if g == nil {
			if len(d.groups) >= maxGroups {
				d.dropped++
				continue
			}
			g = &group{Severity: f.Severity, ID: f.ID, Title: f.Title}
			d.groups[k] = g
		}
		g.N++
		if len(g.Targets) < targetsPerLine {
			g.Targets = append(g.Targets, r.Target)
		}
	}
	if !d.gzFull {
		_ = report.WriteJSONLine(d.gz, r)
		if d.gzBuf.Len() > AttachmentBudget {
			d.gzFull = true
			d.gzBuf = bytes.Buffer{}
		}
	}
}

// sorted returns the groups, worst severity first, then the most targets.
func (d *Digest) sorted() []*group {
	gs := make([]*group, 0, len(d.groups))
	for _, g := range d.groups {
		gs = append(gs, g)
	}
	rank := map[findings.Severity]int{findings.SeverityFail: 0, findings.SeverityError: 1, findings.SeverityWarn: 2}
	sort.Slice(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		if a.N != b.N {
			return a.N > b.N
		}
		return a.ID+a.Title < b.ID+b.Title
	})
	return gs
}

// Counts is the "N targets: x fail, y error, …" line.
func (d *Digest) Counts() string {
	parts := []string{}
	for _, st := range []findings.Status{findings.StatusFail, findings.StatusError, findings.StatusWarn, findings.StatusPass, findings.StatusSkip} {
		if n := d.ByStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return fmt.Sprintf("%d %s: %s", d.Total, plural1(d.Total, "target"), strings.Join(parts, ", "))
}

func plural1(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

// attachment returns the gzipped jsonl of every report, or nil when it
// would not fit the budget.
func (d *Digest) attachment() []byte {
	if d.gzFull || d.Total == 0 {
		return nil
	}
	_ = d.gz.Close()
	if d.gzBuf.Len() > AttachmentBudget {
		return nil
	}
	return d.gzBuf.Bytes()
}

func (g *group) targetList() string {
	s := make([]string, len(g.Targets))
	for i, t := range g.Targets {
		s[i] = sanitize.Line(t)
	}
	out := strings.Join(s, ", ")
	if more := g.N - len(g.Targets); more > 0 {
		out += fmt.Sprintf(" and %d more", more)
	}
	return out
}

// budgetWriter stops taking lines once its budget is spent and says so.
type budgetWriter struct {
	buf    bytes.Buffer
	budget int
	cut    int // lines not written
}

func (b *budgetWriter) line(s string) bool {
	if b.buf.Len()+len(s) > b.budget {
		b.cut++
		return false
	}
	b.buf.WriteString(s)
	return true
}

// writeText writes the text digest: counts, failing targets, changes (given
// as text), the findings collapsed, where the full reports are, and the
// first reports in full when there are few.
func (d *Digest) writeText(changes string, attached bool) []byte {
	b := &budgetWriter{budget: TextBudget}
	b.line("deliverdoctor report — " + d.Counts() + "\n")
	if d.nFailing > 0 {
		line := fmt.Sprintf("Failing or not checked (%d): %s", d.nFailing, strings.Join(sanitizeAll(d.failing), ", "))
		if more := d.nFailing - len(d.failing); more > 0 {
			line += fmt.Sprintf(" and %d more", more)
		}
		b.line(line + "\n")
	}
	b.line("\n")
	if changes != "" {
		b.line(changes)
	}
	headings := map[findings.Severity]string{findings.SeverityFail: "Failures", findings.SeverityError: "Could not be checked", findings.SeverityWarn: "Warnings"}
	last := findings.Severity("")
	for _, g := range d.sorted() {
		if g.Severity != last {
			b.line(fmt.Sprintf("\n%s:\n", headings[g.Severity]))
			last = g.Severity
		}
		b.line(fmt.Sprintf("  [%s] %s (%s) — %d %s: %s\n", g.Severity, sanitize.Line(g.Title), g.ID, g.N, plural1(g.N, "target"), g.targetList()))
	}
	if b.cut > 0 || d.dropped > 0 {
		b.budget += 1 << 10
		b.line(fmt.Sprintf("\n… %d more lines left out to keep this mail small.\n", b.cut+d.dropped))
	}
	b.budget += 1 << 10
	b.line("\n" + d.whereFull(attached) + "\n")
	if len(d.first) <= fullReportsMax && len(d.first) == d.Total {
		var full bytes.Buffer
		if err := report.Render(&full, "text", d.first, report.Options{}); err == nil && b.buf.Len()+full.Len()+20 < TextBudget {
			b.line("\n-----\n\n")
			b.buf.Write(full.Bytes())
		}
	}
	return b.buf.Bytes()
}

func (d *Digest) whereFull(attached bool) string {
	switch {
	case attached && d.OutputPath != "":
		return "Every report is attached (reports.jsonl.gz, one JSON report a line) and in " + sanitize.Line(d.OutputPath) + " on the machine that ran the check."
	case attached:
		return "Every report is attached (reports.jsonl.gz, one JSON report a line)."
	case d.OutputPath != "":
		return "Every report is in " + sanitize.Line(d.OutputPath) + " on the machine that ran the check (one JSON report a line)."
	case len(d.first) == d.Total && d.Total <= fullReportsMax:
		return "The full reports follow."
	default:
		return "The full reports are too large to attach: run with --output FILE to keep every report."
	}
}

func sanitizeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = sanitize.Line(s)
	}
	return out
}

var digestTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("digest").Funcs(template.FuncMap{"clean": sanitize.Line}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>deliverdoctor report</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1f2328">
<div style="max-width:760px;margin:0 auto">
<h2 style="margin:8px 0">{{.Counts}}</h2>
{{- if .Failing}}<p><b>Failing or not checked ({{.NFailing}}):</b> {{range $i, $t := .Failing}}{{if $i}}, {{end}}{{clean $t}}{{end}}{{if .MoreFailing}} and {{.MoreFailing}} more{{end}}</p>{{end}}
{{.Changes}}
{{- range .Sections}}
<h3 style="margin:12px 0 4px 0">{{.Heading}}</h3>
<ul style="margin:0;padding-left:20px">
{{- range .Groups}}<li><b style="color:{{.Color}}">{{.Severity}}</b> {{clean .Title}} <span style="font-family:monospace;color:#656d76">{{.ID}}</span> — {{.N}} target{{if ne .N 1}}s{{end}}: {{.List}}</li>
{{end}}</ul>
{{- end}}
{{- if .Cut}}<p>… {{.Cut}} more lines left out to keep this mail small.</p>{{end}}
<p style="color:#656d76">{{.Where}}</p>
{{.Full}}
</div></body></html>
`))
})

type htmlGroup struct {
	*group
	Color string
	List  string
}

type htmlSection struct {
	Heading string
	Groups  []htmlGroup
}

// writeHTML writes the HTML digest within its budget.
func (d *Digest) writeHTML(changes template.HTML, attached bool) ([]byte, error) {
	colors := map[findings.Severity]string{findings.SeverityFail: "#cf222e", findings.SeverityError: "#9a6700", findings.SeverityWarn: "#9a6700"}
	headings := map[findings.Severity]string{findings.SeverityFail: "Failures", findings.SeverityError: "Could not be checked", findings.SeverityWarn: "Warnings"}
	var secs []htmlSection
	size, cut := len(changes), d.dropped
	for _, g := range d.sorted() {
		hg := htmlGroup{group: g, Color: colors[g.Severity], List: g.targetList()}
		// A line costs about its text plus 200 bytes of markup.
		cost := len(g.Title) + len(hg.List) + len(g.ID) + 200
		if size+cost > HTMLBudget-4<<10 {
			cut++
			continue
		}
		size += cost
		if len(secs) == 0 || secs[len(secs)-1].Heading != headings[g.Severity] {
			secs = append(secs, htmlSection{Heading: headings[g.Severity]})
		}
		secs[len(secs)-1].Groups = append(secs[len(secs)-1].Groups, hg)
	}
	var full template.HTML
	if len(d.first) <= fullReportsMax && len(d.first) == d.Total {
		var b bytes.Buffer
		if err := report.HTML(&b, d.first, report.Options{}); err == nil && size+b.Len() < HTMLBudget-4<<10 {
			full = template.HTML(`<hr>` + bodyOf(b.String())) // produced by the report package's escaping renderer
		}
	}
	var out bytes.Buffer
	err := digestTmpl().Execute(&out, map[string]any{
		"Counts": d.Counts(), "Failing": d.failing, "NFailing": d.nFailing, "MoreFailing": d.nFailing - len(d.failing),
		"Changes": changes, "Sections": secs, "Cut": cut, "Where": d.whereFull(attached), "Full": full,
	})
	return out.Bytes(), err
}

// bodyOf returns what is inside <body> of an HTML page (or the page).
func bodyOf(page string) string {
	lower := strings.ToLower(page)
	i := strings.Index(lower, "<body")
	if i < 0 {
		return page
	}
	j := strings.IndexByte(page[i:], '>')
	k := strings.LastIndex(lower, "</body>")
	if j < 0 || k < i+j {
		return page
	}
	return page[i+j+1 : k]
}
