package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/address"
	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

func newAddressCmd(app *App) *cobra.Command {
	var pf probeFlags
	var mailFrom string
	cmd := &cobra.Command{
		Use:   "address USER@DOMAIN...",
		Short: "Check an e-mail address: syntax, whether its domain receives mail, and (--smtp) what its server says",
		Long: `Check an e-mail address the way a sending server meets it.

Syntax as an SMTP envelope address (RFC 5321 4.1.2): a dot-atom or quoted
local part of at most 64 octets, at most 254 octets in all, a domain of
letters, digits and hyphens or an internationalised domain (converted to its
A-label form), or an address literal such as [192.0.2.1]. Valid but risky
forms are flagged: quoted local parts, UTF-8 local parts that need SMTPUTF8
(RFC 6531), address literals.

Then the domain's MX analysis (as "deliverdoctor mx"): does it exist, does it
accept mail (null MX), do its mail hosts resolve.

With --smtp the first MX host that answers is asked: MAIL FROM:<> and RCPT
TO:<address>, and RCPT TO for a random address of the same domain to tell a
server that accepts everything (catch-all); then RSET and QUIT. No message
is sent (never DATA). An accepted RCPT is no proof of delivery, and a
refusal for policy reasons (x.7.x: this network is blocklisted, probes are
refused) says nothing about the mailbox: both are reported as such. Many
networks block outgoing port 25, and some providers refuse or tarpit such
probes; probe only addresses you have a reason to check.

JSON (--format json): {"address","local","domain","syntax_valid",
"problems":[...],"mx":{...},"smtp":{"accepted","code","enhanced_code","text",
"catch_all",...} or null,"status","summary","findings"}.

This is the address check of "check ADDRESS --checks address": the same
findings and status; the command prints the address document instead of a
report.

Exit codes: 0 nothing at or above --fail-on, 1 at or above it (an invalid
address, a domain that cannot receive mail, a refused mailbox), 2 usage
error, 3 could not be determined.`,
		Example: `  deliverdoctor address bob@example.com
  deliverdoctor address "\"John Doe\"@example.com" --format json
  deliverdoctor address 用户@例子.广告
  deliverdoctor address bob@example.com --smtp
  deliverdoctor address bob@test.example --zone test.zone --offline --smtp --smtp-port 2525
  deliverdoctor check bob@example.com --checks address --format json   # the same check, as a report`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pf.validate(); err != nil {
				return err
			}
			if mailFrom != "" {
				if a := address.Parse(mailFrom); !a.Valid() {
					return usageErrorf("--mail-from %q is not a valid address", mailFrom)
				}
			}
			opts := check.Options{Only: []string{"address"}, SMTP: pf.smtp, SMTPPort: pf.port, MailFrom: mailFrom, ProbeTimeout: pf.timeout}
			var results []*address.Result
			worst := findings.StatusSkip
			for _, a := range args {
				rep, err := app.runSelection(cmd.Context(), check.AddressTarget(a), opts)
				if err != nil {
					return err
				}
				r := checkData[*address.Result](rep, "address")
				results = append(results, r)
				worst = findings.Worst(worst, r.Status)
			}
			if err := writeAddresses(app, results); err != nil {
				return err
			}
			return app.StatusExit(worst)
		},
	}
	pf.add(cmd, "also ask the domain's mail server about the address with RCPT TO, and test for a catch-all")
	cmd.Flags().StringVar(&mailFrom, "mail-from", "", "reverse-path `ADDRESS` for the RCPT probe (default: the null path <>)")
	return withFormats(cmd, "text", "json", "jsonl")
}

func writeAddresses(app *App, rs []*address.Result) error {
	if done, err := writeJSONDocuments(app, rs); done {
		return err
	}
	w := app.IO.Out
	for i, r := range rs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeAddressText(w, r, app.Color(), app.Verbose)
	}
	return nil
}

func writeAddressText(w io.Writer, r *address.Result, color, verbose bool) {
	shown := r.Address
	if shown == "" {
		shown = r.Input
	}
	fmt.Fprintf(w, "%s  %s\n", sanitize.Line(shown), report.Paint(color, r.Status, strings.ToUpper(string(r.Status))))
	row := func(label, text string) { fmt.Fprintf(w, "  %-10s %s\n", label, sanitize.Line(text)) }
	syntax := "valid"
	var notes []string
	syntaxIDs := map[string]bool{}
	for _, p := range r.Problems {
		syntaxIDs[p.ID] = true
		switch {
		case p.Severity == findings.SeverityFail && syntax == "valid":
			syntax = "INVALID: " + p.Message
		case p.Severity == findings.SeverityFail:
			syntax += "; " + p.Message
		case p.Severity == findings.SeverityWarn || verbose:
			notes = append(notes, p.Message)
		}
	}
	if r.Parsed != nil && r.Parsed.Quoted {
		syntax += " (quoted local part)"
	}
	row("syntax", syntax)
	if r.DomainUnicode != "" {
		row("domain", r.DomainUnicode+" = "+r.Domain)
	}
	row("mail host", r.MX.Summary)
	if s := r.SMTP; s != nil {
		at := s.Host
		if s.Addr != "" {
			at = fmt.Sprintf("%s [%s]:%d", s.Host, s.Addr, s.Port)
			if s.TLS {
				at += " (TLS)"
			}
		}
		switch {
		case s.Code != 0 && s.Error == "":
			verdict := "refused"
			if s.Accepted {
				verdict = "accepted"
			} else if s.Code < 500 {
				verdict = "deferred"
			}
			row("smtp", fmt.Sprintf("%s: RCPT TO answered %d %s %s → %s", at, s.Code, s.EnhancedCode, s.Text, verdict))
		default:
			row("smtp", strings.TrimSpace(at+" "+s.Error))
		}
		switch {
		case s.CatchAll == nil:
			row("catch-all", "unknown")
		case *s.CatchAll:
			row("catch-all", "yes: a random address was accepted too")
		default:
			row("catch-all", "no: a random address was refused")
		}
		if verbose {
			for _, st := range s.Transcript {
				fmt.Fprintf(w, "      %s\n", sanitize.Line(stepLine(st)))
			}
		}
		if s.Code != 0 || s.Accepted {
			row("caveat", s.Caveat)
		}
	}
	row("result", r.Summary)
	for _, n := range notes {
		row("note", n)
	}
	var rest []findings.Finding
	for _, f := range r.Findings {
		if !syntaxIDs[f.ID] { // syntax problems are shown above
			rest = append(rest, f)
		}
	}
	report.WriteFindingsText(w, rest, color, verbose)
}
