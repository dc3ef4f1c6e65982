package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// Options tune rendering.
type Options struct {
	Color   bool // ANSI colour (text only)
	Verbose bool // text: show info findings and check data
	Command string
	// Width wraps the text format's prose (a finding's detail and fix) at
	// word boundaries to this many columns; 0 does not wrap (not a
	// terminal: a pipe or file keeps one line per field).
	Width int
}

// Renderer writes reports in one format.
type Renderer func(w io.Writer, reports []*Report, opts Options) error

var (
	renderersMu sync.RWMutex
	// renderers is every format this package renders, listed here;
	// Register adds one from outside (promexp's prometheus).
	renderers = map[string]Renderer{
		"json": renderJSON, "jsonl": renderJSONL, "text": renderText,
		"markdown": renderMarkdown, "html": renderHTML, "csv": renderCSV,
	}
)

// Register adds a format rendered outside this package.
func Register(format string, r Renderer) {
	renderersMu.Lock()
	defer renderersMu.Unlock()
	renderers[format] = r
}

// Formats lists the registered formats, sorted.
func Formats() []string {
	renderersMu.RLock()
	defer renderersMu.RUnlock()
	var fs []string
	for f := range renderers {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

// Render writes reports in format.
func Render(w io.Writer, format string, reports []*Report, opts Options) error {
	renderersMu.RLock()
	r, ok := renderers[format]
	renderersMu.RUnlock()
	if !ok {
		return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
	}
	return r(w, reports, opts)
}

// WriteJSON writes v as indented JSON followed by a newline. Control
// characters in strings are escaped by encoding/json, so JSON output is
// inert in a terminal without further sanitising.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteJSONLine writes v as one line of JSON.
func WriteJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func renderJSON(w io.Writer, reports []*Report, _ Options) error {
	if len(reports) == 1 {
		return WriteJSON(w, reports[0])
	}
	if reports == nil {
		reports = []*Report{}
	}
	return WriteJSON(w, reports)
}

func renderJSONL(w io.Writer, reports []*Report, _ Options) error {
	for _, r := range reports {
		if err := WriteJSONLine(w, r); err != nil {
			return err
		}
	}
	return nil
}

// Paint colours s for a status when colour is on.
func Paint(on bool, st Status, s string) string {
	if !on {
		return s
	}
	code := ""
	switch st {
	case StatusPass:
		code = "32"
	case StatusWarn:
		code = "33"
	case StatusFail:
		code = "31;1"
	case StatusError:
		code = "35"
	case StatusSkip:
		code = "2"
	}
	if code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Table writes rows under headers as an aligned, borderless table. Every
// cell is sanitized: tables often show strings that came off the network.
func Table(w io.Writer, headers []string, rows [][]string) error {
	return PaintedTable(w, headers, rows, nil)
}

// PaintedTable is Table with colour: paint(row, col) names the status
// whose colour a body cell gets (ok false: none). Colour is applied to the
// cell after the widths are computed, never by searching the laid-out
// text, so a summary that happens to contain " FAIL " stays as it is.
func PaintedTable(w io.Writer, headers []string, rows [][]string, paint func(row, col int) (Status, bool)) error {
	all := make([][]string, 0, len(rows)+1)
	all = append(all, headers)
	all = append(all, rows...)
	var widths []int
	for r, row := range all {
		clean := make([]string, len(row))
		for i, c := range row {
			clean[i] = sanitize.Line(c)
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(clean[i]))
		}
		all[r] = clean
	}
	var b strings.Builder
	for r, row := range all {
		b.Reset()
		for i := range widths {
			cell := ""
			if i < len(row) {
				cell = row[i]
			}
			pad := strings.Repeat(" ", widths[i]-displayWidth(cell))
			if r > 0 && paint != nil && cell != "" {
				if st, ok := paint(r-1, i); ok {
					cell = Paint(true, st, cell)
				}
			}
			b.WriteString(" ")
			b.WriteString(cell)
			b.WriteString(pad)
			b.WriteString(" ")
		}
		// Padding after the last column is noise in terminals and diffs.
		if _, err := io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func renderText(w io.Writer, reports []*Report, opts Options) error {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := TextReport(w, r, opts); err != nil {
			return err
		}
	}
	if len(reports) > 1 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, Summarize(reports).String())
	}
	return nil
}

// TextReport writes one report for a person at a terminal: a headline, a
// table of checks, then findings grouped by severity with fix and bounce
// codes.
func TextReport(w io.Writer, r *Report, opts Options) error {
	c := opts.Color
	fmt.Fprintf(w, "%s (%s)  %s  · %s · %d ms\n", sanitize.Line(r.Target), r.Kind,
		Paint(c, r.Status, strings.ToUpper(string(r.Status))), plural(len(r.Checks), "check"), r.DurationMS)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", sanitize.Line(n))
	}
	fmt.Fprintln(w)
	rows := make([][]string, 0, len(r.Checks))
	for _, ch := range r.Checks {
		rows = append(rows, []string{ch.Name, strings.ToUpper(string(ch.Status)), ch.Summary})
	}
	var paint func(row, col int) (Status, bool)
	if c {
		paint = func(row, col int) (Status, bool) { return r.Checks[row].Status, col == 1 }
	}
	if err := PaintedTable(w, []string{"CHECK", "STATUS", "SUMMARY"}, rows, paint); err != nil {
		return err
	}
	writeFindingsText(w, r.Findings, c, opts.Verbose, opts.Width)
	return nil
}

