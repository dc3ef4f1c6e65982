package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// rblSchema names the JSON output of the rbl command.
const rblSchema = "deliverdoctor.rbl/v1"

type rblFlags struct {
	dnsbl       []string
	lists       string
	health      bool
	listTimeout time.Duration
	showLists   bool
}

func newRBLCmd(app *App) *cobra.Command {
	var f rblFlags
	cmd := &cobra.Command{
		Use:   "rbl IP|DOMAIN...",
		Short: "Check an IP or a domain against DNS blocklists: which list, what it means, how to get off",
		Long: `Ask DNS blocklists (DNSBLs, RFC 5782) about an address or a domain, all lists
at once, and say for every listing which list, what its return code means
there, the list's own reason text, and where to request removal.

For an IP: the IP lists (reversed IPv4, or IPv6 nibbles on lists that hold
IPv6). For a domain: its registered domain (and the name itself, for a
subdomain) on the domain lists, and the addresses that send for it (its MX
hosts' addresses and the single ip4/ip6 addresses of its SPF record, each
labelled with where it came from) on the IP lists.

Results: LISTED; clean (the list answered "not listed"); ERROR (timeout,
SERVFAIL, an answer outside 127.0.0.0/8, or a "query refused" code such as
Spamhaus 127.255.255.254, which public resolvers get: never reported as
clean); skipped (--offline, or a list without IPv6).

A listing on a major list (one receivers reject on) fails; a listing on a
minor list (UCEPROTECT, SpamRATS, Mailspike, ...) warns. Lists are data:
--show-lists prints them with their documentation. --dnsbl ZONE (repeatable)
replaces the defaults; prefix it with ip: or domain: to say what the zone
holds, and use KEY.zen.dq.spamhaus.net style zones for keyed services.

Use a recursive resolver of your own (--resolver 127.0.0.1 with unbound):
Spamhaus and URIBL refuse queries that come through public resolvers.

Exit codes: 0 not listed, 1 listed (at or above --fail-on), 2 usage error,
3 some lists could not be asked and nothing was listed.`,
		Example: `  deliverdoctor rbl 192.0.2.25
  deliverdoctor rbl example.com                      # the domain, its MX and SPF addresses
  deliverdoctor rbl 192.0.2.25 --lists all --health  # every list, each checked for health first
  deliverdoctor rbl 192.0.2.25 --resolver 127.0.0.1 --format json
  deliverdoctor rbl 2001:db8::25 --dnsbl zen.spamhaus.org --dnsbl bl.spamcop.net
  deliverdoctor rbl example.com --dnsbl MYKEY.zen.dq.spamhaus.net --dnsbl MYKEY.dbl.dq.spamhaus.net
  deliverdoctor rbl --show-lists`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.showLists {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.showLists {
				return showLists(app)
			}
			return runRBL(cmd.Context(), app, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.dnsbl, "dnsbl", nil, "blocklist `ZONE` to ask (repeatable; replaces the built-in lists; ip:ZONE or domain:ZONE says what it holds)")
	fl.StringVar(&f.lists, "lists", "major", "which built-in lists: major (receivers reject on them) or all")
	fl.BoolVar(&f.health, "health", false, "also ask each list about its RFC 5782 test entries; a list failing them is not trusted")
	fl.DurationVar(&f.listTimeout, "list-timeout", rbl.DefaultTimeout, "give up on one list after this long (its answer is then 'error', never 'clean')")
	fl.BoolVar(&f.showLists, "show-lists", false, "print the built-in blocklists and exit")
	return cmd
}

// rblOutput is the JSON form of one target's result.
type rblOutput struct {
	Schema string `json:"schema"`
	*rbl.Report
	Findings []findings.Finding `json:"findings"`
	DNS      *report.DNSStats   `json:"dns,omitempty"`
}

func runRBL(ctx context.Context, app *App, f *rblFlags, args []string) error {
	var targets []target.Target
	for _, a := range args {
		t, err := target.Parse(a)
		if err != nil {
			return &usageError{err}
		}
		targets = append(targets, t)
	}
	if f.listTimeout <= 0 {
		return usageErrorf("--list-timeout must be positive")
	}
	opts := check.Options{Only: []string{"rbl"}, DNSBL: f.dnsbl, Lists: f.lists, RBLTimeout: f.listTimeout, RBLHealth: f.health}
	if _, err := check.RBLLists(&opts); err != nil {
		return &usageError{err}
	}
	var outs []*rblOutput
	for _, t := range targets {
		rep, err := app.runSelection(ctx, t, opts)
		if err != nil {
			return err
		}
		cr := resultOf(rep, "rbl")
		rr, ok := cr.Data.(*rbl.Report)
		if !ok {
			// The check crashed (an internal-error result): show it as a report.
			return app.Finish([]*report.Report{rep})
		}
		rr.Notes = append(t.Notes(), rr.Notes...)
		out := &rblOutput{Schema: rblSchema, Report: rr, Findings: cr.Findings, DNS: rep.DNS}
		if out.Findings == nil {
			out.Findings = []findings.Finding{}
		}
		outs = append(outs, out)
	}
	if err := writeRBL(app, outs); err != nil {
		return err
	}
	worst := findings.StatusSkip
	for _, o := range outs {
		worst = findings.Worst(worst, o.Status)
	}
	return app.StatusExit(worst)
}

func writeRBL(app *App, outs []*rblOutput) error {
	if done, err := writeJSONDocuments(app, outs); done {
		return err
	}
	w := app.IO.Out
	switch app.Format {
	case "text":
		for i, o := range outs {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := writeRBLText(w, o, app.RenderOptions()); err != nil {
				return err
			}
		}
		return nil
	}
	// markdown, html, csv: the common report renderers, one rbl check each.
	var reps []*report.Report
	for _, o := range outs {
		rep := &report.Report{Target: o.Target, Kind: o.Kind, Notes: o.Notes, DNS: o.DNS,
			Checks: []findings.CheckResult{o.CheckResult()}}
		rep.Finalize(check.Order)
		rep.DurationMS = o.DurationMS
		reps = append(reps, rep)
	}
	return report.Render(w, app.Format, reps, app.RenderOptions())
}

// resultLabel is the RESULT column: upper case for what needs attention.
func resultLabel(s rbl.Status) (string, findings.Status) {
	switch s {
	case rbl.StatusListed:
		return "LISTED", findings.StatusFail
	case rbl.StatusError:
		return "ERROR", findings.StatusError
	case rbl.StatusSkip:
		return "skipped", findings.StatusSkip
	}
	return "clean", findings.StatusPass
}

// maxCleanRows is how many rows the text table shows before it hides the
// clean ones (-v shows them all).
const maxCleanRows = 40

func writeRBLText(w io.Writer, o *rblOutput, opts report.Options) error {
	c := opts.Color
	fmt.Fprintf(w, "%s (%s)  %s  · %s · %d ms\n", sanitize.Line(o.Target), o.Kind,
		report.Paint(c, o.Status, strings.ToUpper(string(o.Status))), sanitize.Line(o.Summary), o.DurationMS)
	for _, n := range o.Notes {
		fmt.Fprintf(w, "note: %s\n", sanitize.Line(n))
	}
	if o.Kind == "domain" {
		fmt.Fprintln(w, "\nChecked:")
		var rows [][]string
		for _, s := range o.Checked {
			src := strings.Join(s.Sources, "; ")
			if s.Skip != "" {
				src += " (not asked: " + s.Skip + ")"
			}
			rows = append(rows, []string{s.Value, src})
		}
		if err := report.Table(w, []string{"ADDRESS/DOMAIN", "FOUND IN"}, rows); err != nil {
			return err
		}
	}
	var rows [][]string
	var shown []rbl.Status
	hidden := 0
	showClean := opts.Verbose || len(o.Results) <= maxCleanRows
	for _, r := range o.Results {
		label, _ := resultLabel(r.Status)
		if r.Status == rbl.StatusClean && !showClean {
			hidden++
			continue
		}
		meaning := strings.Join(r.Meanings, "; ")
		if r.Status == rbl.StatusError || r.Status == rbl.StatusSkip {
			meaning = r.Reason
		}
		if len(r.TXT) > 0 {
			meaning += ` · "` + strings.Join(r.TXT, " ") + `"`
		}
		delist := ""
		if r.Status == rbl.StatusListed {
			delist = r.Delist
		}
		rows = append(rows, []string{r.List, r.Checked, label, clip(meaning, 110), delist})
		shown = append(shown, r.Status)
	}
	fmt.Fprintln(w)
	if len(rows) > 0 {
		var paint func(row, col int) (findings.Status, bool)
		if c {
			paint = func(row, col int) (findings.Status, bool) {
				_, st := resultLabel(shown[row])
				return st, col == 2
			}
		}
		if err := report.PaintedTable(w, []string{"LIST", "CHECKED", "RESULT", "MEANING", "DELIST"}, rows, paint); err != nil {
			return err
		}
	}
	if hidden > 0 {
		fmt.Fprintf(w, "(%d clean answers not shown; -v shows them)\n", hidden)
	}
	if len(o.Health) > 0 {
		fmt.Fprintln(w, "\nList health (RFC 5782 test entries):")
		var hr [][]string
		for _, h := range o.Health {
			hr = append(hr, []string{h.List, string(h.Status), clip(h.Detail, 120)})
		}
		if err := report.Table(w, []string{"LIST", "HEALTH", "DETAIL"}, hr); err != nil {
			return err
		}
	}
	report.WriteFindingsText(w, o.Findings, c, false) // the table above already says what is clean
	return nil
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func showLists(app *App) error {
	cat := rbl.Default()
	w := app.IO.Out
	switch app.Format {
	case "json", "jsonl":
		return report.WriteJSON(w, cat.Lists)
	}
	var rows [][]string
	for _, l := range cat.Lists {
		zone := l.Zone
		access := "public"
		switch {
		case l.NeedsKey:
			zone, access = "KEY."+l.KeyZone, "key"
		case l.Registration:
			access = "registered resolvers"
		}
		family := string(l.Kind)
		if l.Kind == rbl.KindIP {
			family = "ip"
			switch {
			case l.IPv4 && l.IPv6:
				family += " v4+v6"
			case l.IPv6:
				family += " v6"
			default:
				family += " v4"
			}
		}
		rows = append(rows, []string{l.Name, zone, family, string(l.Weight), access, l.Delist})
	}
	fmt.Fprintf(w, "%d blocklists; --lists major asks the major public ones, --lists all every public one.\n", len(cat.Lists))
	fmt.Fprintln(w, "Keyed lists are asked only when given with --dnsbl KEY.zone.")
	fmt.Fprintln(w)
	return report.Table(w, []string{"LIST", "ZONE", "KIND", "WEIGHT", "ACCESS", "DELIST"}, rows)
}
