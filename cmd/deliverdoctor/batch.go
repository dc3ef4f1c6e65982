package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"

	"github.com/deliverdoctor/deliverdoctor/internal/batch"
	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// BatchSchema names the --format json document of a batch.
const BatchSchema = "deliverdoctor.batch/v1"

// batchRun wires the check command's flags to internal/batch: where reports
// go (stdout in --format, or --output as jsonl), the progress bar, and the
// closing summary.
type batchRun struct {
	app    *App
	multi  bool // several targets: --input or more than one argument
	silent bool // --only-on-change: nothing per target
	out    *batch.Output
	total  int // for the progress bar; -1 unknown

	bar  *progressbar.ProgressBar
	csvw *report.CSVWriter
	buf  bytes.Buffer
	n    int              // reports written (json separators)
	kept []*report.Report // markdown and html render the whole list at the end
	// observe sees every report (state, mail digest) before it is dropped.
	observe func(*report.Report)
	// stats gives the resolver's per-server counters for the summary.
	stats func() dnsx.Stats
}

// start writes what comes before the first report.
func (b *batchRun) start() error {
	if b.app.IO.ErrTTY && b.multi && !b.silent {
		b.bar = progressbar.NewOptions(b.total,
			progressbar.OptionSetWriter(b.app.IO.Err),
			progressbar.OptionSetDescription("checking"),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(0),
		)
		_ = b.bar.RenderBlank()
	}
	if b.silent || b.out != nil || !b.multi {
		return nil
	}
	switch b.app.Format {
	case "csv":
		var err error
		b.csvw, err = report.NewCSVWriter(b.app.IO.Out, check.Names())
		return err
	case "json":
		_, err := fmt.Fprintf(b.app.IO.Out, "{\n  \"schema\": %q,\n  \"reports\": [", BatchSchema)
		return err
	}
	return nil
}

// emit writes one finished report (called one at a time).
func (b *batchRun) emit(r *report.Report) error {
	if b.observe != nil {
		b.observe(r)
	}
	if b.bar != nil {
		// Cleared while the report is written, drawn again after it: a
		// person sees the bar between reports.
		_ = b.bar.Clear()
		defer func() { _ = b.bar.Add(1) }()
	}
	if b.silent {
		return nil
	}
	if b.out != nil {
		return b.out.Write(r)
	}
	w := b.app.IO.Out
	if !b.multi {
		return report.Render(w, b.app.Format, []*report.Report{r}, b.app.RenderOptions())
	}
	b.buf.Reset()
	var err error
	switch b.app.Format {
	case "csv":
		return b.csvw.Write(r)
	case "text":
		err = report.TextReport(&b.buf, r, b.app.RenderOptions())
		b.buf.WriteByte('\n')
	case "jsonl":
		err = report.WriteJSONLine(&b.buf, r)
	case "json":
		if b.n > 0 {
			b.buf.WriteByte(',')
		}
		b.buf.WriteString("\n    ")
		enc := json.NewEncoder(&b.buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("    ", "  ")
		err = enc.Encode(r)
		b.buf.Truncate(b.buf.Len() - 1) // the encoder's newline
	default:
		b.kept = append(b.kept, r)
		return nil
	}
	b.n++
	if err != nil {
		return err
	}
	_, err = w.Write(b.buf.Bytes())
	return err
}

// finish writes what follows the last report and the summary.
func (b *batchRun) finish(sum *batch.Summary) error {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
	if b.out != nil {
		if err := b.out.Close(); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	if b.silent || !b.multi {
		return nil
	}
	if b.stats != nil {
		sum.DNS = b.stats().Servers
	}
	w := b.app.IO.Out
	if b.out == nil {
		switch b.app.Format {
		case "json":
			sj, err := json.MarshalIndent(sum, "  ", "  ")
			if err != nil {
				return err
			}
			nl := "\n  "
			if b.n == 0 {
				nl = ""
			}
			if _, err := fmt.Fprintf(w, "%s],\n  \"summary\": %s\n}\n", nl, sj); err != nil {
				return err
			}
		case "text", "jsonl", "csv":
			// written as each report finished
		default:
			// markdown, html, prometheus, …: one document of every report.
			if err := report.Render(w, b.app.Format, b.kept, b.app.RenderOptions()); err != nil {
				return err
			}
		}
	}
	// The summary goes where it cannot corrupt machine-readable output.
	if b.app.Format != "text" {
		w = b.app.IO.Err
	}
	writeSummary(w, sum, b.app.Color())
	return nil
}

// writeSummary ends a batch: the failing and erroring targets first (a
// bounded list; the output has every report), then the counts.
func writeSummary(w io.Writer, sum *batch.Summary, color bool) {
	if list := sum.Listing(); len(list) > 0 {
		fmt.Fprintln(w, "failing targets (fail first, then error):")
		for _, e := range list {
			fmt.Fprintf(w, "  %-5s  %s  %s\n", report.Paint(color, e.Status, string(e.Status)), sanitize.Line(e.Target), joinChecks(e.Checks))
		}
		if sum.Unlisted > 0 {
			fmt.Fprintf(w, "  … and %d more (every report is in the output)\n", sum.Unlisted)
		}
	}
	fmt.Fprintln(w, "summary: "+sum.Line())
	for _, s := range sum.DNS {
		fmt.Fprintf(w, "dns %s: %d sent, %d retried, %d timed out, %d SERVFAIL, %d refused, %d errors\n",
			sanitize.Line(s.Server), s.Sent, s.Retried, s.TimedOut, s.ServFail, s.Refused, s.Errors)
	}
}

func joinChecks(cs []string) string {
	var b bytes.Buffer
	for i, c := range cs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c)
	}
	return b.String()
}

// runTargets runs the engine over src and writes as b says.
func runTargets(ctx context.Context, app *App, runner *check.Runner, src *batch.Source, jobs int, b *batchRun, sum *batch.Summary) (*batch.Summary, error) {
	if err := b.start(); err != nil {
		return nil, err
	}
	eng := &batch.Engine{
		Jobs:   jobs,
		Check:  runner.Run,
		Emit:   b.emit,
		FailOn: app.FailOnStatus(),
	}
	sum, err := eng.Run(ctx, src, sum)
	if ferr := b.finish(sum); err == nil {
		err = ferr
	}
	var ie *batch.InputError
	if errors.As(err, &ie) {
		return sum, &usageError{err}
	}
	return sum, err
}
