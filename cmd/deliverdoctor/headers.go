package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/headers"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

func newHeadersCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "headers MSG.eml|-",
		Short: "Check a received message like its receiver did: SPF, DKIM, DMARC then and now",
		Long: `Read a message as delivered (a .eml file, or - for standard input; up to 50 MB)
and show what its receiver recorded next to what deliverdoctor computes now:

  - Authentication-Results (RFC 8601) and Received-SPF (RFC 7208 9.1): the
    receiver's SPF, DKIM and DMARC results;
  - the Received chain: which hops are the receiver's own, and the border
    hop whose client is the last external sender (its IP is taken from
    Received-SPF client-ip, else the receiver's Authentication-Results,
    else the first Received hop from outside the receiver's organisation);
  - SPF evaluated again for that IP and the Return-Path (HELO for bounces);
  - every DKIM signature verified again;
  - DMARC alignment of the From domain with both (RFC 9989).

Every failure names the bounce codes it causes. A result that differs from
the receiver's usually means a record or key changed since delivery.`,
		Example: `  deliverdoctor headers message.eml
  pbpaste | deliverdoctor headers -
  deliverdoctor headers message.eml --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.runOnMessage(cmd, args[0], analyzeHeaders)
		},
	}
}

// analyzeHeaders is the headers command's analysis (serve's too).
func analyzeHeaders(ctx context.Context, r dnsx.Resolver, msg []byte, name string) (*report.Report, func(io.Writer) error, error) {
	a, err := headers.Analyze(ctx, r, msg)
	if err != nil {
		return nil, nil, err
	}
	rep := &report.Report{Target: name, Kind: "message", Checks: a.CheckResults()}
	if a.ClientIPSource != "" {
		rep.Notes = append(rep.Notes, fmt.Sprintf("client IP %s taken from %s", a.ClientIP, a.ClientIPSource))
	}
	return rep, func(w io.Writer) error { return writeHeadersOverview(w, a) }, nil
}

func writeHeadersOverview(w io.Writer, a *headers.Analysis) error {
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-12s %s\n", label, sanitize.Line(v))
		}
	}
	line("From:", a.From)
	rp := a.ReturnPath
	if a.NullSender {
		rp = "<> (null sender: SPF checks the HELO name)"
	}
	line("Return-Path:", rp)
	line("Receiver:", a.Receiver)
	if a.ClientIP != "" {
		line("Client:", fmt.Sprintf("%s HELO %s (from %s)", a.ClientIP, a.HELO, a.ClientIPSource))
	}
	if len(a.Received) > 0 {
		fmt.Fprintln(w)
		var rows [][]string
		for _, h := range a.Received {
			from := h.HELO
			if h.RDNS != "" && !strings.EqualFold(h.RDNS, h.HELO) {
				from += " (" + h.RDNS + ")"
			}
			rows = append(rows, []string{fmt.Sprint(h.Index), from, h.IP, h.By, h.Role})
		}
		if err := report.Table(w, []string{"HOP", "FROM", "IP", "BY", "ROLE"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	var rows [][]string
	seen := func(s *headers.Seen) string {
		if s == nil {
			return "-"
		}
		return strings.TrimSpace(s.Result + " " + s.Detail)
	}
	now := "-"
	if a.SPF != nil {
		now = fmt.Sprintf("%s %s", a.SPF.Result, a.SPF.Domain)
	}
	rows = append(rows, []string{"spf", seen(a.ReceiverSPF()), now})
	recv := a.ReceiverDKIM()
	for i, s := range a.DKIM.Signatures {
		r := "-"
		if i < len(recv) {
			r = seen(&recv[i])
		}
		rows = append(rows, []string{"dkim", r, fmt.Sprintf("%s d=%s s=%s", s.Result, s.Domain, s.Selector)})
	}
	for i := len(a.DKIM.Signatures); i < len(recv); i++ {
		rows = append(rows, []string{"dkim", seen(&recv[i]), "-"})
	}
	if len(a.DKIM.Signatures) == 0 && len(recv) == 0 {
		rows = append(rows, []string{"dkim", "-", "no signature"})
	}
	now = "-"
	if a.DMARC != nil && a.DMARC.Verdict != nil {
		now = fmt.Sprintf("%s %s", a.DMARC.Verdict.Result, a.FromDomain)
		if p := a.DMARC.Verdict.AppliedPolicy; p != "" {
			now += " p=" + string(p)
		}
	}
	rows = append(rows, []string{"dmarc", seen(a.ReceiverDMARC()), now})
	return report.Table(w, []string{"METHOD", "RECEIVER SAW", "NOW"}, rows)
}
