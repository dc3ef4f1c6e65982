package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// probeFlags are the SMTP probe flags shared by mx and address.
type probeFlags struct {
	smtp    bool
	port    int
	timeout time.Duration
}

func (p *probeFlags) add(cmd *cobra.Command, what string) {
	fl := cmd.Flags()
	fl.BoolVar(&p.smtp, "smtp", false, what+" (never sends DATA; ends with RSET and QUIT)")
	fl.IntVar(&p.port, "smtp-port", smtpprobe.DefaultPort, "TCP `PORT` of the SMTP probe")
	fl.DurationVar(&p.timeout, "probe-timeout", 10*time.Second, "timeout for each step of the SMTP probe (connect, each reply, TLS handshake)")
}

func (p *probeFlags) validate() error {
	if p.port < 1 || p.port > 65535 {
		return usageErrorf("--smtp-port %d: want 1-65535", p.port)
	}
	if p.timeout <= 0 {
		return usageErrorf("--probe-timeout must be positive")
	}
	return nil
}

func newMXCmd(app *App) *cobra.Command {
	var pf probeFlags
	cmd := &cobra.Command{
		Use:   "mx DOMAIN",
		Short: "Show where a domain receives mail: MX hosts, addresses, reverse DNS, and (--smtp) what they say on port 25",
		Long: `Analyse the MX records of DOMAIN the way senders and receivers use them:
NXDOMAIN versus no MX (the implicit MX of RFC 5321 5.1 via A/AAAA), null MX
(RFC 7505, alone or wrongly mixed with other MX), MX targets that are CNAMEs,
IP addresses, invalid or non-existent names, hosts that resolve only to
private, loopback or reserved addresses, equal preferences and MX names that
share one server; then the reverse DNS (PTR and forward-confirmed reverse
DNS) of every MX host address: MX hosts often send mail too.

With --smtp each MX host is probed on port 25 (--smtp-port): greeting
(banner), EHLO and its extensions, STARTTLS with protocol version, cipher and
certificate (chain to the system roots, name match, expiry: warn under 14
days, fail when expired). The probe says RSET and QUIT and never sends DATA.
Many networks block outgoing port 25: a probe that cannot connect reports
"error" (could not be determined), not a failure. --offline stops DNS
queries outside the --zone files but not a probe you asked for.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
2 usage error, 3 something could not be determined and nothing failed.`,
		Example: `  deliverdoctor mx example.com
  deliverdoctor mx example.com --smtp
  deliverdoctor mx example.com --smtp --format json
  deliverdoctor mx example.com --zone examples/example.com.zone --zone examples/2.0.192.in-addr.arpa.zone --offline
  deliverdoctor mx test.example --zone test.zone --offline --smtp --smtp-port 2525`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pf.validate(); err != nil {
				return err
			}
			t, err := target.Parse(args[0])
			if err != nil {
				return &usageError{err}
			}
			if t.Kind != target.KindDomain {
				return usageErrorf("%q is an IP address; for its reverse DNS use `deliverdoctor ptr %s`", args[0], t.Name)
			}
			only := []string{"mx", "ptr"}
			if pf.smtp {
				only = append(only, "smtp")
			}
			opts := check.Options{SMTP: pf.smtp, SMTPPort: pf.port, ProbeTimeout: pf.timeout, Offline: app.Offline, Only: only}
			rep, err := app.runSelection(cmd.Context(), t, opts)
			if err != nil {
				return err
			}
			return finishReports(app, []*report.Report{rep}, func(w io.Writer) error { return writeMXText(w, rep, app.Verbose) })
		},
	}
	pf.add(cmd, "also connect to each MX host: banner, EHLO, STARTTLS, certificate")
	return cmd
}

// finishReports renders reports, with a command-specific view above each
// in text format, and turns them into the exit code.
func finishReports(app *App, reps []*report.Report, table func(io.Writer) error) error {
	if app.Format != "text" || table == nil {
		return app.Finish(reps)
	}
	if err := table(app.IO.Out); err != nil {
		return err
	}
	fmt.Fprintln(app.IO.Out)
	return app.Finish(reps)
}

func checkData[T any](rep *report.Report, name string) T {
	var zero T
	for _, c := range rep.Checks {
		if c.Name == name {
			if d, ok := c.Data.(T); ok {
				return d
			}
		}
	}
	return zero
}

