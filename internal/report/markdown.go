package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// MarkdownEscape makes a network-derived string safe inside Markdown text
// and table cells: control characters are escaped, and the characters that
// start Markdown or HTML constructs are backslash-escaped.
func MarkdownEscape(s string) string {
	s = sanitize.Line(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '!', '|', '<', '>', '~':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode puts s in an inline code span, choosing a fence longer than any
// backtick run inside it (CommonMark 6.1).
func mdCode(s string) string {
	s = sanitize.Line(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

func renderMarkdown(w io.Writer, reports []*Report, opts Options) error {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprint(w, "\n---\n\n")
		}
		MarkdownReport(w, r, opts)
	}
	if len(reports) > 1 {
		fmt.Fprintf(w, "\n**Summary:** %s\n", Summarize(reports).String())
	}
	return nil
}

// MarkdownReport writes one report as GitHub-flavoured Markdown.
func MarkdownReport(w io.Writer, r *Report, opts Options) {
	fmt.Fprintf(w, "## %s — %s\n\n", MarkdownEscape(r.Target), strings.ToUpper(string(r.Status)))
	fmt.Fprintf(w, "%s · %s · %d ms\n\n", r.Kind, plural(len(r.Checks), "check"), r.DurationMS)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "> %s\n\n", MarkdownEscape(n))
	}
	fmt.Fprintln(w, "| Check | Status | Summary |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, c := range r.Checks {
		fmt.Fprintf(w, "| %s | %s | %s |\n", MarkdownEscape(c.Name), statusIcon(c.Status)+" "+string(c.Status), MarkdownEscape(c.Summary))
	}
	for _, g := range findingGroups(r, opts.Verbose) {
		fmt.Fprintf(w, "\n### %s\n\n", g.Title)
		for _, f := range g.Findings {
			fmt.Fprintf(w, "- **%s** %s\n", MarkdownEscape(f.Title), mdCode(f.ID))
			if f.Detail != "" {
				fmt.Fprintf(w, "  %s\n", MarkdownEscape(f.Detail))
			}
			for _, e := range f.Evidence {
				fmt.Fprintf(w, "  - evidence: %s\n", mdCode(e))
			}
			if f.Fix != "" {
				fmt.Fprintf(w, "  - fix: %s\n", MarkdownEscape(f.Fix))
			}
			if len(f.BounceCodes) > 0 {
				fmt.Fprintf(w, "  - bounce codes: %s\n", MarkdownEscape(strings.Join(f.BounceCodes, ", ")))
			}
			if len(f.Refs) > 0 {
				fmt.Fprintf(w, "  - see: %s\n", MarkdownEscape(strings.Join(f.Refs, "; ")))
			}
		}
	}
}

func statusIcon(s Status) string {
	switch s {
	case StatusPass:
		return "✅"
	case StatusWarn:
		return "⚠️"
	case StatusFail:
		return "❌"
	case StatusError:
		return "❓"
	default:
		return "⏭️"
	}
}

type findingGroup = findings.Group

// findingGroups splits a report's findings by severity (findings.Grouped).
func findingGroups(r *Report, verbose bool) []findingGroup { return groupFindings(r.Findings, verbose) }

func groupFindings(fs []Finding, verbose bool) []findingGroup { return findings.Grouped(fs, verbose) }
