package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/reports"
)

type reportsFlags struct {
	noRBL   bool
	lists   string
	maxSize int64
	imap    imapFlags
	mail    mailFlags
}

func newReportsCmd(app *App) *cobra.Command {
	var f reportsFlags
	cmd := &cobra.Command{
		Use:   "reports PATH...",
		Short: "Read DMARC aggregate, failure and SMTP TLS reports: who sends as my domain, who fails, and why",
		Long: `Read the reports receivers mail to a domain — DMARC aggregate reports (rua:
RFC 7489 appendix C and the RFC 9990 schema), DMARC failure reports (ruf:
RFC 6591) and SMTP TLS reports (RFC 8460) — and join every sending source with
today's DNS.

PATH is a report file (.xml, .xml.gz, .zip, .json, .json.gz), an e-mail
message carrying reports (.eml, any number of attachments), an mbox, a
Maildir, a directory (read recursively) or - (standard input). Reports are
recognised by content, not by name, and de-duplicated by (reporting org,
report id). A file that cannot be read is listed with the reason under
"errors"; the run goes on.

Per policy domain and source IP: messages, DMARC pass, SPF/DKIM results and
alignment, dispositions, reporting orgs, envelope-from and DKIM d=/selectors;
then, unless --offline: does today's SPF record authorise the IP for its
envelope-from (check_host), is the DKIM d= aligned, the PTR name, blocklists.
Each source gets a verdict:

  aligned    aligned and passing (or passing with today's DNS)
  failing    your service, failing DMARC; the fix says what to change
  forwarded  SPF fails, DKIM passes: forwarders and mailing lists, expected
  unknown    unknown or spoofing: p=reject stops it

and each domain its readiness for the next policy step (none → quarantine →
reject): how much legitimate mail it would lose today and which sources to fix
first. TLS reports give the failure rate per receiving MX and result type.

Formats: text (tables), json (the deliverdoctor.reports/v1 contract), jsonl
(one line per report row, for a database), csv (one line per source),
markdown, html. Exit codes: 0 nothing at or above --fail-on, 1 findings at or
above it (a failing source is a fail), 2 usage error or no report could be
read, 3 a DNS lookup failed and nothing failed.

--mail-to, --state and --only-on-change work as with check: the mail is the
html and text rendering above (within the mail size budget; when larger, the
sources with the most mail and the full json report attached, gzipped), the
state keeps each policy domain's findings keyed by finding and source IP (a
new failing source is a change, a fixed one is resolved; counts changing are
not), and is saved only once the mail went out. With --only-on-change: exit 1
and print and mail when something changed, else stay silent with exit 0.`,
		Example: `  deliverdoctor reports ~/Maildir/.DMARC
  deliverdoctor reports reports/*.xml.gz reports/*.zip --format json
  deliverdoctor reports dmarc.mbox --offline --format csv > sources.csv
  deliverdoctor reports ~/Maildir/.DMARC --format jsonl | jq 'select(.dmarc_pass==false)'
  DELIVERDOCTOR_IMAP_PASSWORD=... deliverdoctor reports --imap imaps://dmarc@mail.example.com/INBOX
  deliverdoctor check example.com --selectors-from ~/Maildir/.DMARC
  # weekly digest by mail, only when a finding appeared or went away:
  deliverdoctor reports ~/Maildir/.DMARC --state ~/.dd-reports.json --only-on-change \
      --mail-to postmaster@example.com --smtp-server smtp.example.com:587 --smtp-user dd@example.com`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReports(cmd.Context(), app, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.noRBL, "no-rbl", false, "do not look the source IPs up on blocklists")
	fl.StringVar(&f.lists, "lists", "major", "which built-in blocklists: major or all")
	addIMAPFlags(fl, &f.imap)
	addMailFlags(fl, &f.mail)
	fl.Int64Var(&f.maxSize, "max-size", dmarcreport.DefaultLimits.MaxSize, "largest report in `BYTES`, also after decompression (zip bombs)")
	return withFormats(cmd, "text", "json", "jsonl", "csv", "markdown", "html")
}

func runReports(ctx context.Context, app *App, f *reportsFlags, args []string) error {
	if len(args) == 0 && f.imap.url == "" {
		return usageErrorf("give a report file, message, mbox, Maildir or directory, or --imap URL")
	}
	for _, p := range args {
		if p == "-" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return usageErrorf("%s: %v", p, unwrapPathErr(err))
		}
	}
	if f.maxSize <= 0 {
		return usageErrorf("--max-size must be positive")
	}
	if f.mail.onlyOnChange && app.Format == "jsonl" {
		return usageErrorf("--only-on-change cannot hold back streamed jsonl: use --format json")
	}
	n, err := newNotifier(app, &f.mail)
	if err != nil {
		return err
	}
	// The state file is validated before the first report is read.
	if err := n.open(); err != nil {
		return err
	}
	lim := dmarcreport.DefaultLimits
	lim.MaxSize = f.maxSize
	var r dnsx.Resolver
	if !app.Offline || len(app.Zones) > 0 {
		c, err := app.Resolver()
		if err != nil {
			return err
		}
		r = c
	}
	lists := f.lists
	if f.noRBL {
		lists = ""
	}
	opts, err := reportsJoin(app, r, lists)
	if err != nil {
		return &usageError{err}
	}
	sources := []dmarcreport.Source{}
	if len(args) > 0 {
		sources = append(sources, dmarcreport.PathSource(args, app.IO.In, f.maxSize))
	}
	if f.imap.url != "" {
		src, err := imapSource(ctx, app, &f.imap, f.maxSize)
		if err != nil {
			return err
		}
		sources = append(sources, src)
	}
	var each func(*dmarcreport.Report) error
	if app.Format == "jsonl" {
		each = func(r *dmarcreport.Report) error {
			for _, l := range reports.Rows(r) {
				if err := report.WriteJSONLine(app.IO.Out, l); err != nil {
					return err
				}
			}
			return nil
		}
	}
	doc, err := readReportDocument(ctx, chainSources(sources), lim, opts, each)
	if err != nil {
		return fmt.Errorf("reading reports: %w", err)
	}
	st := doc.Stats
	if st.Reports > 0 && n.st != nil {
		n.changes = n.st.Update(doc.StateReports(), n.now)
	}
	if n.quiet() && st.Reports > 0 {
		if len(n.changes) == 0 {
			return n.saveState()
		}
		if app.Format == "text" {
			n.printChanges()
		}
	}
	switch app.Format {
	case "json":
		err = report.WriteJSON(app.IO.Out, doc)
	case "jsonl":
		// The rows were streamed; errors go to stderr so the output stays
		// one kind of line.
		for _, e := range doc.Errors {
			fmt.Fprintf(app.IO.Err, "deliverdoctor: %s: %s\n", e.File, oneLine(e.Error))
		}
	case "csv":
		err = reports.CSV(app.IO.Out, doc)
	case "markdown":
		err = reports.Markdown(app.IO.Out, doc)
	case "html":
		err = reports.HTML(app.IO.Out, doc)
	default:
		err = reports.Text(app.IO.Out, doc, app.Color(), app.Verbose)
	}
	if err != nil {
		return err
	}
	if st.Reports == 0 {
		if st.Errors > 0 {
			return &exitError{2}
		}
		fmt.Fprintln(app.IO.Err, "deliverdoctor: no reports found")
		return &exitError{2}
	}
	// Mail first, then the state: a change that could not be mailed is
	// found again by the next run.
	if n.mail != nil {
		body, err := reports.MailBody(doc)
		if err != nil {
			return err
		}
		if err := n.sendBody(ctx, reports.MailSubject(doc, n.changes), body); err != nil {
			return err
		}
	}
	if err := n.saveState(); err != nil {
		return err
	}
	if n.quiet() {
		return &exitError{1}
	}
	return app.StatusExit(doc.Status)
}

