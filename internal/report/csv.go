package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// CSVHeader is the fixed part of the batch summary's header; one column per
// check follows, then the IDs of every finding that is not a pass (warn,
// fail, error): a row whose status is warn must say why.
var CSVHeader = []string{"target", "kind", "status", "fails", "warnings", "errors", "duration_ms"}

// CSVCell makes s safe for a spreadsheet: control characters escaped, and a
// leading = + - @ neutralised so the cell is not read as a formula (OWASP
// "CSV injection").
func CSVCell(s string) string {
	s = sanitize.Line(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CSVWriter streams report rows; the check columns are fixed by the first
// call to Header.
type CSVWriter struct {
	w      *csv.Writer
	checks []string
}

// NewCSVWriter starts a batch summary with one column per check.
func NewCSVWriter(w io.Writer, checks []string) (*CSVWriter, error) {
	cw := &CSVWriter{w: csv.NewWriter(w), checks: checks}
	head := append(append(append([]string{}, CSVHeader...), checks...), "findings")
	if err := cw.w.Write(head); err != nil {
		return nil, err
	}
	cw.w.Flush()
	return cw, cw.w.Error()
}

// Write adds one report's row.
func (cw *CSVWriter) Write(r *Report) error {
	var fails, warns, errs int
	var ids []string
	for _, f := range r.Findings {
		switch f.Severity {
		case SeverityFail:
			fails++
			ids = append(ids, f.ID)
		case SeverityError:
			errs++
			ids = append(ids, f.ID)
		case SeverityWarn:
			warns++
			ids = append(ids, f.ID)
		}
	}
	row := []string{CSVCell(r.Target), r.Kind, string(r.Status), fmt.Sprint(fails), fmt.Sprint(warns), fmt.Sprint(errs), fmt.Sprint(r.DurationMS)}
	for _, name := range cw.checks {
		st := ""
		for _, c := range r.Checks {
			if c.Name == name {
				st = string(c.Status)
			}
		}
		row = append(row, st)
	}
	row = append(row, strings.Join(ids, " "))
	if err := cw.w.Write(row); err != nil {
		return err
	}
	cw.w.Flush()
	return cw.w.Error()
}

// CheckNames lists the check names that occur in reports, in order of first
// appearance (reports are already in check order).
func CheckNames(reports []*Report) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range reports {
		for _, c := range r.Checks {
			if !seen[c.Name] {
				seen[c.Name] = true
				names = append(names, c.Name)
			}
		}
	}
	return names
}

func renderCSV(w io.Writer, reports []*Report, _ Options) error {
	cw, err := NewCSVWriter(w, CheckNames(reports))
	if err != nil {
		return err
	}
	for _, r := range reports {
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	return nil
}