// WriteFindingsText writes findings grouped by severity, worst first, each
// group under a heading ("Failures", "Warnings", ...); info findings only
// when verbose. Commands with their own layout above use it for the rest.
func WriteFindingsText(w io.Writer, findings []Finding, color, verbose bool) {
	writeFindingsText(w, findings, color, verbose, 0)
}

func writeFindingsText(w io.Writer, findings []Finding, color, verbose bool, width int) {
	for _, g := range groupFindings(findings, verbose) {
		fmt.Fprintf(w, "\n%s\n", Paint(color, g.Sev.Status(), g.Title))
		for _, f := range g.Findings {
			writeFindingText(w, f, color, width)
		}
	}
}

// WriteFindingText writes one finding as an indented block.
func WriteFindingText(w io.Writer, f Finding, color bool) {
	writeFindingText(w, f, color, 0)
}

// WrapText breaks s into lines of at most width columns at spaces, the
// first line after prefix and the others after indent (a word longer than
// a line stays whole: words are never cut). width <= 0 does not wrap.
func WrapText(s, prefix, indent string, width int) string {
	if width <= 0 {
		return prefix + s
	}
	var b strings.Builder
	b.WriteString(prefix)
	col := utf8.RuneCountInString(prefix)
	start := col
	for _, word := range strings.Fields(s) {
		n := utf8.RuneCountInString(word)
		if col > start && col+1+n > width {
			b.WriteString("\n" + indent)
			col = utf8.RuneCountInString(indent)
			start = col
		} else if col > start {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}

func writeFindingText(w io.Writer, f Finding, color bool, width int) {
	mark := map[Severity]string{SeverityFail: "✗", SeverityError: "?", SeverityWarn: "!", SeverityInfo: "·"}[f.Severity]
	fmt.Fprintf(w, "  %s %s  %s\n", Paint(color, f.Severity.Status(), mark), sanitize.Line(f.Title), dim(color, "["+f.ID+"]"))
	if f.Detail != "" {
		fmt.Fprintf(w, "%s\n", WrapText(sanitize.Line(f.Detail), "      ", "      ", width))
	}
	for _, e := range f.Evidence {
		fmt.Fprintf(w, "      evidence: %s\n", sanitize.Line(e))
	}
	if f.Fix != "" {
		fmt.Fprintf(w, "%s\n", WrapText(sanitize.Line(f.Fix), "      fix: ", "           ", width))
	}
	var tail []string
	if len(f.BounceCodes) > 0 {
		tail = append(tail, "bounces: "+strings.Join(f.BounceCodes, ", "))
	}
	if len(f.Refs) > 0 {
		tail = append(tail, "see: "+strings.Join(f.Refs, "; "))
	}
	if len(tail) > 0 {
		fmt.Fprintf(w, "      %s\n", sanitize.Line(strings.Join(tail, " · ")))
	}
}

func dim(on bool, s string) string {
	if !on {
		return s
	}
	return "\x1b[2m" + s + "\x1b[0m"
}

// Summary counts reports by status.
type Summary struct {
	Total    int            `json:"total"`
	ByStatus map[Status]int `json:"by_status"`
}

// Summarize counts reports by status.
func Summarize(reports []*Report) Summary {
	s := Summary{Total: len(reports), ByStatus: map[Status]int{}}
	for _, r := range reports {
		s.ByStatus[r.Status]++
	}
	return s
}

func (s Summary) String() string {
	parts := []string{fmt.Sprintf("%d targets", s.Total)}
	for _, st := range []Status{StatusFail, StatusError, StatusWarn, StatusPass, StatusSkip} {
		if n := s.ByStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return strings.Join(parts, ", ")
}

// plural writes "1 check", "2 checks".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