// writeMXText is the people's view: one row per MX host address with its
// reverse DNS, then what each host said on port 25.
func writeMXText(w io.Writer, rep *report.Report, verbose bool) error {
	an := checkData[*mx.Result](rep, "mx")
	if an == nil {
		return nil
	}
	ptrs := map[netip.Addr]*mx.PTRResult{}
	if pc := checkData[*mx.PTRCheck](rep, "ptr"); pc != nil {
		for _, p := range pc.Addresses {
			ptrs[p.IP] = p
		}
	}
	switch {
	case an.Offline():
		fmt.Fprintf(w, "%s: not checked (--offline and not in any --zone file)\n", an.Domain)
		return nil
	case !an.Exists && an.Err == nil:
		fmt.Fprintf(w, "%s does not exist (NXDOMAIN).\n", an.Domain)
		return nil
	case an.NullMX:
		fmt.Fprintf(w, "%s publishes a null MX (RFC 7505): it accepts no mail.\n", an.Domain)
		return nil
	case len(an.Hosts) == 0:
		fmt.Fprintf(w, "%s has no mail host.\n", an.Domain)
		return nil
	}
	title := "MX hosts of " + an.Domain
	if an.Implicit {
		title = an.Domain + " has no MX records; mail goes to its own addresses (implicit MX)"
	}
	fmt.Fprintln(w, sanitize.Line(title)+":")
	var rows [][]string
	for _, h := range an.Hosts {
		pref := fmt.Sprint(h.Preference)
		if an.Implicit {
			pref = "-"
		}
		name := h.Name
		if h.CNAME != "" {
			name += " (CNAME → " + h.CNAME + ")"
		}
		if len(h.Addrs) == 0 {
			status := strings.ToUpper(h.Status)
			if h.Error != "" {
				status += ": " + h.Error
			}
			rows = append(rows, []string{pref, name, status, "", ""})
			continue
		}
		for i, a := range h.Addrs {
			if i > 0 {
				pref, name = "", ""
			}
			addr := a.String()
			if why := mx.Reserved(a); why != "" {
				addr += " (" + why + ")"
			}
			ptr, fc := ptrCells(ptrs[a.Unmap()])
			rows = append(rows, []string{pref, name, addr, ptr, fc})
		}
	}
	if err := report.Table(w, []string{"PREF", "HOST", "ADDRESS", "PTR", "FCrDNS"}, rows); err != nil {
		return err
	}
	if sr := checkData[*mx.SMTPResult](rep, "smtp"); sr != nil && len(sr.Hosts) > 0 {
		fmt.Fprintf(w, "\nSMTP on port %d:\n", sr.Port)
		for i := range sr.Hosts {
			writeProbe(w, &sr.Hosts[i], verbose)
		}
	}
	return nil
}

func ptrCells(p *mx.PTRResult) (string, string) {
	if p == nil {
		return "", ""
	}
	switch p.Status {
	case mx.PTROK:
		var names []string
		for _, n := range p.Names {
			names = append(names, n.Name)
		}
		fc := "no"
		if p.FCrDNS {
			fc = "yes"
		} else {
			for _, n := range p.Names {
				if n.Status == mx.PTROffline || n.Status == mx.PTRError {
					fc = "not checked"
					if n.Status == mx.PTRError {
						fc = "DNS error"
					}
				}
			}
		}
		return strings.Join(names, ", "), fc
	case mx.PTRNXDomain, mx.PTRNoData:
		return "none", "no"
	case mx.PTROffline:
		return "not checked (offline)", ""
	case mx.PTRUnroutable:
		return "not checked (" + mx.Reserved(p.IP) + ")", ""
	default:
		return "DNS error", ""
	}
}

// writeProbe prints what one MX host said.
func writeProbe(w io.Writer, h *mx.SMTPHost, verbose bool) {
	for _, p := range h.Probes {
		at := fmt.Sprintf("%s [%s]:%d", h.Name, p.Addr, p.Port)
		if !p.Connected || p.Greeting == nil {
			fmt.Fprintf(w, "  %s  %s\n", sanitize.Line(at), sanitize.Line(p.Error))
			continue
		}
		fmt.Fprintf(w, "  %s\n", sanitize.Line(at))
		for i, l := range p.Greeting.Lines {
			label := "banner:  "
			if i > 0 {
				label = "         "
			}
			fmt.Fprintf(w, "    %s%d %s\n", label, p.Greeting.Code, sanitize.Line(l))
		}
		if p.EHLO != nil {
			verb := "EHLO"
			if p.HELOFallback {
				verb = "HELO"
			}
			fmt.Fprintf(w, "    %s:    %d %s\n", verb, p.EHLO.Code, sanitize.Line(p.EHLO.Lines[0]))
			if len(p.Extensions) > 0 {
				fmt.Fprintf(w, "    extensions: %s\n", sanitize.Line(strings.Join(p.Extensions, ", ")))
			}
		}
		switch {
		case p.TLS != nil:
			ti := p.TLS
			fmt.Fprintf(w, "    STARTTLS: %s, %s\n", ti.Version, ti.Cipher)
			if len(ti.Chain) > 0 {
				c := ti.Chain[0]
				trust := "trusted"
				if !ti.Trusted {
					trust = "NOT trusted: " + ti.TrustError
				}
				name := "name ok"
				if !ti.NameMatch {
					name = "name MISMATCH"
				}
				fmt.Fprintf(w, "    certificate: %s (%s), %s, %s, expires %s (%d days)\n", sanitize.Line(c.Subject),
					sanitize.Line(strings.Join(c.DNSNames, " ")), sanitize.Line(trust), name, c.NotAfter.Format("2006-01-02"), ti.DaysLeft)
				if verbose {
					for _, cc := range ti.Chain {
						fmt.Fprintf(w, "      %s ← %s  sha256 %s\n", sanitize.Line(cc.Subject), sanitize.Line(cc.Issuer), cc.SHA256)
					}
				}
			}
		case p.TLSError != "":
			fmt.Fprintf(w, "    STARTTLS: failed: %s\n", sanitize.Line(p.TLSError))
		case p.StartTLSOffered:
			fmt.Fprintln(w, "    STARTTLS: offered (not tried)")
		default:
			fmt.Fprintln(w, "    STARTTLS: not offered")
		}
		if p.Failure != "" {
			fmt.Fprintf(w, "    stopped: %s\n", sanitize.Line(p.Error))
		}
		if verbose {
			for _, s := range p.Steps {
				fmt.Fprintf(w, "      %s  %dms\n", sanitize.Line(stepLine(s)), s.DurationMS)
			}
		}
	}
}

// stepLine is a probe step as the -v transcript shows it: the step's
// String without the colon after its name ("ehlo > EHLO ... < 250 ...").
func stepLine(s smtpprobe.Step) string {
	return s.Name + strings.TrimPrefix(s.String(), s.Name+":")
}
