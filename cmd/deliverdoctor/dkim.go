package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

func newDKIMCmd(app *App) *cobra.Command {
	var selectors []string
	cmd := &cobra.Command{
		Use:   "dkim DOMAIN",
		Short: "Check a domain's DKIM keys, or verify the signatures of a message",
		Long: `Look up the DKIM public keys of DOMAIN and judge them (RFC 6376, RFC 8301,
RFC 8463): revoked (empty p=), malformed or unusable keys, RSA keys under 1024
bits (fail) or 1024 bits (warn), testing mode (t=y), sha1-only h=, several
records at one selector. CNAME-delegated selectors (as ESPs set them up) are
followed and the chain is shown.

DNS cannot list selectors. Give the ones your mail uses with --selector (the
s= tag of a DKIM-Signature header); without it a built-in list of common
selectors (Google, Microsoft 365, Mailchimp, SendGrid, Mailgun, Fastmail, Zoho,
cPanel, ...) is tried. A selector given with --selector that has no key fails;
finding nothing in the built-in list only warns.

"dkim verify" checks the signatures of a received message.`,
		Example: `  deliverdoctor dkim example.com
  deliverdoctor dkim example.com --selector s1 --selector s2
  deliverdoctor dkim example.com --zone example.com.zone --offline --selector s1
  deliverdoctor dkim verify message.eml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDKIM(cmd.Context(), app, args[0], selectors)
		},
	}
	cmd.Flags().StringArrayVar(&selectors, "selector", nil, "DKIM `SELECTOR` to check (repeatable; default: a built-in list of common ones)")
	cmd.AddCommand(newDKIMVerifyCmd(app))
	return cmd
}

func runDKIM(ctx context.Context, app *App, arg string, selectors []string) error {
	t, err := domainTarget(arg)
	if err != nil {
		return err
	}
	for i, s := range selectors {
		// "s1._domainkey.example.com" (a common paste) means s1.
		sel, err := dkim.NormalizeSelector(s, t.Name)
		if err != nil {
			return usageErrorf("--selector %v", err)
		}
		selectors[i] = sel
	}
	rep, err := app.runSelection(ctx, t, check.Options{Only: []string{"dkim"}, Selectors: selectors})
	if err != nil {
		return err
	}
	return finishReports(app, []*report.Report{rep}, func(w io.Writer) error {
		d, ok := resultOf(rep, "dkim").Data.(*dkim.Discovery)
		if !ok {
			return nil
		}
		return writeKeyTable(w, d)
	})
}

// finishSingle completes a one-report command: order, timing, DNS stats;
// in text format a command-specific table goes above the report.
func (a *App) finishSingle(rep *report.Report, start time.Time, table func(io.Writer) error) error {
	rep.Finalize(check.Order)
	rep.DurationMS = time.Since(start).Milliseconds()
	if a.client != nil {
		st := a.client.Stats()
		rep.DNS = &report.DNSStats{Sent: st.Sent, ZoneHits: st.ZoneHits, CacheHits: st.CacheHits}
	}
	if a.Format == "text" && table != nil {
		if err := table(a.IO.Out); err != nil {
			return err
		}
		fmt.Fprintln(a.IO.Out)
	}
	return a.Finish([]*report.Report{rep})
}

func writeKeyTable(w io.Writer, d *dkim.Discovery) error {
	if len(d.Keys) == 0 {
		fmt.Fprintf(w, "No DKIM key at %d common selectors of %s.\n", d.Checked, d.Domain)
		return nil
	}
	var rows [][]string
	for _, kr := range d.Keys {
		key := ""
		if kr.Key != nil {
			key = kr.Key.Describe()
			if kr.Key.Testing() {
				key += ", t=y"
			}
		}
		status := string(kr.Status)
		if kr.Status == dkim.KeyStatusMissing {
			status += " (" + kr.DNS + ")"
		}
		via := ""
		if len(kr.CNAMEs) > 0 {
			via = strings.TrimSuffix(kr.CNAMEs[len(kr.CNAMEs)-1], ".")
		}
		rows = append(rows, []string{kr.Selector, status, key, via, kr.UsedBy})
	}
	fmt.Fprintf(w, "DKIM selectors of %s (%d checked", d.Domain, d.Checked)
	if d.SelectorsFrom == "builtin" {
		fmt.Fprint(w, " from the built-in list")
	}
	fmt.Fprintln(w, "):")
	return report.Table(w, []string{"SELECTOR", "STATUS", "KEY", "CNAME TO", "USED BY"}, rows)
}

func newDKIMVerifyCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "verify MSG.eml|-",
		Short: "Verify every DKIM signature of a message and explain each failure",
		Long: `Verify each DKIM-Signature of a message (a .eml file, or - for standard input)
with go-msgauth, looking the keys up through deliverdoctor's resolver (so
--zone, --offline and --trace apply), and explain every result: body hash
mismatch (the body changed: footers, disclaimers, re-encoding), header
signature mismatch (a signed field changed, or DNS holds another key), key
not found, revoked or malformed, expired x=, rsa-sha1, an l= body length
limit, i= outside d=, From not signed.

The message is read whole, up to 50 MB.`,
		Example: `  deliverdoctor dkim verify message.eml
  deliverdoctor dkim verify - < message.eml
  deliverdoctor dkim verify message.eml --zone example.com.zone   # keys not yet published
  deliverdoctor dkim verify message.eml --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.runOnMessage(cmd, args[0], func(ctx context.Context, r dnsx.Resolver, msg []byte, name string) (*report.Report, func(io.Writer) error, error) {
				v, err := dkim.VerifyMessage(ctx, r, msg, nil)
				if err != nil {
					return nil, nil, err
				}
				rep := &report.Report{Target: name, Kind: "message", Checks: []findings.CheckResult{v.CheckResult()}}
				return rep, func(w io.Writer) error { return writeSignatureTable(w, v) }, nil
			})
		},
	}
}

func writeSignatureTable(w io.Writer, v *dkim.MessageVerification) error {
	if v.From != "" {
		fmt.Fprintf(w, "From: %s\n", sanitize.Line(v.From))
	}
	if len(v.Signatures) == 0 {
		fmt.Fprintln(w, "No DKIM-Signature header field.")
		return nil
	}
	var rows [][]string
	for _, s := range v.Signatures {
		rows = append(rows, []string{fmt.Sprint(s.Index), s.Domain, s.Selector, s.Algorithm, strings.ToUpper(string(s.Result)), s.Reason, strings.Join(s.Headers, ":")})
	}
	return report.Table(w, []string{"#", "D=", "S=", "A=", "RESULT", "REASON", "SIGNED FIELDS"}, rows)
}