// reportsJoin is how reports are joined with today's DNS (reports, and
// serve's uploads): through r, unless --offline without --zone files (r is
// then nil: no join); on the blocklists named by lists ("" for none) unless
// --offline.
func reportsJoin(app *App, r dnsx.Resolver, lists string) (reports.Options, error) {
	opts := reports.Options{}
	if app.Offline && len(app.Zones) == 0 {
		return opts, nil
	}
	opts.Resolver = r
	if lists != "" && !app.Offline {
		ls, err := rbl.Default().Select(lists)
		if err != nil {
			return opts, err
		}
		opts.Lists = ls
	}
	return opts, nil
}

// readReportDocument reads every report src yields into one document (the walk,
// the builder, the DNS join with opts), handing each report to each too
// when set (jsonl streams its rows).
func readReportDocument(ctx context.Context, src dmarcreport.Source, lim dmarcreport.Limits, opts reports.Options, each func(*dmarcreport.Report) error) (*reports.Document, error) {
	b := reports.NewBuilder()
	st, err := dmarcreport.Walk(ctx, src, lim, 0, dmarcreport.Visitor{
		Report: func(r *dmarcreport.Report) error {
			b.Add(r)
			if each != nil {
				return each(r)
			}
			return nil
		},
		Error: b.AddError,
	})
	if err != nil {
		return nil, err
	}
	doc := b.Finish(ctx, opts)
	doc.Stats = st
	return doc, nil
}

// chainSources reads the sources one after the other.
func chainSources(srcs []dmarcreport.Source) dmarcreport.Source {
	return func(emit func(dmarcreport.Input) error) error {
		for _, s := range srcs {
			if err := s(emit); err != nil {
				return err
			}
		}
		return nil
	}
}

// selectorsFromReports reads reports and returns the DKIM selectors used
// with d= one of domains, for check --selectors-from.
func selectorsFromReports(ctx context.Context, app *App, paths, domains []string) ([]string, error) {
	for _, p := range paths {
		if p != "-" {
			if _, err := os.Stat(p); err != nil {
				return nil, usageErrorf("--selectors-from %s: %v", p, unwrapPathErr(err))
			}
		}
	}
	want := map[string]bool{}
	for _, d := range domains {
		want[strings.TrimSuffix(strings.ToLower(d), ".")] = true
	}
	var out []string
	seen := map[string]bool{}
	_, err := dmarcreport.Walk(ctx, dmarcreport.PathSource(paths, app.IO.In, bounce.DefaultMaxSize), dmarcreport.DefaultLimits, 0, dmarcreport.Visitor{
		Report: func(r *dmarcreport.Report) error {
			if r.Aggregate == nil {
				return nil
			}
			for _, row := range r.Aggregate.Rows {
				for _, d := range row.DKIMAuth {
					s := strings.ToLower(d.Selector)
					if d.Selector != "" && want[d.Domain] && !seen[s] {
						seen[s] = true
						out = append(out, s)
					}
				}
			}
			return nil
		},
	})
	return out, err
}
