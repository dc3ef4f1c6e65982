package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// explainSchema names the JSON output of the explain command.
const explainSchema = "deliverdoctor.explain/v1"

type explainFlags struct {
	provider string
	check    bool
	domain   string
	smtp     bool
	relay    bool
	list     string
}

func newExplainCmd(app *App) *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain CODE|FILE|-",
		Short: "Explain a bounce: a status code, a pasted SMTP reply or a bounce message",
		Long: `Explain a bounce: what it means in plain words, whether it is a hard bounce
(suppress the address) or not, which of the 16 bounce categories it falls in and
what to do, the likely causes, and the deliverdoctor checks that diagnose it.

The argument is an enhanced status code (5.7.26), a provider code (TSS04, an
Amazon SES type like Permanent/Suppressed), an SMTP reply as a server sent it
("550 5.7.26 Unauthenticated email ..."; quote it, or give it as several
arguments), a file holding a bounce message (an RFC 3464 DSN or the prose
bounce of Postfix, Exim, qmail, Exchange, Gmail, ...; an Amazon SES JSON
notification), or - for standard input.

For a bounce it also says where the failure happened: an SMTP reject (the
receiving server refused the message while your server was talking to it)
or a bounce sent after the message was accepted (which is backscatter if you
never sent it) - and so who has to act.

With --check it runs the linked checks on the sender's domain and shows the
evidence next to the code: "5.7.26 - and indeed: SPF needs 14 DNS lookups".
The domain is --domain, else the one the reply names ("sending domain X does
not pass DMARC", "SPF [X] with ip: [IP]"), else the bounce's: the envelope
sender (Return-Path) for an SPF cause, the DKIM d= for a DKIM cause, From:
otherwise. A reply naming an IP and a blocklist ("Client host [IP] blocked
using LIST") has that IP looked up on that list. Checks that concern the
recipient's domain (5.1.2, 5.4.4) run on that domain.

Exit codes: 0 explained; with --check 1 when a check fails (at or above
--fail-on) and 3 when one could not run; 2 for input that is not a code, a
reply or a bounce.`,
		Example: `  deliverdoctor explain 5.7.26
  deliverdoctor explain 5.7.27 --provider gmail        # Gmail's meaning differs from RFC 7505's
  deliverdoctor explain "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification"
  deliverdoctor explain 421 4.7.0 [TSS04] Messages temporarily deferred
  deliverdoctor explain bounce.eml
  deliverdoctor explain bounce.eml --check              # and run spf, dkim, dmarc ... on the sender's domain
  deliverdoctor explain 5.7.26 --check --domain example.com --format json
  deliverdoctor explain "554 5.7.1 Client host [192.0.2.10] blocked using zen.spamhaus.org" --check --domain example.com
  pbpaste | deliverdoctor explain -
  deliverdoctor explain --list spf                      # every code the spf check explains`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.list != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.list != "" {
				return runExplainList(app, f.list)
			}
			return runExplain(cmd.Context(), app, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.provider, "provider", "", "read the code as this `PROVIDER` uses it: gmail, microsoft, yahoo, icloud or ses (default: from the bounce, else the registry meaning)")
	fl.BoolVar(&f.check, "check", false, "run the linked checks on the sender's domain and show the evidence")
	fl.StringVar(&f.domain, "domain", "", "sender `DOMAIN` for --check (default: the bounce's sender)")
	fl.BoolVar(&f.smtp, "smtp", false, "with --check: also probe the MX hosts over SMTP (never sends DATA)")
	fl.BoolVar(&f.relay, "relay", false, "with --check: also run the open-relay probe when a linked check is relay")
	fl.StringVar(&f.list, "list", "", "list the codes the knowledge base links to `CHECK` (spf, dmarc, ...), or \"all\" codes, or \"categories\"")
	return cmd
}

