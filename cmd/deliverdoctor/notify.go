package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/deliverdoctor/deliverdoctor/internal/notify"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

// passwordEnv holds the SMTP password: never a flag, which would show in ps
// and shell history.
const passwordEnv = "DELIVERDOCTOR_SMTP_PASSWORD"

type mailFlags struct {
	to           []string
	server       string
	tls          string
	user         string
	passwordFile string
	from         string
	state        string
	onlyOnChange bool
	timeout      time.Duration
}

func addMailFlags(fl *pflag.FlagSet, m *mailFlags) {
	fl.StringSliceVar(&m.to, "mail-to", nil, "mail the report to these `ADDRESSES` (comma-separated) after the run")
	fl.StringVar(&m.server, "smtp-server", "", "submission server `HOST:PORT` for --mail-to (e.g. smtp.example.com:587)")
	fl.StringVar(&m.tls, "smtp-tls", "starttls", "TLS for --smtp-server: starttls (required), tls (port 465) or none (local relay only)")
	fl.StringVar(&m.user, "smtp-user", "", "SMTP AUTH `USER`; the password comes from $"+passwordEnv+" or --smtp-password-file")
	fl.StringVar(&m.passwordFile, "smtp-password-file", "", "read the SMTP password from `FILE` (first line)")
	fl.StringVar(&m.from, "report-from", "", "sender `ADDRESS` of report mails (default: --smtp-user if it is an address, else deliverdoctor@ the host's fully qualified name)")
	fl.DurationVar(&m.timeout, "smtp-timeout", notify.DefaultTimeout, "overall time limit for mailing the report: connect, TLS, every command and the data")
	fl.StringVar(&m.state, "state", "", "remember this run's findings in `FILE` and report what changed since the last run")
	fl.BoolVar(&m.onlyOnChange, "only-on-change", false, "with --state: print and mail only when a finding appeared or disappeared (exit 1), else stay silent (exit 0)")
}

// notifier wires --state, --only-on-change and --mail-to around a run. It
// sees each report as it finishes (observe) and keeps only what it needs:
// the state (one entry per target, the file's own size), the changes, and
// for --only-on-change the reports that changed.
type notifier struct {
	app   *App
	flags *mailFlags
	mail  *notify.Config

	output  string // --output, named in the mail
	file    *state.File
	st      *state.State
	now     time.Time
	changes []state.Change
	changed []*report.Report // --only-on-change: printed and mailed
	digest  *notify.Digest   // --mail-to: what the mail says, in bounded memory
}

func newNotifier(app *App, m *mailFlags) (*notifier, error) {
	n := &notifier{app: app, flags: m, now: time.Now()}
	if m.onlyOnChange && m.state == "" {
		return nil, usageErrorf("--only-on-change needs --state FILE to know what the last run found")
	}
	if len(m.to) == 0 {
		if m.server != "" || m.user != "" {
			return nil, usageErrorf("--smtp-server and --smtp-user need --mail-to")
		}
		return n, nil
	}
	if m.server == "" {
		return nil, usageErrorf("--mail-to needs --smtp-server HOST:PORT")
	}
	cfg := &notify.Config{Server: m.server, TLS: m.tls, User: m.user, To: m.to, From: m.from, Timeout: m.timeout}
	if m.passwordFile != "" {
		b, err := os.ReadFile(m.passwordFile)
		if err != nil {
			return nil, usageErrorf("--smtp-password-file: %v", err)
		}
		cfg.Password, _, _ = strings.Cut(strings.TrimRight(string(b), "\r\n"), "\n")
	} else {
		cfg.Password = app.IO.Env(passwordEnv)
	}
	if cfg.From == "" {
		from, err := defaultFrom(m.user)
		if err != nil {
			return nil, err
		}
		cfg.From = from
	}
	if err := cfg.Validate(); err != nil {
		return nil, &usageError{err}
	}
	n.mail = cfg
	n.digest = notify.NewDigest()
	return n, nil
}

// defaultFrom is the report mail's sender when --report-from is not given:
// the SMTP user if it is an address, else deliverdoctor@ the host's fully
// qualified name. Never an unqualified deliverdoctor@host, which receivers
// reject.
func defaultFrom(user string) (string, error) {
	if strings.Contains(user, "@") {
		return user, nil
	}
	host, _ := os.Hostname()
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !strings.Contains(host, ".") || strings.HasSuffix(host, ".localdomain") || strings.HasSuffix(host, ".local") {
		return "", usageErrorf("--mail-to: give --report-from ADDRESS (the host name %q is not a qualified domain, and --smtp-user is not an address)", host)
	}
	return "deliverdoctor@" + host, nil
}

