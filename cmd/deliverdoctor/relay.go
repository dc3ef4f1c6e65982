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
	"github.com/deliverdoctor/deliverdoctor/internal/relay"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

type relayFlags struct {
	external     string
	domain       string
	helo         string
	allVariants  bool
	probeTimeout time.Duration
}

func newRelayCmd(app *App) *cobra.Command {
	var f relayFlags
	cmd := &cobra.Command{
		Use:   "relay HOST[:PORT]",
		Short: "Probe a mail server for open relaying (never sends DATA)",
		Long: `Connect to HOST (a name or an IP address; port 25 unless given) and find out
whether it relays mail for strangers: after EHLO (HELO as fallback) it tries
MAIL FROM / RCPT TO pairs with a recipient at a foreign domain: the null
sender, a foreign sender, a sender in the server's own domain and at its
address literal, source routes, and the address tricks that have opened
relays before (user%foreign@server, foreign!user, quoted local parts, two @
signs, recipients at the server's [IP] literal). RSET between attempts, QUIT
at the end. The probe never sends DATA: no message is ever transferred.

Verdicts: open (a foreign recipient was accepted without authentication),
closed (every attempt refused), unknown (unreachable, a 421/554 greeting,
timeouts, everything greylisted with 4xx). When an address trick is accepted,
a nonexistent local part at the same domain is tried as a control: refused
means the trick is routed (open), accepted means the server takes any
recipient (a warning, not a verdict).

It stops at the first relayed variant unless --all-variants, uses one
connection, and sends at most about 80 commands.

Exit codes: 0 closed, 1 open relay, 2 usage error, 3 could not tell.`,
		Example: `  deliverdoctor relay mx.example.com
  deliverdoctor relay 192.0.2.25:2525 --format json
  deliverdoctor relay mx.example.com --external my-other-domain.example --all-variants
  deliverdoctor relay [2001:db8::25]:25 --helo probe.example.org --probe-timeout 60s
  deliverdoctor check example.com --relay          # every MX of a domain`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRelay(cmd.Context(), app, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.external, "external", "", "the foreign `DOMAIN` to try relaying to (default "+relay.DefaultExternal+", reserved by RFC 2606)")
	fl.StringVar(&f.domain, "domain", "", "a `DOMAIN` the server receives mail for, used in the address tricks (default: the name in its greeting)")
	fl.StringVar(&f.helo, "helo", "", "EHLO/HELO `NAME` (default: this host's FQDN, else our address literal)")
	fl.BoolVar(&f.allVariants, "all-variants", false, "keep trying after the first relayed variant (shows every hole)")
	fl.DurationVar(&f.probeTimeout, "probe-timeout", relay.DefaultTimeout, "timeout for the connection and for each reply")
	return cmd
}

func runRelay(ctx context.Context, app *App, arg string, f *relayFlags) error {
	host, port, err := relay.ParseServer(arg)
	if err != nil {
		return &usageError{err}
	}
	if app.Offline {
		return usageErrorf("relay talks to the server over the network; it cannot run with --offline")
	}
	if f.probeTimeout <= 0 {
		return usageErrorf("--probe-timeout must be positive")
	}
	opts := check.Options{Only: []string{"relay"}, Relay: true, RelayServer: true, SMTPPort: port,
		RelayHELO: f.helo, RelayAllVariants: f.allVariants, ProbeTimeout: f.probeTimeout}
	if f.helo != "" {
		if err := relay.ValidHELO(f.helo); err != nil {
			return usageErrorf("--helo: %v", err)
		}
	}
	if f.domain != "" {
		if opts.RelayLocalDomain, err = target.Domain(f.domain); err != nil {
			return usageErrorf("--domain: %v", err)
		}
	}
	if f.external != "" {
		ext, err := target.Domain(f.external)
		if err != nil {
			return usageErrorf("--external: %v", err)
		}
		if _, err := relay.ChooseExternal(ext, opts.RelayLocalDomain); err != nil {
			return usageErrorf("--external: %v", err)
		}
		opts.External = ext
	}
	if app.Trace {
		opts.SMTPTrace = func(dir, line string) {
			fmt.Fprintf(app.IO.Err, "smtp %s %s\n", dir, sanitize.Line(line))
		}
	}
	t, err := target.Parse(host)
	if err != nil {
		return &usageError{err}
	}
	rep, err := app.runSelection(ctx, t, opts)
	if err != nil {
		return err
	}
	cr := resultOf(rep, "relay")
	data, _ := cr.Data.(map[string]any)
	hosts, _ := data["hosts"].([]*relay.Result)
	if len(hosts) == 0 {
		// Nothing to probe (a name without an address): what was typed
		// is not a server.
		return usageErrorf("%s", cr.Summary)
	}
	out := relayJSON{Result: hosts[0], Status: cr.Status, Findings: cr.Findings}
	if out.Findings == nil {
		out.Findings = []findings.Finding{}
	}
	text := func(w io.Writer) error { writeRelayText(w, &out, app.Color(), app.Verbose); return nil }
	return app.finishDocument(out, text, rep, cr.Status)
}

// relayJSON is docs/contracts.md's relay contract ({"host","verdict","attempts"}
// and the attempts' fields come from relay.Result) plus status and
// findings.
type relayJSON struct {
	*relay.Result
	Status   findings.Status    `json:"status"`
	Findings []findings.Finding `json:"findings"`
}

func writeRelayText(w io.Writer, o *relayJSON, color, verbose bool) {
	r := o.Result
	verdict := strings.ToUpper(string(r.Verdict))
	if r.Verdict == relay.VerdictOpen {
		verdict = "OPEN RELAY"
	}
	n := 0
	for _, a := range r.Attempts {
		if a.Kind != relay.KindControl {
			n++
		}
	}
	plural := "s"
	if n == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "relay %s  %s  · %d attempt%s · %d ms\n", sanitize.Line(r.Where()), report.Paint(color, o.Status, verdict), n, plural, r.DurationMS)
	if r.Banner != "" {
		fmt.Fprintf(w, "  greeting  %s\n", sanitize.Line(r.Banner))
	}
	if r.Greeting != "" {
		ext := ""
		if len(r.Extensions) > 0 {
			ext = " (" + strings.Join(r.Extensions, " ") + ")"
		}
		fmt.Fprintf(w, "  %-8s  %s accepted%s\n", strings.ToLower(r.Greeting), sanitize.Line(r.HELOName), sanitize.Line(ext))
	}
	if r.External != "" {
		fmt.Fprintf(w, "  foreign   %s · local domain %s\n", sanitize.Line(r.External), sanitize.Line(r.LocalDomain))
	}
	if len(r.Attempts) > 0 {
		fmt.Fprintln(w)
		rows := make([][]string, 0, len(r.Attempts))
		for _, a := range r.Attempts {
			id := a.Variant
			if a.Kind == relay.KindControl {
				id = "  control"
			}
			rcpt := a.RcptTo
			if rcpt == "" {
				rcpt = "(not sent)"
			}
			reply := a.Reply()
			if rs := []rune(reply); len(rs) > 70 && !verbose {
				reply = string(rs[:70]) + "…"
			}
			rows = append(rows, []string{id, a.MailFrom, rcpt, reply, string(a.Outcome)})
		}
		var tb strings.Builder
		if err := report.Table(&tb, []string{"VARIANT", "MAIL FROM", "RCPT TO", "REPLY", "RESULT"}, rows); err == nil {
			fmt.Fprint(w, tb.String())
		}
	}
	if len(r.Untested) > 0 {
		why := "the session ended early"
		if r.Verdict == relay.VerdictOpen {
			why = "stopped at the first relayed variant; --all-variants tries them all"
		}
		fmt.Fprintf(w, "  (%d variants not tried: %s)\n", len(r.Untested), why)
	}
	report.WriteFindingsText(w, o.Findings, color, verbose)
}
