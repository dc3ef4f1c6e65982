package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

type spfFlags struct {
	ip, mailFrom, helo string
}

func newSPFCmd(app *App) *cobra.Command {
	var f spfFlags
	cmd := &cobra.Command{
		Use:   "spf DOMAIN",
		Short: "Lint a domain's SPF record and its include tree, or evaluate it for a sending IP",
		Long: `Without --ip: look up the SPF record of DOMAIN, follow every include and
redirect (each level's lookups concurrently), and show the tree with the DNS
lookups each part costs. Report what makes receivers reject mail: no record,
several records, syntax errors, more than 10 DNS lookups or 2 void lookups
(RFC 7208 4.6.4), include loops and missing includes, +all/?all, ptr, the
obsolete SPF record type, records too long for UDP or split mid-term, huge
ip4/ip6 ranges, duplicate and shadowed terms, a redirect next to "all".

With --ip: run check_host() exactly as RFC 7208 describes, for mail from that
address (envelope sender --mail-from, default postmaster@DOMAIN; HELO --helo,
default DOMAIN), and print the result (pass, fail, softfail, neutral, none,
temperror, permerror), the mechanism that decided it and the exp= explanation.
-v shows every step.

Exit codes: 0 pass (or nothing at or above --fail-on), 1 fail, softfail or
permerror (or findings at or above --fail-on), 2 usage error, 3 temperror or
the DNS did not answer.`,
		Example: `  deliverdoctor spf example.com
  deliverdoctor spf example.com --format json
  deliverdoctor spf example.com --zone example.com.zone --offline     # before publishing
  deliverdoctor spf example.com --ip 192.0.2.25
  deliverdoctor spf example.com --ip 2001:db8::25 --mail-from bounce@example.com --helo mx1.example.com -v
  deliverdoctor spf example.com --ip 192.0.2.25 --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSPF(cmd.Context(), app, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.ip, "ip", "", "evaluate the policy for mail sent from this `IP` (check_host())")
	fl.StringVar(&f.mailFrom, "mail-from", "", "envelope sender `ADDRESS` for --ip (default postmaster@DOMAIN)")
	fl.StringVar(&f.helo, "helo", "", "HELO/EHLO `NAME` for --ip (default DOMAIN)")
	return cmd
}

func runSPF(ctx context.Context, app *App, arg string, f *spfFlags) error {
	t, err := domainTarget(arg)
	if err != nil {
		return err
	}
	opts := check.Options{Only: []string{"spf"}}
	if f.ip == "" {
		if f.mailFrom != "" || f.helo != "" {
			return usageErrorf("--mail-from and --helo need --ip")
		}
	} else {
		if opts.SenderIP, err = parseSenderIP(f.ip); err != nil {
			return err
		}
		opts.MailFrom, opts.HELO = f.mailFrom, f.helo
		if opts.MailFrom != "" && !strings.Contains(opts.MailFrom, "@") {
			return usageErrorf("--mail-from %q is not an address (local-part@domain)", f.mailFrom)
		}
	}
	rep, err := app.runSelection(ctx, t, opts)
	if err != nil {
		return err
	}
	cr := resultOf(rep, "spf")
	data, ok := cr.Data.(*spf.CheckData)
	if !ok {
		// The check crashed (an internal-error result): show it as a report.
		return app.Finish([]*report.Report{rep})
	}
	if opts.SenderIP.IsValid() && data.Evaluation != nil {
		return spfEvalOutput(app, rep, data.Evaluation.Evaluation, opts)
	}
	return spfLintOutput(app, rep, cr, data.LintResult)
}

// spfEvalJSON is docs/contracts.md's contract for spf --ip --format json; the first
// seven fields are fixed, the others are additions.
type spfEvalJSON struct {
	Domain      string   `json:"domain"`
	IP          string   `json:"ip"`
	Result      string   `json:"result"`
	Mechanism   string   `json:"mechanism"`
	Explanation string   `json:"explanation"`
	Lookups     int      `json:"lookups"`
	VoidLookups int      `json:"void_lookups"`
	MatchDomain string   `json:"match_domain,omitempty"`
	Sender      string   `json:"sender"`
	HELO        string   `json:"helo"`
	Record      string   `json:"record,omitempty"`
	Error       string   `json:"error,omitempty"`
	Trace       []string `json:"trace,omitempty"`
}

func spfEvalOutput(app *App, rep *report.Report, ev *spf.Evaluation, opts check.Options) error {
	args := check.SPFArgs(ev.Domain, &opts)
	out := spfEvalJSON{
		Domain: ev.Domain, IP: opts.SenderIP.String(), Result: string(ev.Result), Mechanism: ev.Mechanism,
		Explanation: ev.Explanation, Lookups: ev.Lookups, VoidLookups: ev.VoidLookups, MatchDomain: ev.MatchDomain,
		Sender: ev.Sender, HELO: args.HELO, Record: ev.Record, Error: ev.Error(),
	}
	if app.Verbose {
		out.Trace = ev.Trace
	}
	st := ev.Status()
	text := func(w io.Writer) error { writeSPFEval(w, &out, st, app.Color()); return nil }
	return app.finishDocument(out, text, rep, st)
}

func writeSPFEval(w io.Writer, o *spfEvalJSON, st findings.Status, color bool) {
	fmt.Fprintf(w, "SPF %s: %s for mail from %s\n", sanitize.Line(o.Domain), report.Paint(color, st, strings.ToUpper(o.Result)), o.IP)
	rows := [][]string{
		{"sender", o.Sender},
		{"helo", o.HELO},
	}
	if o.Mechanism != "" {
		m := o.Mechanism
		if o.MatchDomain != "" && !strings.EqualFold(o.MatchDomain, o.Domain) {
			m += "  (in the record of " + o.MatchDomain + ", reached by redirect)"
		}
		rows = append(rows, []string{"mechanism", m})
	} else if o.Result == string(spf.ResultNeutral) && o.Error == "" {
		rows = append(rows, []string{"mechanism", "(none matched: the default result is neutral)"})
	}
	if o.Record != "" {
		rows = append(rows, []string{"record", o.Record})
	}
	rows = append(rows, []string{"lookups", fmt.Sprintf("%d/10, void %d/2", o.Lookups, o.VoidLookups)})
	if o.Explanation != "" {
		rows = append(rows, []string{"explanation", o.Explanation})
	}
	if o.Error != "" {
		rows = append(rows, []string{"why", o.Error})
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-12s %s\n", r[0], sanitize.Line(r[1]))
	}
	if len(o.Trace) > 0 {
		fmt.Fprintln(w, "\nEvaluation:")
		for _, l := range o.Trace {
			fmt.Fprintf(w, "  %s\n", sanitize.Line(l))
		}
	}
}

// spfLintJSON is spf DOMAIN --format json.
type spfLintJSON struct {
	*spf.LintResult
	Status   findings.Status    `json:"status"`
	Summary  string             `json:"summary"`
	Findings []findings.Finding `json:"findings"`
}

func spfLintOutput(app *App, rep *report.Report, cr findings.CheckResult, lr *spf.LintResult) error {
	out := spfLintJSON{LintResult: lr, Status: cr.Status, Summary: cr.Summary, Findings: cr.Findings}
	if out.Findings == nil {
		out.Findings = []findings.Finding{}
	}
	text := func(w io.Writer) error { writeSPFLint(w, &out, app.Color(), app.Verbose); return nil }
	return app.finishDocument(out, text, rep, cr.Status)
}

func writeSPFLint(w io.Writer, o *spfLintJSON, color, verbose bool) {
	fmt.Fprintf(w, "SPF %s  %s  · %s\n", sanitize.Line(o.Domain), report.Paint(color, o.Status, strings.ToUpper(string(o.Status))), sanitize.Line(o.Summary))
	if o.Tree != nil && !o.Offline {
		fmt.Fprintln(w)
		report.WriteTree(w, spfTree(o.Tree))
	}
	report.WriteFindingsText(w, o.Findings, color, verbose)
}

// spfTree is the include/redirect tree as a person reads it: each record
// with what its lookups cost (an include or redirect counts itself, as the
// lookup evidence does; the root shows the total), each DNS-querying term
// with what it found.
func spfTree(n *spf.Node) report.TreeNode {
	head := n.Domain
	if n.Term != "" {
		head = n.Term
	}
	switch n.Status {
	case spf.NodeOK:
		head += fmt.Sprintf("  [%s", plural(n.Cost(), "lookup"))
		if n.TotalVoid > 0 {
			head += fmt.Sprintf(", %d void", n.TotalVoid)
		}
		head += "]"
	default:
		head += "  [" + strings.ReplaceAll(string(n.Status), "-", " ") + "]"
	}
	t := report.TreeNode{Line: head, Body: n.Record}
	if t.Body == "" {
		t.Body = n.Error
	}
	for _, b := range n.Branches() {
		switch {
		case b.Child != nil:
			t.Children = append(t.Children, spfTree(b.Child))
		case b.Term.Unreached:
			t.Children = append(t.Children, report.TreeNode{Line: b.Term.Text + "  (never evaluated)"})
		default:
			line := b.Term.Text
			if b.Term.Note != "" {
				line += "  → " + b.Term.Note
			}
			if b.Term.Void {
				line += "  (void)"
			}
			t.Children = append(t.Children, report.TreeNode{Line: line})
		}
	}
	return t
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
