package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

func newPTRCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "ptr IP...",
		Short: "Check the reverse DNS of a sending IP: PTR, forward confirmation (FCrDNS), generic names",
		Long: `Check the reverse DNS of each sending IP (IPv4 or IPv6) the way receivers do
before they accept mail from it:

  - a PTR record exists (Gmail refuses mail from IPs without one: 4.7.23, then
    5.7.25; Microsoft 365 refuses IPv6 senders without one: 4.7.25/5.7.25);
  - one PTR name resolves back to the IP (forward-confirmed reverse DNS, the
    "iprev" check of RFC 8601 2.7.3): an A record for IPv4, AAAA for IPv6;
  - the name does not look generic (ISP-assigned, such as
    1-2-3-4.dyn.isp.example or pool-1-2-3-4...): many receivers treat such
    names as consumer or dynamic addresses.

The PTR record is published by whoever owns the IP (hosting or cloud
provider, ISP), not at your domain's DNS host. A DNS timeout or SERVFAIL is
reported as "error", never as a missing record. For a domain's MX hosts use
"deliverdoctor mx DOMAIN".`,
		Example: `  deliverdoctor ptr 192.0.2.25
  deliverdoctor ptr 2001:db8::25 --format json
  deliverdoctor ptr 192.0.2.25 --zone examples/2.0.192.in-addr.arpa.zone --zone examples/example.com.zone --offline`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ts []target.Target
			for _, a := range args {
				t, err := target.Parse(a)
				if err != nil {
					return &usageError{err}
				}
				if t.Kind != target.KindIP {
					return usageErrorf("%q is not an IP address; for a domain's mail hosts use `deliverdoctor mx %s`", a, t.Name)
				}
				ts = append(ts, t)
			}
			opts := check.Options{Offline: app.Offline, Only: []string{"ptr"}}
			var reps []*report.Report
			for _, t := range ts {
				rep, err := app.runSelection(cmd.Context(), t, opts)
				if err != nil {
					return err
				}
				reps = append(reps, rep)
			}
			return finishReports(app, reps, func(w io.Writer) error { return writePTRText(w, reps) })
		},
	}
}

func writePTRText(w io.Writer, reps []*report.Report) error {
	var rows [][]string
	for _, rep := range reps {
		pc := checkData[*mx.PTRCheck](rep, "ptr")
		if pc == nil {
			continue
		}
		for _, p := range pc.Addresses {
			if len(p.Names) == 0 {
				ptr, _ := ptrCells(p)
				rows = append(rows, []string{p.IP.String(), ptr, "", "", ""})
				continue
			}
			for i, n := range p.Names {
				ip := p.IP.String()
				if i > 0 {
					ip = ""
				}
				fwd := strings.ToUpper(n.Status)
				if n.Status == mx.PTROK {
					var as []string
					for _, a := range n.Addrs {
						as = append(as, a.String())
					}
					fwd = strings.Join(as, " ")
				}
				fc := "no"
				if n.Confirmed {
					fc = "yes"
				} else if n.Status == mx.PTROffline || n.Status == mx.PTRError {
					fc = "?"
				}
				generic := ""
				if n.Generic != "" {
					generic = "generic"
				}
				rows = append(rows, []string{ip, n.Name, fwd, fc, generic})
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, "Reverse DNS:")
	return report.Table(w, []string{"IP", "PTR", "FORWARD", "CONFIRMED", "NOTE"}, sanitizeRows(rows))
}

func sanitizeRows(rows [][]string) [][]string {
	for _, r := range rows {
		for i := range r {
			r[i] = sanitize.Line(r[i])
		}
	}
	return rows
}
