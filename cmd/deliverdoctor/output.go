package main

import (
	"io"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// writeJSONDocument writes v, a command's own JSON document (one that is
// not a report, e.g. the relay or spf eval contracts in DESIGN.md), as
// --format asks: indented for json, on one line for jsonl.
func (a *App) writeJSONDocument(v any) error {
	if a.Format == "jsonl" {
		return report.WriteJSONLine(a.IO.Out, v)
	}
	return report.WriteJSON(a.IO.Out, v)
}

// finishDocument ends a command whose json and jsonl output is its own
// document (doc, DESIGN.md's contract for the command) rather than a
// report: text calls text, and the other formats (markdown, html, csv)
// render rep, the same result as a report, with the shared renderers. The
// exit code follows status.
func (a *App) finishDocument(doc any, text func(io.Writer), rep *report.Report, status report.Status) error {
	switch a.Format {
	case "json", "jsonl":
		if err := a.writeJSONDocument(doc); err != nil {
			return err
		}
	case "text":
		text(a.IO.Out)
	default:
		rep.Finalize(check.Order)
		if err := report.Render(a.IO.Out, a.Format, []*report.Report{rep}, a.RenderOptions()); err != nil {
			return err
		}
	}
	return a.StatusExit(status)
}
