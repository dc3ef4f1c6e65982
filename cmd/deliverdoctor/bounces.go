package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// bouncesMemLimit is the soft memory limit of a streamed bounces run.
const bouncesMemLimit = 64 << 20

// bouncesSchema names the JSON output of the bounces command.
const bouncesSchema = "deliverdoctor.bounces/v1"

// rateWarnPercent: more than 20% of the mail bounced means a problem on the
// sending side, not with the addresses (the InTouch seed).
const rateWarnPercent = 20.0

type bouncesFlags struct {
	sent        int
	suppressOut string
	warnRate    float64
}

func newBouncesCmd(app *App) *cobra.Command {
	var f bouncesFlags
	cmd := &cobra.Command{
		Use:   "bounces PATH...",
		Short: "Classify many bounces (mbox, Maildir, .eml files): what to suppress, retry or fix",
		Long: `Read bounces from mbox files, Maildir folders (cur/ and new/), directories of
message files, single .eml files or - (standard input) and classify every
failed recipient: its status code, hard or soft, one of the 16 bounce
categories, and what to do with the address:

  suppress   the address is undeliverable (a hard bounce): stop mailing it
  retry      temporary, or the receiver's problem: it can be mailed again
  fix-setup  the address is fine, your setup is not (authentication,
             blocklists, content): fix it, then resend

Totals by category, by action and by recipient domain follow. With --sent N
(how many messages the campaign sent) the bounce rate is computed; above 20%
the problem is most likely on the sending side, not in the list, and the
command warns (exit 1 with --fail-on warn).

--suppress-out FILE writes the hard bounces as a CSV suppression list
(address,status,category,reason,date) to import into your mailing tool.

Formats: text (default), json, jsonl (one object per failed recipient:
file, recipient, action, status, reply_code, hard, category, ses_type,
ses_subtype, smtp_command, remote_mta, diagnostic), csv (the same columns),
markdown.`,
		Example: `  deliverdoctor bounces ~/Mail/bounces.mbox
  deliverdoctor bounces ~/Maildir/.Bounces --sent 12000
  deliverdoctor bounces bounces/*.eml --suppress-out suppress.csv
  deliverdoctor bounces ~/Maildir/.Bounces --format jsonl | jq 'select(.hard)'
  deliverdoctor bounces internal/bounce/testdata/corpus/eml --format markdown
  cat bounce.eml | deliverdoctor bounces -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBounces(app, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.sent, "sent", 0, "`N` messages were sent: report the bounce rate (warn above --warn-rate)")
	fl.StringVar(&f.suppressOut, "suppress-out", "", "write the hard bounces as a CSV suppression list to `FILE`")
	fl.Float64Var(&f.warnRate, "warn-rate", rateWarnPercent, "bounce rate in `PERCENT` above which to warn (with --sent)")
	return cmd
}

// bounceRecord and bouncesSummary are the engine's (internal/bounce):
// this file only wires the command and writes the output.
type (
	bounceRecord   = bounce.Record
	bouncesSummary = bounce.Summary
)

// newBounceRecord is bounce.NewRecord (explain.go uses this name).
func newBounceRecord(file string, b *bounce.Bounce, f *bounce.Failure) bounceRecord {
	return bounce.NewRecord(file, b, f)
}

func runBounces(app *App, f *bouncesFlags, args []string) error {
	switch app.Format {
	case "text", "json", "jsonl", "csv", "markdown":
	default:
		return usageErrorf("bounces: --format %s is not supported (text, json, jsonl, csv or markdown)", app.Format)
	}
	if f.sent < 0 {
		return usageErrorf("--sent must be a positive number of messages")
	}
	for _, p := range args {
		if p == "-" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return usageErrorf("%s: %v", p, unwrapPathErr(err))
		}
	}
	// jsonl streams: one line per record as soon as it is known, through
	// a buffer flushed every few records and at the end (a write per
	// record was a system call per record).
	stream := app.Format == "jsonl"
	var out *bufio.Writer
	pending := 0
	if stream {
		out = bufio.NewWriterSize(app.IO.Out, 32<<10)
		// Streaming keeps no record, so the live heap is the messages in
		// flight (bounded in bytes by ParseAll) and the parser's
		// short-lived garbage: collect half as often, under a soft memory
		// limit that keeps the process within 100 MB (issue 18). 400 was
		// tried with the heap on huge pages: 4-6% faster on 1,380 small
		// files, 20% slower on a 1 GB mbox of large bounces, where the heap
		// meets the limit and the collector returns memory it then
		// touches again.
		defer debug.SetGCPercent(debug.SetGCPercent(200))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(bouncesMemLimit))
	}
	s := bounce.NewSummary(bouncesSchema, !stream)
	err := bounce.ParseAll(args, app.IO.In, bounce.DefaultMaxSize, 0, func(it bounce.Item) error {
		recs := s.Add(it)
		if it.Err != nil {
			fmt.Fprintf(app.IO.Err, "deliverdoctor: bounces: %s: could not be read: %s\n", sanitize.Line(it.Name), sanitize.Line(it.Err.Error()))
		}
		if stream {
			for _, rec := range recs {
				if err := report.WriteJSONLine(out, rec); err != nil {
					return err
				}
			}
			if pending += len(recs); pending >= 256 {
				pending = 0
				return out.Flush()
			}
		}
		return nil
	})
	if stream {
		if ferr := out.Flush(); err == nil && ferr != nil {
			return ferr
		}
	}
	if err != nil {
		return usageErrorf("%v", unwrapPathErr(err))
	}
	status := findings.StatusPass
	if s.Finish(f.sent, f.warnRate) {
		status = findings.StatusWarn
	}
	if f.suppressOut != "" {
		n, err := writeSuppression(f.suppressOut, s.Suppression())
		if err != nil {
			return err
		}
		if app.Format == "text" {
			defer fmt.Fprintf(app.IO.Out, "\nwrote %d hard-bounced addresses to %s\n", n, sanitize.Line(f.suppressOut))
		}
	}
	switch app.Format {
	case "jsonl":
		// Already written, record by record.
	case "json":
		if err := report.WriteJSON(app.IO.Out, s); err != nil {
			return err
		}
	case "csv":
		if err := writeBounceCSV(app.IO.Out, s.Records); err != nil {
			return err
		}
	case "markdown":
		writeBouncesMarkdown(app.IO.Out, s)
	default:
		if err := writeBouncesText(app.IO.Out, s, app.Color()); err != nil {
			return err
		}
	}
	if s.Messages == 0 {
		return usageErrorf("no messages found in %s", strings.Join(args, " "))
	}
	if s.Unreadable > 0 {
		// Input that could not be read is an input error, whatever else
		// was found: a cron job must notice lost bounces.
		fmt.Fprintf(app.IO.Err, "deliverdoctor: bounces: %d of %d messages could not be read\n", s.Unreadable, s.Messages)
		return &exitError{2}
	}
	return app.StatusExit(status)
}

// writeSuppression writes the suppression list (one line per address,
// the latest report) as address,status,category,reason,date.
func writeSuppression(path string, recs []bounceRecord) (int, error) {
	fh, err := os.Create(path)
	if err != nil {
		return 0, usageErrorf("--suppress-out: %v", unwrapPathErr(err))
	}
	w := csv.NewWriter(fh)
	w.Write([]string{"address", "status", "category", "reason", "date"})
	for _, r := range recs {
		reason := r.Diagnostic
		if reason == "" {
			reason = r.Meaning
		}
		w.Write([]string{report.CSVCell(r.Recipient), report.CSVCell(r.Status), r.Category,
			report.CSVCell(clipInput(reason)), report.CSVCell(r.Date)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		fh.Close()
		return 0, err
	}
	return len(recs), fh.Close()
}

var bounceCSVHeader = []string{"file", "recipient", "action", "status", "reply_code", "hard", "category", "ses_type",
	"ses_subtype", "smtp_command", "remote_mta", "diagnostic", "dsn_action", "permanent", "smtp_reject", "provider", "date"}

func writeBounceCSV(w io.Writer, recs []bounceRecord) error {
	cw := csv.NewWriter(w)
	cw.Write(bounceCSVHeader)
	for _, r := range recs {
		reply := ""
		if r.ReplyCode != nil {
			reply = fmt.Sprint(*r.ReplyCode)
		}
		row := []string{r.File, r.Recipient, r.Action, r.Status, reply, fmt.Sprint(r.Hard), r.Category, r.SESType,
			r.SESSubtype, r.SMTPCommand, r.RemoteMTA, r.Diagnostic, r.DSNAction, fmt.Sprint(r.Permanent), fmt.Sprint(r.SMTPReject), r.Provider, r.Date}
		for i := range row {
			row[i] = report.CSVCell(row[i])
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// bounceTable writes the records as a table (cells are sanitized by
// report.Table).
func bounceTable(w io.Writer, recs []bounceRecord, withFile bool) error {
	head := []string{"RECIPIENT", "STATUS", "HARD", "CATEGORY", "ACTION", "REASON"}
	if withFile {
		head = append([]string{"FILE"}, head...)
	}
	var rows [][]string
	for _, r := range recs {
		code := r.Status
		if code == "" && r.ReplyCode != nil {
			code = fmt.Sprint(*r.ReplyCode)
		}
		hard := "soft"
		if r.Hard {
			hard = "hard"
		}
		if r.DSNAction == "delayed" {
			hard = "delayed"
		}
		row := []string{r.Recipient, code, hard, r.Category, r.Action, clipText(r.Diagnostic, 70)}
		if withFile {
			row = append([]string{shortName(r.File)}, row...)
		}
		rows = append(rows, row)
	}
	return report.Table(w, head, rows)
}

func clipText(s string, n int) string {
	s = sanitize.Line(s)
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// shortName keeps the last two path elements of a file name.
func shortName(p string) string {
	parts := strings.Split(p, string(os.PathSeparator))
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, string(os.PathSeparator))
}

type countRow struct {
	key string
	n   int
}

func sortedCounts(m map[string]int, limit int) []countRow {
	var rows []countRow
	for k, n := range m {
		rows = append(rows, countRow{k, n})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].n != rows[j].n {
			return rows[i].n > rows[j].n
		}
		return rows[i].key < rows[j].key
	})
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	return rows
}

func writeBouncesText(w io.Writer, s *bouncesSummary, color bool) error {
	if len(s.Records) > 0 {
		if err := bounceTable(w, s.Records, true); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d messages: %d bounces, %d not bounces, %d without bounce data, %d unreadable, %d read in part\n",
		s.Messages, s.Bounces, s.NotBounces, s.NoData, s.Unreadable, s.Incomplete)
	fmt.Fprintf(w, "%d failed recipients (%d distinct): %d hard, %d soft, %d delayed\n", s.Failures, s.Recipients, s.Hard, s.Soft, s.Delayed)
	if s.BounceRate != nil {
		st := findings.StatusPass
		if s.RateWarning != "" {
			st = findings.StatusWarn
		}
		fmt.Fprintf(w, "bounce rate: %s of %d sent\n", report.Paint(color, st, fmt.Sprintf("%.1f%%", *s.BounceRate)), s.Sent)
		if s.RateWarning != "" {
			fmt.Fprintf(w, "%s %s\n", report.Paint(color, findings.StatusWarn, "warning:"), s.RateWarning)
		}
	}
	for _, t := range []struct {
		title string
		m     map[string]int
	}{{"BY ACTION", s.ByAction}, {"BY CATEGORY", s.ByCategory}, {"BY RECIPIENT DOMAIN", s.ByDomain}} {
		if len(t.m) == 0 {
			continue
		}
		fmt.Fprintln(w)
		var rows [][]string
		for _, r := range sortedCounts(t.m, 20) {
			rows = append(rows, []string{r.key, fmt.Sprint(r.n)})
		}
		if err := report.Table(w, []string{t.title, "COUNT"}, rows); err != nil {
			return err
		}
	}
	if len(s.ByCategory) > 0 {
		fmt.Fprintln(w, "\nWhat to do:")
		for _, r := range sortedCounts(s.ByCategory, 0) {
			if c, ok := bounce.CategoryBySlug(r.key); ok {
				fmt.Fprintf(w, "  %s (%d): %s\n", r.key, r.n, c.Action)
			}
		}
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "note: %s\n", sanitize.Line(p))
	}
	if s.MoreProblems > 0 {
		fmt.Fprintf(w, "note: %d more problems not listed\n", s.MoreProblems)
	}
	return nil
}

func writeBounceMarkdownTable(w io.Writer, recs []bounceRecord) {
	md := report.MarkdownEscape
	fmt.Fprintln(w, "| Recipient | Status | Hard | Category | Action | Reason |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range recs {
		code := r.Status
		if code == "" && r.ReplyCode != nil {
			code = fmt.Sprint(*r.ReplyCode)
		}
		fmt.Fprintf(w, "| %s | %s | %v | %s | %s | %s |\n", md(r.Recipient), md(code), r.Hard, md(r.Category), md(r.Action), md(clipText(r.Diagnostic, 120)))
	}
}

func writeBouncesMarkdown(w io.Writer, s *bouncesSummary) {
	md := report.MarkdownEscape
	fmt.Fprintf(w, "## Bounces\n\n%d messages: %d bounces, %d not bounces, %d without bounce data, %d unreadable. ",
		s.Messages, s.Bounces, s.NotBounces, s.NoData, s.Unreadable)
	fmt.Fprintf(w, "%d failed recipients (%d distinct): %d hard, %d soft, %d delayed.\n\n", s.Failures, s.Recipients, s.Hard, s.Soft, s.Delayed)
	if s.BounceRate != nil {
		fmt.Fprintf(w, "**Bounce rate:** %.1f%% of %d sent.\n\n", *s.BounceRate, s.Sent)
		if s.RateWarning != "" {
			fmt.Fprintf(w, "> ⚠️ %s\n\n", md(s.RateWarning))
		}
	}
	if len(s.Records) > 0 {
		writeBounceMarkdownTable(w, s.Records)
	}
	fmt.Fprintln(w, "\n| Category | Count | What to do |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, r := range sortedCounts(s.ByCategory, 0) {
		c, _ := bounce.CategoryBySlug(r.key)
		fmt.Fprintf(w, "| %s | %d | %s |\n", md(r.key), r.n, md(c.Action))
	}
	fmt.Fprintln(w, "\n| Recipient domain | Count |")
	fmt.Fprintln(w, "|---|---|")
	for _, r := range sortedCounts(s.ByDomain, 20) {
		fmt.Fprintf(w, "| %s | %d |\n", md(r.key), r.n)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "\n- %s", md(p))
	}
	if len(s.Problems) > 0 {
		fmt.Fprintln(w)
	}
}
