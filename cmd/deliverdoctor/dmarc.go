package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

type dmarcFlags struct {
	ip          string
	mailFrom    string
	helo        string
	dkimDomains []string
}

func newDMARCCmd(app *App) *cobra.Command {
	var f dmarcFlags
	cmd := &cobra.Command{
		Use:   "dmarc DOMAIN",
		Short: "Find and lint a domain's DMARC record (RFC 9989 tree walk); with --ip, would a message pass?",
		Long: `Discover the DMARC record that applies to DOMAIN the way RFC 9989 (DMARCbis)
receivers do: the DNS tree walk from _dmarc.DOMAIN up to the top-level domain
(at most 8 names: deeper names jump to their last 7 labels), stopping at a
record with psd=y or psd=n. Shows every name asked and what it held, the
Organizational Domain, the policy for the domain itself (p), for existing
subdomains (sp) and for non-existent ones (np), and what receivers that still
implement RFC 7489 (Public Suffix List, pct) decide differently.

Findings: no record (Gmail, Yahoo and Microsoft refuse bulk mail without one:
5.7.26, 5.7.9, 5.7.515), several records, syntax errors, records at names
receivers never ask, p=none, no rua, report destinations in another
organization without their authorisation record, t=y, weak sp/np, removed
tags (pct, rf, ri).

With --ip, evaluate a message sent from that address: SPF check_host() for
the MAIL FROM domain, alignment of SPF and of each --dkim-domain (assumed to
carry a valid signature) with DOMAIN as the From: domain, the DMARC result,
and what Microsoft (5.7.509), Gmail (5.7.26) and Yahoo (5.7.9) do if it fails.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
2 usage error, 3 the DNS did not answer.`,
		Example: `  deliverdoctor dmarc example.com
  deliverdoctor dmarc mail.example.com --format json
  deliverdoctor dmarc example.com --zone example.com.zone --offline      # before publishing
  deliverdoctor dmarc example.com --ip 192.0.2.25 --mail-from bounce@example.com
  deliverdoctor dmarc example.com --ip 198.51.100.7 --mail-from bounce@esp.example --dkim-domain example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDMARC(cmd.Context(), app, &f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.ip, "ip", "", "evaluate a message sent from this `IP`: SPF, alignment, DMARC result and what receivers do")
	fl.StringVar(&f.mailFrom, "mail-from", "", "envelope sender `ADDRESS` (MAIL FROM) for --ip (default postmaster@DOMAIN)")
	fl.StringVar(&f.helo, "helo", "", "HELO/EHLO `NAME` for --ip (SPF macros)")
	fl.StringArrayVar(&f.dkimDomains, "dkim-domain", nil, "a DKIM d= `DOMAIN` whose signature verifies, for alignment with --ip (repeatable)")
	return cmd
}

// dmarcJSON is the command's JSON contract: the analysis, the findings and
// the status, plus with --ip the message's evaluation at the top level.
type dmarcJSON struct {
	*dmarc.Analysis
	Status   findings.Status    `json:"status"`
	Findings []findings.Finding `json:"findings"`
	Sender   *struct{}          `json:"sender,omitempty"` // shadows Analysis.Sender: its fields are below

	IP            string                       `json:"ip,omitempty"`
	MailFrom      string                       `json:"mail_from,omitempty"`
	Result        dmarc.Result                 `json:"result,omitempty"`
	SPF           *dmarc.SPFOutcome            `json:"spf,omitempty"`
	DKIM          *[]dmarc.IdentifierAlignment `json:"dkim,omitempty"`
	Alignment     *dmarcAlignmentJSON          `json:"alignment,omitempty"`
	AppliedPolicy dmarc.Policy                 `json:"applied_policy,omitempty"`
	Disposition   dmarc.Disposition            `json:"disposition,omitempty"`
	BounceCodes   *[]string                    `json:"bounce_codes,omitempty"`
	Receivers     []dmarc.ReceiverOutcome      `json:"receivers,omitempty"`
	Explanation   string                       `json:"explanation,omitempty"`
}

type dmarcAlignmentJSON struct {
	SPF  *dmarc.IdentifierAlignment  `json:"spf"`
	DKIM []dmarc.IdentifierAlignment `json:"dkim"`
}

func runDMARC(ctx context.Context, app *App, f *dmarcFlags, arg string) error {
	t, err := domainTarget(arg)
	if err != nil {
		return err
	}
	opts := check.Options{Only: []string{"dmarc"}, MailFrom: f.mailFrom, HELO: f.helo}
	if f.ip != "" {
		if opts.SenderIP, err = parseSenderIP(f.ip); err != nil {
			return err
		}
	} else if f.mailFrom != "" || f.helo != "" || len(f.dkimDomains) > 0 {
		return usageErrorf("--mail-from, --helo and --dkim-domain describe a message: give --ip too")
	}
	if f.mailFrom != "" {
		at := strings.LastIndexByte(f.mailFrom, '@')
		if at <= 0 {
			return usageErrorf("--mail-from %q is not an e-mail address (want local@domain)", f.mailFrom)
		}
		if _, err := target.Domain(f.mailFrom[at+1:]); err != nil {
			return usageErrorf("--mail-from %q: %s", f.mailFrom, oneLine(err.Error()))
		}
	}
	for _, d := range f.dkimDomains {
		dd, err := target.Domain(d)
		if err != nil {
			return usageErrorf("--dkim-domain: %s", oneLine(err.Error()))
		}
		opts.DKIMDomains = append(opts.DKIMDomains, dd)
	}
	rep, err := app.runSelection(ctx, t, opts)
	if err != nil {
		return err
	}
	cr := resultOf(rep, "dmarc")
	a, ok := cr.Data.(*dmarc.Analysis)
	if !ok {
		// The check crashed (an internal-error result): show it as a report.
		return app.Finish([]*report.Report{rep})
	}
	out := dmarcJSON{Analysis: a, Status: cr.Status, Findings: cr.Findings}
	if out.Findings == nil {
		out.Findings = []findings.Finding{}
	}
	if a.Sender != nil {
		s := a.Sender
		codes := s.BounceCodes
		dkim := s.DKIM
		if dkim == nil {
			dkim = []dmarc.IdentifierAlignment{}
		}
		out.IP, out.MailFrom, out.Result, out.SPF, out.DKIM = s.IP, s.MailFrom, s.Result, &s.SPF, &dkim
		out.Alignment = &dmarcAlignmentJSON{SPF: s.Alignment.SPF, DKIM: s.Alignment.DKIM}
		out.AppliedPolicy, out.Disposition, out.BounceCodes = s.AppliedPolicy, s.Disposition, &codes
		out.Receivers, out.Explanation = s.Receivers, s.Explanation
	}
	text := func(w io.Writer) error { return writeDMARCText(w, &out, app.Color(), app.Verbose) }
	return app.finishDocument(out, text, rep, cr.Status)
}

func writeDMARCText(w io.Writer, o *dmarcJSON, color, verbose bool) error {
	a := o.Analysis
	s := sanitize.Line
	fmt.Fprintf(w, "%s  DMARC  %s\n\n", s(a.Domain), report.Paint(color, o.Status, strings.ToUpper(string(o.Status))))
	if a.Offline {
		fmt.Fprintf(w, "not checked: --offline and _dmarc.%s is in no --zone file\n", s(a.Domain))
		return nil
	}
	var rows [][]string
	if a.Record != "" {
		rows = append(rows, []string{"record", a.Record})
		where := "_dmarc." + a.FoundAt
		switch a.Source {
		case "domain":
			where += " (the domain's own record)"
		case "organizational-domain":
			where += " (inherited from the Organizational Domain)"
		case "public-suffix-domain":
			where += " (the Public Suffix Domain's policy, psd=y)"
		}
		rows = append(rows, []string{"found at", where})
	} else {
		rows = append(rows, []string{"record", "none"})
	}
	if a.OrgDomain != "" {
		rows = append(rows, []string{"org domain", fmt.Sprintf("%s (%s)", a.OrgDomain, a.OrgRule)})
	}
	if a.Record != "" {
		pol := fmt.Sprintf("%s (from the %s tag)", a.Policy, a.PolicyTag)
		if a.Testing {
			pol += fmt.Sprintf(", t=y: receivers apply %s", a.Policy.OneLevelDown())
		}
		if !a.Applies {
			pol = "none: receivers ignore this record (no valid p, no valid rua)"
		}
		rows = append(rows, []string{"policy", pol})
		if a.SubdomainPolicy != "" {
			from := ""
			if a.SubdomainFrom != a.FoundAt {
				from = " (from _dmarc." + a.SubdomainFrom + ")"
			}
			rows = append(rows, []string{"subdomains", fmt.Sprintf("%s; non-existent: %s%s", a.SubdomainPolicy, a.NonexistentPolicy, from)})
		}
	}
	if err := dmarcRows(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ntree walk (RFC 9989 4.10):")
	var walk [][]string
	for _, st := range a.Walk {
		what := string(st.Status)
		switch st.Status {
		case dmarc.StepRecord:
			what = "record: " + st.Text
		case dmarc.StepMultiple:
			what = fmt.Sprintf("%d records (all discarded)", len(st.TXT))
		case dmarc.StepNone:
			what = "TXT but no DMARC record: " + strings.Join(st.TXT, " | ")
		case dmarc.StepOffline:
			what = "not asked (--offline)"
		case dmarc.StepError:
			what = "ERROR: " + st.Error
		}
		if st.Note != "" {
			what += "  [" + st.Note + "]"
		}
		walk = append(walk, []string{"  " + st.Name, what})
	}
	if err := dmarcRows(w, walk); err != nil {
		return err
	}
	if len(a.Reports) > 0 {
		fmt.Fprintln(w, "\nreport destinations (RFC 9990 3):")
		var rr [][]string
		for _, d := range a.Reports {
			state := "same organization"
			if d.External {
				state = "external, authorised: " + string(d.Authorized)
				if d.AuthName != "" {
					state += " (" + d.AuthName + ")"
				}
			}
			rr = append(rr, []string{"  " + d.Tag, d.URI, state})
		}
		if err := dmarcRows(w, rr); err != nil {
			return err
		}
	}
	if lv := a.RFC7489; lv != nil && verbose {
		fmt.Fprintf(w, "\nRFC 7489 receivers: org domain %s (Public Suffix List), record at %s, policy %s, pct %d\n",
			s(lv.OrgDomain), s(orDash("_dmarc."+lv.PolicyDomain, lv.PolicyDomain)), s(orDash(string(lv.Policy), string(lv.Policy))), lv.Pct)
		for _, d := range lv.Differences {
			fmt.Fprintf(w, "  - %s\n", s(d))
		}
	}
	if o.Result != "" {
		fmt.Fprintf(w, "\nmessage from %s, MAIL FROM %s, From: %s: DMARC %s\n", s(o.IP), s(o.MailFrom), s(a.Domain),
			report.Paint(color, o.Result.Status(), strings.ToUpper(string(o.Result))))
		var mr [][]string
		spfLine := fmt.Sprintf("%s for %s", o.SPF.Result, o.SPF.Domain)
		if o.SPF.Mechanism != "" {
			spfLine += " (" + o.SPF.Mechanism + ")"
		}
		if o.Alignment.SPF != nil {
			spfLine += "; " + alignWord(o.Alignment.SPF)
		}
		mr = append(mr, []string{"  SPF", spfLine})
		for _, k := range *o.DKIM {
			mr = append(mr, []string{"  DKIM", fmt.Sprintf("d=%s (assumed valid); %s", k.Domain, alignWord(&k))})
		}
		if len(*o.DKIM) == 0 {
			mr = append(mr, []string{"  DKIM", "none given (--dkim-domain)"})
		}
		if o.AppliedPolicy != "" {
			mr = append(mr, []string{"  policy", fmt.Sprintf("%s → %s", o.AppliedPolicy, o.Disposition)})
		}
		for _, r := range o.Receivers {
			line := r.Outcome
			if r.Code != "" {
				line += " " + r.Code
			}
			mr = append(mr, []string{"  " + r.Receiver, line})
		}
		if err := dmarcRows(w, mr); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s\n", s(o.Explanation))
	}
	report.WriteFindingsText(w, o.Findings, color, verbose)
	return nil
}

func alignWord(ia *dmarc.IdentifierAlignment) string {
	if ia.Aligned {
		return "aligned — " + ia.Reason
	}
	return "not aligned — " + ia.Reason
}

func orDash(s, cond string) string {
	if cond == "" {
		return "-"
	}
	return s
}

// dmarcRows writes rows as aligned columns, every cell sanitized (they hold
// DNS data).
func dmarcRows(w io.Writer, rows [][]string) error {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(sanitize.Line(c))))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			c = sanitize.Line(c)
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		if _, err := fmt.Fprintln(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}
