package main

import "github.com/deliverdoctor/deliverdoctor/internal/report"

// writeJSONDocument writes v, a command's own JSON document (one that is
// not a report, e.g. the relay or spf eval contracts in DESIGN.md), as
// --format asks: indented for json, on one line for jsonl.
func (a *App) writeJSONDocument(v any) error {
	if a.Format == "jsonl" {
		return report.WriteJSONLine(a.IO.Out, v)
	}
	return report.WriteJSON(a.IO.Out, v)
}