func (n *notifier) quiet() bool { return n.flags.onlyOnChange }

// open reads and validates the state file before any DNS work, so a state
// problem stops the run before it costs anything.
func (n *notifier) open() error {
	if n.flags.state == "" {
		return nil
	}
	f, st, err := state.Open(n.flags.state)
	if err != nil {
		return usageErrorf("--state: %v", err)
	}
	n.file, n.st = f, st
	return nil
}

// observe takes one finished report.
func (n *notifier) observe(r *report.Report) {
	var ch []state.Change
	if n.st != nil {
		ch = n.st.Update([]*report.Report{r}, n.now)
		n.changes = append(n.changes, ch...)
	}
	switch {
	case n.quiet():
		if len(ch) > 0 {
			n.changed = append(n.changed, r)
		}
	case n.digest != nil:
		n.digest.Add(r)
	}
}

func (n *notifier) saveState() error {
	if n.st == nil {
		return nil
	}
	if err := n.file.Store(n.st); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}

func (n *notifier) send(ctx context.Context, d *notify.Digest, changes []state.Change) error {
	if n.mail == nil {
		return nil
	}
	d.OutputPath = n.output
	msg, err := notify.ComposeDigest(n.mail, d.Subject(changes), d, changes, time.Now())
	if err != nil {
		return err
	}
	return n.deliver(ctx, msg)
}

// deliver sends a composed report mail; its error says whether the state
// was kept back for the next run.
func (n *notifier) deliver(ctx context.Context, msg []byte) error {
	if err := notify.Send(ctx, n.mail, msg); err != nil {
		if n.flags.state != "" {
			return fmt.Errorf("mailing the report: %w (the state file was not updated: the next run reports these changes again)", err)
		}
		return fmt.Errorf("mailing the report: %w", err)
	}
	return nil
}

// afterRun mails and saves the state once a normal (not --only-on-change)
// run is over. The state is written only after the mail went out: if
// mailing fails, the next run finds the changes again.
func (n *notifier) afterRun(ctx context.Context) error {
	if err := n.send(ctx, n.digest, n.changes); err != nil {
		return err
	}
	return n.saveState()
}

// afterQuiet ends an --only-on-change run: when a finding appeared or
// disappeared print the changes and the changed reports, mail them, and
// exit 1; else stay silent.
func (n *notifier) afterQuiet(ctx context.Context, bad int) error {
	if len(n.changes) == 0 {
		if err := n.saveState(); err != nil {
			return err
		}
		if bad > 0 {
			return &exitError{2}
		}
		return nil
	}
	w := n.app.IO.Out
	if n.app.Format == "text" {
		n.printChanges()
	}
	if err := report.Render(w, n.app.Format, n.changed, n.app.RenderOptions()); err != nil {
		return err
	}
	d := notify.NewDigest()
	for _, r := range n.changed {
		d.Add(r)
	}
	if err := n.send(ctx, d, n.changes); err != nil {
		return err
	}
	if err := n.saveState(); err != nil {
		return err
	}
	return &exitError{1}
}

// sendBody mails a body a command rendered itself (reports), with the
// changes above it; see send.
func (n *notifier) sendBody(ctx context.Context, subject string, b notify.Body) error {
	if n.mail == nil {
		return nil
	}
	msg, err := notify.ComposeBody(n.mail, subject, b, n.changes, time.Now())
	if err != nil {
		return err
	}
	return n.deliver(ctx, msg)
}

// printChanges writes the changes, one finding a line, for a text run with
// --only-on-change.
func (n *notifier) printChanges() {
	w := n.app.IO.Out
	fmt.Fprintf(w, "%s\n", sanitize.Line(state.Summary(n.changes)))
	for _, c := range n.changes {
		for _, it := range c.Appeared {
			fmt.Fprintf(w, "  + %s [%s] %s (%s)\n", sanitize.Line(c.Target), it.Severity, sanitize.Line(it.Title), it.ID)
		}
		for _, it := range c.Disappeared {
			fmt.Fprintf(w, "  - %s resolved: %s (%s)\n", sanitize.Line(c.Target), sanitize.Line(it.Title), it.ID)
		}
	}
	fmt.Fprintln(w)
}