// explainOutput is the JSON contract of explain (docs/contracts.md: code, meaning,
// hard, category, action, checks); the rest is added detail.
type explainOutput struct {
	Schema              string                   `json:"schema"`
	Input               string                   `json:"input"`
	Kind                string                   `json:"kind"`
	Code                string                   `json:"code"`
	Meaning             string                   `json:"meaning"`
	Hard                bool                     `json:"hard"`
	Category            string                   `json:"category"`
	Action              string                   `json:"action"`
	Checks              []string                 `json:"checks"`
	ReplyCode           int                      `json:"reply_code,omitempty"`
	Provider            string                   `json:"provider,omitempty"`
	ProviderCode        string                   `json:"provider_code,omitempty"`
	Title               string                   `json:"title,omitempty"`
	Permanent           bool                     `json:"permanent"`
	Disposition         string                   `json:"disposition"`
	CategoryDescription string                   `json:"category_description"`
	SESType             string                   `json:"ses_type"`
	SESSubtype          string                   `json:"ses_subtype"`
	Causes              []string                 `json:"causes,omitempty"`
	CheckDomain         string                   `json:"check_domain"`
	KBCode              string                   `json:"kb_code,omitempty"`
	Exact               bool                     `json:"exact"`
	Source              string                   `json:"source,omitempty"`
	Also                []bounce.ProviderMeaning `json:"also,omitempty"`
	ClassifiedBy        string                   `json:"classified_by,omitempty"`
	Diagnostic          string                   `json:"diagnostic,omitempty"`
	SMTPReject          *bool                    `json:"smtp_reject,omitempty"`
	Origin              string                   `json:"origin,omitempty"`
	OriginExplained     string                   `json:"origin_explained,omitempty"`
	Sender              string                   `json:"sender,omitempty"`
	SenderDomain        string                   `json:"sender_domain,omitempty"`
	SenderIP            string                   `json:"sender_ip,omitempty"`
	NotBounce           string                   `json:"not_bounce,omitempty"`
	MTA                 string                   `json:"mta,omitempty"`
	Recipients          []bounceRecord           `json:"recipients,omitempty"`
	Notes               []string                 `json:"notes,omitempty"`
	Evidence            *explainEvidence         `json:"evidence,omitempty"`
}

// explainEvidence is what --check found.
type explainEvidence struct {
	Domain string   `json:"domain"`
	Ran    []string `json:"checks_run"`
	// Confirmed are findings whose bounce codes include this code: the
	// check explains the bounce.
	Confirmed []findings.Finding `json:"confirmed"`
	Summary   string             `json:"summary"`
	Report    *report.Report     `json:"report,omitempty"`
	// RecipientReport holds the checks that concern the recipient's domain.
	RecipientReport *report.Report `json:"recipient_report,omitempty"`
	// IPReport holds the rbl check on the IP the reply names.
	IPReport *report.Report `json:"ip_report,omitempty"`
	Notes    []string       `json:"notes,omitempty"`
}

func runExplain(ctx context.Context, app *App, f *explainFlags, args []string) error {
	switch app.Format {
	case "text", "json", "jsonl", "markdown":
	default:
		return usageErrorf("explain: --format %s is not supported (text, json, jsonl or markdown)", app.Format)
	}
	if f.provider != "" && !contains([]string{"gmail", "google", "microsoft", "outlook", "office365", "yahoo", "aol", "icloud", "apple", "ses", "amazonses"}, strings.ToLower(f.provider)) {
		return usageErrorf("--provider %q: want gmail, microsoft, yahoo, icloud or ses", f.provider)
	}
	// One message, explained once: its whole heap is a few MB (most of
	// it the bounce matcher built at first use), so a collection at the
	// runtime's 4 MB starting goal only costs time (~230 page faults).
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	input := strings.Join(args, " ")
	out, b, err := explainInput(app, f, args)
	if err != nil {
		return err
	}
	out.Input = clipInput(input)
	var status findings.Status
	if f.check {
		ev, st, err := gatherEvidence(ctx, app, f, out, b)
		if err != nil {
			return err
		}
		out.Evidence, status = ev, st
	}
	if err := writeExplain(app, out); err != nil {
		return err
	}
	if f.check {
		return app.StatusExit(status)
	}
	return nil
}

