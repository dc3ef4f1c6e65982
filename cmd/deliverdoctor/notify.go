package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/notify"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
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
}

func addMailFlags(fl *pflag.FlagSet, m *mailFlags) {
	fl.StringSliceVar(&m.to, "mail-to", nil, "mail the report to these `ADDRESSES` (comma-separated) after the run")
	fl.StringVar(&m.server, "smtp-server", "", "submission server `HOST:PORT` for --mail-to (e.g. smtp.example.com:587)")
	fl.StringVar(&m.tls, "smtp-tls", "starttls", "TLS for --smtp-server: starttls (required), tls (port 465) or none (local relay only)")
	fl.StringVar(&m.user, "smtp-user", "", "SMTP AUTH `USER`; the password comes from $"+passwordEnv+" or --smtp-password-file")
	fl.StringVar(&m.passwordFile, "smtp-password-file", "", "read the SMTP password from `FILE` (first line)")
	fl.StringVar(&m.from, "report-from", "", "sender `ADDRESS` of report mails (default: --smtp-user if it is an address, else deliverdoctor@HOSTNAME)")
	fl.StringVar(&m.state, "state", "", "remember this run's findings in `FILE` and report what changed since the last run")
	fl.BoolVar(&m.onlyOnChange, "only-on-change", false, "with --state: print and mail only when a finding appeared or disappeared (exit 1), else stay silent (exit 0)")
}

// notifier wires --state, --only-on-change and --mail-to around a run.
type notifier struct {
	app   *App
	flags *mailFlags
	mail  *notify.Config
}

func newNotifier(app *App, m *mailFlags) (*notifier, error) {
	n := &notifier{app: app, flags: m}
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
	cfg := &notify.Config{Server: m.server, TLS: m.tls, User: m.user, To: m.to, From: m.from, Timeout: 60 * time.Second}
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
		if strings.Contains(m.user, "@") {
			cfg.From = m.user
		} else {
			host, _ := os.Hostname()
			if host == "" {
				host = "localhost"
			}
			cfg.From = "deliverdoctor@" + host
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, &usageError{err}
	}
	n.mail = cfg
	return n, nil
}

func (n *notifier) quiet() bool { return n.flags.onlyOnChange }

// needsFindings says whether the run's reports must keep their findings
// after they are written: --state remembers them, --mail-to sends them.
func (n *notifier) needsFindings() bool { return n.flags.state != "" || n.mail != nil }

// diff compares reports with the state file and returns the changes and
// the updated state, which saveState writes once the changes have been
// delivered: if mailing them fails, the next run finds them again.
func (n *notifier) diff(reports []*report.Report) (*state.State, []state.Change, error) {
	if n.flags.state == "" {
		return nil, nil, nil
	}
	st, err := state.Load(n.flags.state)
	if err != nil {
		return nil, nil, &usageError{err}
	}
	return st, st.Update(reports, time.Now()), nil
}

func (n *notifier) saveState(st *state.State) error {
	if st == nil {
		return nil
	}
	if err := st.Save(n.flags.state); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}

func (n *notifier) send(ctx context.Context, reports []*report.Report, changes []state.Change) error {
	if n.mail == nil {
		return nil
	}
	msg, err := notify.Compose(n.mail, notify.Subject(reports, changes), reports, changes, time.Now())
	if err != nil {
		return err
	}
	if err := notify.Send(ctx, n.mail, msg); err != nil {
		if n.flags.state != "" {
			return fmt.Errorf("mailing the report: %w (the state file was not updated: the next run reports these changes again)", err)
		}
		return fmt.Errorf("mailing the report: %w", err)
	}
	return nil
}

// afterRun handles state and mail for a normal (not --only-on-change) run.
func (n *notifier) afterRun(ctx context.Context, reports []*report.Report) error {
	st, changes, err := n.diff(reports)
	if err != nil {
		return err
	}
	if err := n.send(ctx, reports, changes); err != nil {
		return err
	}
	return n.saveState(st)
}

// run is the --only-on-change mode: check silently, and only when a
// finding appeared or disappeared print the changes and the reports, mail
// them, and exit 1.
func (n *notifier) run(ctx context.Context, runner *check.Runner, targets []target.Target, jobs, bad int) error {
	reports, err := runBatch(ctx, n.app, runner, targets, jobs, true, true)
	if err != nil {
		return err
	}
	st, changes, err := n.diff(reports)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		if err := n.saveState(st); err != nil {
			return err
		}
		if bad > 0 {
			return &exitError{2}
		}
		return nil
	}
	w := n.app.IO.Out
	if n.app.Format == "text" {
		fmt.Fprintf(w, "%s\n", state.Summary(changes))
		for _, c := range changes {
			for _, it := range c.Appeared {
				fmt.Fprintf(w, "  + %s [%s] %s (%s)\n", c.Target, it.Severity, it.Title, it.ID)
			}
			for _, it := range c.Disappeared {
				fmt.Fprintf(w, "  - %s resolved: %s (%s)\n", c.Target, it.Title, it.ID)
			}
		}
		fmt.Fprintln(w)
	}
	var changed []*report.Report
	for _, r := range reports {
		for _, c := range changes {
			if c.Target == r.Target {
				changed = append(changed, r)
			}
		}
	}
	if err := report.Render(w, n.app.Format, changed, n.app.RenderOptions()); err != nil {
		return err
	}
	if err := n.send(ctx, changed, changes); err != nil {
		return err
	}
	if err := n.saveState(st); err != nil {
		return err
	}
	return &exitError{1}
}
