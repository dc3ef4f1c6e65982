package main

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// maxInputLine bounds one line of --input (a target is at most 254 octets;
// the rest is comment).
const maxInputLine = 64 << 10

// inputLine is one target read from --input, with where it came from.
type inputLine struct {
	text string
	line int
}

// readTargets reads one target a line; blank lines and everything after a #
// are ignored.
func readTargets(r io.Reader) ([]inputLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxInputLine)
	var out []inputLine
	n := 0
	for sc.Scan() {
		n++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		out = append(out, inputLine{text: s, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--input line %d: %w", n+1, err)
	}
	return out, nil
}

// shard is --shard I/N: this process checks the targets whose name hashes
// to I modulo N. Hashing the name (not the line number) keeps a target on
// the same shard however the list is sorted or grows.
type shard struct{ i, n int }

func parseShard(s string) (shard, error) {
	if s == "" {
		return shard{0, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return shard{}, usageErrorf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4 (Kubernetes: --shard $JOB_COMPLETION_INDEX/N)", s)
	}
	return shard{i, n}, nil
}

func (s shard) keep(name string) bool {
	if s.n == 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%uint32(s.n)) == s.i
}

// collectTargets parses args and --input, drops duplicates, applies the
// shard. Bad lines of --input are reported and skipped (the exit code says
// so); a bad argument is a usage error.
func collectTargets(app *App, args []string, input string, sh shard) ([]target.Target, int, error) {
	lines := make([]inputLine, 0, len(args))
	for _, a := range args {
		lines = append(lines, inputLine{text: a}) // line 0: an argument
	}
	if input != "" {
		var r io.Reader = app.IO.In
		if input != "-" {
			f, err := os.Open(input)
			if err != nil {
				return nil, 0, usageErrorf("--input: %v", err)
			}
			defer f.Close()
			r = f
		}
		more, err := readTargets(r)
		if err != nil {
			return nil, 0, &usageError{err}
		}
		lines = append(lines, more...)
	}
	seen := map[string]bool{}
	var targets []target.Target
	bad := 0
	for _, l := range lines {
		t, err := target.Parse(l.text)
		if err != nil && l.line == 0 {
			return nil, 0, &usageError{err}
		}
		if err != nil {
			bad++
			fmt.Fprintf(app.IO.Err, "deliverdoctor: --input line %d: %s (skipped)\n", l.line, oneLine(err.Error()))
			continue
		}
		key := string(t.Kind) + " " + t.Name
		if seen[key] || !sh.keep(t.Name) {
			continue
		}
		seen[key] = true
		targets = append(targets, t)
	}
	return targets, bad, nil
}

// streams reports whether a format can be written one report at a time as
// reports finish.
func streams(format string) bool {
	return format == "jsonl" || format == "csv" || format == "text"
}

// runBatch checks targets with jobs workers, streaming reports in streaming
// formats as they finish, and returns them in input order. silent runs
// without any output but the progress bar (--only-on-change decides later).
//
// keepFindings says whether the returned reports must keep their findings
// (for --state and --mail-to); reports written already keep only what the
// exit code needs otherwise.
func runBatch(ctx context.Context, app *App, runner *check.Runner, targets []target.Target, jobs int, silent, keepFindings bool) ([]*report.Report, error) {
	reports := make([]*report.Report, len(targets))
	var bar *progressbar.ProgressBar
	if app.IO.ErrTTY && len(targets) > 1 {
		bar = progressbar.NewOptions(len(targets),
			progressbar.OptionSetWriter(app.IO.Err),
			progressbar.OptionSetDescription("checking"),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100_000_000),
		)
	}
	stream := !silent && streams(app.Format) && len(targets) > 1
	var csvw *report.CSVWriter
	if stream && app.Format == "csv" {
		var err error
		if csvw, err = report.NewCSVWriter(app.IO.Out, check.Names()); err != nil {
			return nil, err
		}
	}
	var outMu sync.Mutex
	var firstErr error
	emit := func(r *report.Report) {
		outMu.Lock()
		defer outMu.Unlock()
		if bar != nil {
			_ = bar.Add(1)
		}
		if !stream || firstErr != nil {
			return
		}
		var err error
		switch app.Format {
		case "csv":
			err = csvw.Write(r)
		case "text":
			if bar != nil {
				_ = bar.Clear()
			}
			err = report.TextReport(app.IO.Out, r, app.RenderOptions())
			fmt.Fprintln(app.IO.Out)
		default:
			err = report.Render(app.IO.Out, app.Format, []*report.Report{r}, app.RenderOptions())
		}
		if err != nil {
			firstErr = err
		}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(jobs, len(targets)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := runner.Run(ctx, targets[i])
				emit(r)
				if stream {
					// Written already: keep only what the exit code, --state
					// and --mail-to need, so memory does not grow with the
					// batch.
					r = slim(r, keepFindings)
				}
				reports[i] = r
			}
		}()
	}
	for i := range targets {
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted")
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if silent {
		return reports, nil
	}
	if !stream || len(targets) == 1 {
		if err := report.Render(app.IO.Out, app.Format, reports, app.RenderOptions()); err != nil {
			return nil, err
		}
	}
	if len(targets) > 1 {
		// The summary goes where it cannot corrupt machine-readable output.
		w := app.IO.Err
		if app.Format == "text" {
			w = app.IO.Out
		}
		fmt.Fprintln(w, "summary: "+report.Summarize(reports).String())
	}
	return reports, nil
}

// slim returns r without the checks' data (records, keys, trees), which is
// most of a report's size, and without findings unless keepFindings.
func slim(r *report.Report, keepFindings bool) *report.Report {
	s := *r
	s.Checks = make([]findings.CheckResult, len(r.Checks))
	for i, c := range r.Checks {
		c.Data, c.Findings = nil, nil // the report's own list holds the findings
		s.Checks[i] = c
	}
	if !keepFindings {
		// The exit code needs only the checks that did not pass.
		s.Findings, s.Notes, s.Input, s.DNS = nil, nil, "", nil
		var keep []findings.CheckResult
		for _, c := range s.Checks {
			if c.Status != findings.StatusPass && c.Status != findings.StatusSkip {
				keep = append(keep, findings.CheckResult{Name: c.Name, Status: c.Status})
			}
		}
		s.Checks = keep
	}
	return &s
}