func clipInput(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// explainInput reads the argument as a file, stdin, a code or a reply.
func explainInput(app *App, f *explainFlags, args []string) (*explainOutput, *bounce.Bounce, error) {
	arg := args[0]
	if len(args) == 1 && arg == "-" {
		b, err := bounce.ParseLimit(app.IO.In, bounce.DefaultMaxSize)
		if err != nil {
			return nil, nil, usageErrorf("stdin: %v", err)
		}
		return fromBounce(f, b, "stdin")
	}
	if len(args) == 1 {
		st, err := os.Stat(arg)
		switch {
		case err == nil && st.IsDir():
			return nil, nil, usageErrorf("%s is a directory; use deliverdoctor bounces for many messages", arg)
		case err == nil && !st.Mode().IsRegular():
			// A FIFO would block the read, a device (/dev/zero) never ends.
			return nil, nil, usageErrorf("%s is not a regular file (%s); save the bounce to a file, or pipe it to explain -", arg, fileKind(st.Mode()))
		case err != nil && errors.Is(err, syscall.ELOOP):
			return nil, nil, usageErrorf("%s: a loop of symbolic links", arg)
		case err != nil && errors.Is(err, fs.ErrPermission):
			return nil, nil, usageErrorf("%s: permission denied", arg)
		}
		if err == nil && st.Mode().IsRegular() {
			fh, err := os.Open(arg)
			if err != nil {
				return nil, nil, usageErrorf("%s: %v", arg, unwrapPathErr(err))
			}
			defer fh.Close()
			b, err := bounce.ParseLimit(fh, bounce.DefaultMaxSize)
			if err != nil {
				return nil, nil, usageErrorf("%s: %v", arg, err)
			}
			return fromBounce(f, b, arg)
		}
		// A bare code: the knowledge base's entry, no reply around it.
		if e, ok := bounce.Lookup(arg, f.provider); ok && !strings.ContainsAny(strings.TrimSpace(arg), " \t") {
			if _, err := bounce.ParseReply(arg); err != nil || !strings.Contains(arg, " ") {
				return fromEntry(e), nil, nil
			}
		}
	}
	text := strings.Join(args, " ")
	if b := bounce.ParseReplyBounce(text); b != nil {
		return fromBounce(f, b, "")
	}
	if len(args) == 1 && (strings.ContainsAny(arg, "/\\") || strings.HasSuffix(strings.ToLower(arg), ".eml")) {
		return nil, nil, usageErrorf("%s: no such file", arg)
	}
	return nil, nil, usageErrorf("%q is not a status code (5.7.26), an SMTP reply (550 5.7.26 ...) or a bounce file", clipInput(text))
}

// fileKind names a non-regular file's type for a message.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a file"
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fromEntry explains a bare code.
func fromEntry(e *bounce.Entry) *explainOutput {
	cat, _ := bounce.CategoryBySlug(e.Category)
	return &explainOutput{
		Schema: explainSchema, Kind: "code", Code: e.Code, Meaning: e.Meaning, Hard: e.Hard, Category: e.Category,
		Action: e.Action, Checks: e.Checks, Provider: e.Provider, Title: e.Title, Permanent: e.Permanent,
		Disposition: e.Disposition, CategoryDescription: cat.Description, SESType: e.SESType, SESSubtype: e.SESSubtype,
		Causes: e.Causes, CheckDomain: e.CheckDomain, KBCode: e.KBCode, Exact: e.Exact, Source: e.Source, Also: e.Also,
		ClassifiedBy: "code",
	}
}

// fromBounce explains a parsed bounce by its first failed recipient; every
// recipient is listed.
func fromBounce(f *explainFlags, b *bounce.Bounce, file string) (*explainOutput, *bounce.Bounce, error) {
	if b.Kind == bounce.KindUnknown {
		what := "no bounce data found (no delivery-status part, no failed recipient, no SMTP reply)"
		if file != "" {
			return nil, nil, usageErrorf("%s: %s", file, what)
		}
		return nil, nil, usageErrorf("%s", what)
	}
	out := &explainOutput{Schema: explainSchema, Kind: b.Kind, Checks: []string{}, NotBounce: b.NotBounce, MTA: b.MTA,
		Sender: b.Sender, SenderDomain: b.SenderDomain, SenderIP: b.SenderIP, Notes: b.Notes}
	for i := range b.Failures {
		out.Recipients = append(out.Recipients, newBounceRecord(file, b, &b.Failures[i]))
	}
	primary := b.Primary()
	if primary == nil {
		return out, b, nil
	}
	// --provider overrides what the bounce says about the receiver.
	if f.provider != "" && primary.Status != "" {
		if e, ok := bounce.Lookup(primary.Status, f.provider); ok && e.Provider != "" && primary.Entry != nil && primary.By != "text" {
			primary.Entry, primary.Meaning, primary.Checks = e, e.Meaning, e.Checks
		}
	}
	cat, _ := bounce.CategoryBySlug(primary.Category)
	out.Code, out.ReplyCode, out.Provider, out.ProviderCode = primary.Status, primary.ReplyCode, primary.Provider, primary.ProviderCode
	out.Meaning, out.Hard, out.Category, out.Action, out.Checks = primary.Meaning, primary.Hard, primary.Category, primary.Action, primary.Checks
	out.Permanent, out.Disposition, out.CategoryDescription = primary.Permanent, primary.Disposition, cat.Description
	out.SESType, out.SESSubtype, out.CheckDomain, out.ClassifiedBy = primary.SESType, primary.SESSubtype, primary.CheckDomain, primary.By
	out.Diagnostic, out.Origin = primary.Diagnostic, primary.Origin
	if primary.Origin != "" {
		r := primary.SMTPReject()
		out.SMTPReject = &r
	}
	out.OriginExplained = bounce.OriginText(primary.Origin)
	if e := primary.Entry; e != nil {
		out.Title, out.Causes, out.KBCode, out.Exact, out.Source, out.Also = e.Title, e.Causes, e.KBCode, e.Exact, e.Source, e.Also
		if out.Code == "" {
			out.Exact = false
		}
	}
	// The reply's words decided over its code ("5.2.1 ... User unknown"):
	// title the code as what it is, and say why the verdict differs.
	if primary.By == "text" && primary.Status != "" {
		if ce, ok := bounce.Lookup(primary.Status, primary.Provider); ok {
			out.Title, out.KBCode, out.Also = ce.Title, ce.KBCode, ce.Also
			if ce.Category != primary.Category {
				out.Notes = append(out.Notes, fmt.Sprintf("classified by the receiver's text, not the code: %s alone would mean %q (%s)", primary.Status, ce.Title, ce.Category))
			}
		}
	}
	return out, b, nil
}

// gatherEvidence runs the linked checks (--check) on what the reply and
// the bounce name: the sending domain a receiver judged ("sending domain X
// does not pass DMARC"), else the bounce's From, Return-Path or DKIM d=;
// the IP and blocklist a reply names ("Client host [IP] blocked using
// LIST") for the rbl check.
func gatherEvidence(ctx context.Context, app *App, f *explainFlags, out *explainOutput, b *bounce.Bounce) (*explainEvidence, findings.Status, error) {
	text := out.Diagnostic
	if text == "" {
		text = out.Input
	}
	named := bounce.NamedInReply(text)
	domain, whence := senderDomainFor(f.domain, named, out, b)
	if domain == "" {
		return nil, "", usageErrorf("explain --check needs the sender's domain: give --domain, or a reply or bounce that names it")
	}
	t, err := target.Parse(domain)
	if err != nil {
		return nil, "", &usageError{err}
	}
	res, err := app.Resolver()
	if err != nil {
		return nil, "", err
	}
	ev := &explainEvidence{Domain: t.Name, Ran: []string{}, Confirmed: []findings.Finding{}}
	if whence != "" {
		ev.Notes = append(ev.Notes, "sender's domain "+t.Name+" "+whence)
	}
	registered := check.Names()
	var senderChecks, recipientChecks []string
	for _, c := range out.Checks {
		if !slices.Contains(registered, c) {
			ev.Notes = append(ev.Notes, fmt.Sprintf("the %s check is not available in this build", c))
			continue
		}
		if out.CheckDomain == "recipient" {
			recipientChecks = append(recipientChecks, c)
		} else {
			senderChecks = append(senderChecks, c)
		}
	}
	opts := check.Options{Offline: app.Offline, ProbeTimeout: 10 * time.Second, Lists: "major", SMTP: f.smtp, Relay: f.relay}
	var namedIP netip.Addr
	if ip, err := netip.ParseAddr(named.IP); err == nil {
		namedIP = ip
	} else if b != nil {
		namedIP, _ = netip.ParseAddr(b.SenderIP)
	}
	if namedIP.IsValid() {
		opts.SenderIP = namedIP
		ev.Notes = append(ev.Notes, "sending IP "+namedIP.String()+" taken from the receiver's reply")
	}
	if named.List != "" && slices.Contains(senderChecks, "rbl") {
		opts.DNSBL = []string{named.List}
		ev.Notes = append(ev.Notes, "blocklist "+named.List+" named in the reply")
	}
	if b != nil {
		if b.MailFrom != "" && strings.EqualFold(domainOf(b.MailFrom), t.Name) {
			opts.MailFrom = b.MailFrom
		}
		for _, d := range b.DKIM {
			opts.DKIMDomains = append(opts.DKIMDomains, d.Domain)
			if strings.EqualFold(d.Domain, t.Name) {
				opts.Selectors = append(opts.Selectors, d.Selector)
			}
		}
	}
	if slices.Contains(senderChecks, "relay") && !f.relay {
		ev.Notes = append(ev.Notes, "the open-relay probe was not run (add --relay)")
	}
	status := findings.StatusPass
	run := func(tg target.Target, checks []string) *report.Report {
		o := opts
		o.Only = checks
		runner := &check.Runner{Resolver: res, Options: o, Deadline: app.Deadline, Stats: res.Stats}
		rep := runner.Run(ctx, tg)
		status = findings.Worst(status, rep.Status)
		for _, c := range rep.Checks {
			ev.Ran = append(ev.Ran, c.Name)
		}
		for _, fd := range rep.Findings {
			if confirms(fd, out.Code) {
				ev.Confirmed = append(ev.Confirmed, fd)
			}
		}
		return rep
	}
	// The reply names the IP it refused: the blocklists are asked about
	// that address, not about the domain's MX and SPF addresses.
	if namedIP.IsValid() && slices.Contains(senderChecks, "rbl") {
		if it, err := target.Parse(namedIP.String()); err == nil {
			ev.IPReport = run(it, []string{"rbl"})
			senderChecks = slices.DeleteFunc(senderChecks, func(c string) bool { return c == "rbl" })
		}
	}
	if len(senderChecks) > 0 {
		ev.Report = run(t, senderChecks)
	}
	if len(recipientChecks) > 0 && len(out.Recipients) > 0 {
		if rt, err := target.Parse(domainOf(out.Recipients[0].Recipient)); err == nil {
			ev.RecipientReport = run(rt, recipientChecks)
		}
	} else if len(recipientChecks) > 0 {
		ev.Notes = append(ev.Notes, "the linked checks ("+strings.Join(recipientChecks, ", ")+") concern the recipient's domain, which a bare code does not name")
	}
	switch {
	case len(ev.Ran) == 0:
		ev.Summary = "no linked check was run"
		if len(out.Checks) == 0 {
			ev.Summary = "no deliverdoctor check diagnoses this code: the cause is on the recipient's side or in the message"
		}
		status = findings.StatusSkip
	case len(ev.Confirmed) > 0:
		ev.Summary = fmt.Sprintf("%s - and indeed: %s", codeOr(out), ev.Confirmed[0].Title)
	default:
		ev.Summary = fmt.Sprintf("the linked checks found nothing on %s that explains %s: the cause may be the sending IP, the message, or mail sent from another domain", t.Name, codeOr(out))
	}
	return ev, status, nil
}

// senderDomainFor picks the domain the sender-side checks examine and says
// where it came from: --domain; the domain the reply names (the one the
// receiver judged); else the bounce's sending domains - the envelope
// sender's for a cause only SPF explains, the signer's for one only DKIM
// explains, the author's (From:) otherwise, then whichever is known.
func senderDomainFor(flag string, named bounce.Named, out *explainOutput, b *bounce.Bounce) (domain, whence string) {
	if flag != "" {
		return flag, ""
	}
	if named.Domain != "" {
		return named.Domain, "named in the reply"
	}
	if b == nil {
		return "", ""
	}
	sds := b.SendingDomains()
	if len(sds) == 0 {
		return "", ""
	}
	want := "From"
	switch {
	case slices.Equal(out.Checks, []string{"spf"}):
		want = "Return-Path"
	case slices.Equal(out.Checks, []string{"dkim"}):
		want = "DKIM d="
	}
	for _, sd := range sds {
		if sd.From == want {
			return sd.Domain, "from the bounce's " + sd.From
		}
	}
	return sds[0].Domain, "from the bounce's " + sds[0].From
}

func codeOr(out *explainOutput) string {
	if out.Code != "" {
		return out.Code
	}
	if out.ReplyCode != 0 {
		return fmt.Sprint(out.ReplyCode)
	}
	return "this bounce"
}

// confirms reports a warn or fail finding that names the bounce's code.
func confirms(f findings.Finding, code string) bool {
	if f.Severity != findings.SeverityFail && f.Severity != findings.SeverityWarn {
		return false
	}
	return bounce.ConfirmsCode(f.BounceCodes, code)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(strings.Trim(addr[i+1:], "> "))
	}
	return ""
}

func writeExplain(app *App, out *explainOutput) error {
	w := app.IO.Out
	switch app.Format {
	case "json":
		return report.WriteJSON(w, out)
	case "jsonl":
		return report.WriteJSONLine(w, out)
	case "markdown":
		return writeExplainMarkdown(w, out)
	}
	return writeExplainText(w, out, app.RenderOptions())
}

func writeExplainText(w io.Writer, out *explainOutput, opts report.Options) error {
	c := opts.Color
	l := sanitize.Line
	if out.NotBounce != "" && out.Code == "" && out.ReplyCode == 0 {
		fmt.Fprintf(w, "Not a bounce: %s\n", l(out.NotBounce))
		return nil
	}
	head := out.headline()
	title := strings.TrimSpace(strings.TrimPrefix(out.Title, head))
	if !out.Exact && out.KBCode != "" && out.ClassifiedBy == "code" {
		title = "unknown detail; " + out.KBCode + ": " + title
	}
	fmt.Fprintf(w, "%s  %s\n", report.Paint(c, verdictStatus(out), l(head)), l(title))
	if out.Kind != "code" {
		fmt.Fprintf(w, "  input:     %s", l(out.Kind))
		if out.MTA != "" {
			fmt.Fprintf(w, " (written by %s)", l(out.MTA))
		}
		if out.SenderDomain != "" {
			fmt.Fprintf(w, ", sender %s", l(out.SenderDomain))
		}
		fmt.Fprintln(w)
	}
	if out.Diagnostic != "" {
		fmt.Fprintf(w, "  reply:     %s\n", l(clipInput(out.Diagnostic)))
	}
	if out.Provider != "" {
		fmt.Fprintf(w, "  provider:  %s\n", l(out.Provider))
	}
	fmt.Fprintf(w, "  meaning:   %s\n", l(out.Meaning))
	fmt.Fprintf(w, "  verdict:   %s\n", verdictText(out))
	fmt.Fprintf(w, "  category:  %s - %s\n", out.Category, l(out.CategoryDescription))
	fmt.Fprintf(w, "  action:    %s\n", l(out.Action))
	for i, cause := range out.Causes {
		label := "            "
		if i == 0 {
			label = "  causes:   "
		}
		fmt.Fprintf(w, "%s - %s\n", label, l(cause))
	}
	if len(out.Checks) > 0 {
		whose := "your domain"
		if out.CheckDomain == "recipient" {
			whose = "the recipient's domain"
		}
		fmt.Fprintf(w, "  checks:    %s (on %s)\n", strings.Join(out.Checks, ", "), whose)
		if out.Evidence == nil {
			d := "DOMAIN"
			if out.SenderDomain != "" && out.CheckDomain != "recipient" {
				d = out.SenderDomain
			}
			fmt.Fprintf(w, "             run them: deliverdoctor check %s --checks %s\n", l(d), strings.Join(out.Checks, ","))
		}
	} else {
		fmt.Fprintf(w, "  checks:    none - nothing in your DNS or servers causes this\n")
	}
	if out.Origin != "" || out.Kind != "code" {
		fmt.Fprintf(w, "  where:     %s\n", l(out.OriginExplained))
	}
	for _, a := range out.Also {
		fmt.Fprintf(w, "  also:      %s uses %s for: %s\n", l(a.Provider), l(out.Code), l(a.Title))
	}
	if out.Source != "" {
		fmt.Fprintf(w, "  source:    %s\n", l(out.Source))
	}
	if len(out.Recipients) > 1 {
		fmt.Fprintf(w, "\n%d recipients:\n", len(out.Recipients))
		if err := bounceTable(w, out.Recipients, false); err != nil {
			return err
		}
	} else if len(out.Recipients) == 1 && out.Recipients[0].Recipient != "" {
		fmt.Fprintf(w, "  recipient: %s\n", l(out.Recipients[0].Recipient))
	}
	for _, n := range out.Notes {
		fmt.Fprintf(w, "  note:      %s\n", l(n))
	}
	if ev := out.Evidence; ev != nil {
		fmt.Fprintf(w, "\nEvidence for %s (%s):\n", l(ev.Domain), strings.Join(ev.Ran, ", "))
		fmt.Fprintf(w, "  %s\n", l(ev.Summary))
		for _, fd := range ev.Confirmed[min(1, len(ev.Confirmed)):] {
			fmt.Fprintf(w, "  also: %s [%s]\n", l(fd.Title), fd.ID)
		}
		for _, n := range ev.Notes {
			fmt.Fprintf(w, "  note: %s\n", l(n))
		}
		for _, rep := range []*report.Report{ev.IPReport, ev.Report, ev.RecipientReport} {
			if rep != nil {
				fmt.Fprintln(w)
				if err := report.TextReport(w, rep, opts); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func verdictStatus(out *explainOutput) findings.Status {
	switch {
	case out.Hard:
		return findings.StatusFail
	case out.Disposition == bounce.DispositionFix:
		return findings.StatusWarn
	}
	return findings.StatusSkip
}

func verdictText(out *explainOutput) string {
	var s string
	switch {
	case out.Hard:
		s = "hard bounce - the address is undeliverable: suppress it"
	case out.Permanent && out.Disposition == bounce.DispositionFix:
		s = "permanent, but not a hard bounce - the address is fine: fix your setup, then resend"
	case out.Permanent:
		s = "permanent for this message, soft for the address - retry later"
	case out.Disposition == bounce.DispositionFix:
		s = "temporary (soft) - the receiver defers your mail: fix your setup; it will be retried"
	default:
		s = "temporary (soft) - it will be retried; nothing to suppress"
	}
	if out.SESType != "" {
		s += " (SES: " + out.SESType + "/" + out.SESSubtype + ")"
	}
	return s
}

func writeExplainMarkdown(w io.Writer, out *explainOutput) error {
	md := report.MarkdownEscape
	head := out.Code
	if head == "" {
		head = "bounce"
	}
	fmt.Fprintf(w, "## %s — %s\n\n", md(head), md(out.Title))
	if out.NotBounce != "" {
		fmt.Fprintf(w, "Not a bounce: %s\n\n", md(out.NotBounce))
	}
	rows := [][2]string{{"Meaning", out.Meaning}, {"Verdict", verdictText(out)}, {"Category", out.Category + " — " + out.CategoryDescription},
		{"Action", out.Action}, {"Checks", strings.Join(out.Checks, ", ")}, {"Reply", out.Diagnostic}, {"Where", out.OriginExplained}, {"Source", out.Source}}
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "|---|---|")
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(w, "| %s | %s |\n", r[0], md(r[1]))
		}
	}
	if len(out.Causes) > 0 {
		fmt.Fprintln(w, "\n**Likely causes**")
		for _, c := range out.Causes {
			fmt.Fprintf(w, "- %s\n", md(c))
		}
	}
	if len(out.Recipients) > 1 {
		fmt.Fprintln(w)
		writeBounceMarkdownTable(w, out.Recipients)
	}
	if ev := out.Evidence; ev != nil {
		fmt.Fprintf(w, "\n### Evidence for %s\n\n%s\n", md(ev.Domain), md(ev.Summary))
		for _, rep := range []*report.Report{ev.IPReport, ev.Report, ev.RecipientReport} {
			if rep != nil {
				fmt.Fprintln(w)
				report.MarkdownReport(w, rep, report.Options{})
			}
		}
	}
	return nil
}

// runExplainList prints the knowledge base: the codes linked to a check,
// every code, or the categories.
func runExplainList(app *App, what string) error {
	w := app.IO.Out
	if what == "categories" {
		cats := bounce.Categories()
		if app.Format == "json" || app.Format == "jsonl" {
			return report.WriteJSON(w, cats)
		}
		var rows [][]string
		for _, c := range cats {
			hard := ""
			if c.Hard {
				hard = "hard"
			}
			rows = append(rows, []string{c.Slug, c.Disposition, hard, c.Description})
		}
		return report.Table(w, []string{"CATEGORY", "DISPOSITION", "", "DESCRIPTION"}, rows)
	}
	var entries []*bounce.Entry
	if what == "all" {
		entries = bounce.Entries()
	} else {
		if !slices.Contains(bounce.CheckNames, what) {
			return usageErrorf("--list %q: want a check name (%s), all or categories", what, strings.Join(bounce.CheckNames, ", "))
		}
		// Each code once, with the meaning (registry or provider) that
		// links it to the check.
		for _, code := range bounce.CodesForCheck(what) {
			for _, p := range []string{"", "google", "microsoft", "yahoo", "apple", "ses"} {
				if e, ok := bounce.Lookup(code, p); ok && e.Exact && slices.Contains(e.Checks, what) {
					entries = append(entries, e)
					break
				}
			}
		}
	}
	if app.Format == "json" || app.Format == "jsonl" {
		return report.WriteJSON(w, entries)
	}
	var rows [][]string
	for _, e := range entries {
		code := e.Code
		if what == "all" {
			code = e.KBCode
		}
		rows = append(rows, []string{code, e.Provider, e.Category, strings.Join(e.Checks, ","), e.Title})
	}
	return report.Table(w, []string{"CODE", "PROVIDER", "CATEGORY", "CHECKS", "TITLE"}, rows)
}

// headline names what is explained: reply code, enhanced code and the
// provider's own code ("550 5.7.26 [TSS09]"), for the text output and
// the web page alike.
func (out *explainOutput) headline() string {
	head := out.Code
	if out.ReplyCode != 0 {
		head = strings.TrimSpace(fmt.Sprintf("%d %s", out.ReplyCode, out.Code))
	}
	if out.ProviderCode != "" {
		head += " [" + out.ProviderCode + "]"
	}
	if head == "" {
		head = "bounce without a status code"
	}
	return head
}
