package main

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/batch"
	"github.com/deliverdoctor/deliverdoctor/internal/check"
)

type checkFlags struct {
	ip           string
	checks       []string
	probeTimeout time.Duration
	opts         check.Options

	input  string
	jobs   int
	shard  string
	output string
	resume bool
	mail   mailFlags

	selectorsFrom []string // DMARC report paths: their DKIM selectors are checked too
}

func newCheckCmd(app *App) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check [TARGET...]",
		Short: "Check a sending domain, IP or address: will its mail be accepted?",
		Long: `Check a sending domain or IP the way receivers do and report, for every problem,
the bounce codes it causes and what to change.

TARGET is a domain (IDNs are fine), an IPv4/IPv6 address (checks PTR and
blocklists), or an e-mail address (its domain is checked).

Status per check: pass, warn, fail, error (could not be determined, e.g. a DNS
timeout: never reported as "no record"), skip.
Many targets (arguments and/or --input FILE|-, one a line, # comments) are
checked -j at a time; jsonl, csv and text stream reports as they finish, and the
failing targets and a summary line end the run (on stderr for jsonl/csv/json).
--format json for a batch is one {"schema":"deliverdoctor.batch/v1","reports":[...],
"summary":{...}} object. --output FILE writes jsonl to FILE; --resume skips the
targets already complete there. --shard I/N splits a big list deterministically
across machines. SIGINT/SIGTERM: no new target, 2 s for those in flight, only
complete reports written, exit 130/143.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
2 usage or input error (also: an --input line was not a valid target and
nothing failed), 3 a check could not run and nothing failed, 130/143 stopped
by SIGINT/SIGTERM.`,
		Example: `  deliverdoctor check example.com
  deliverdoctor check bob@example.com --format json
  deliverdoctor check example.com --ip 192.0.2.25 --mail-from bounce@example.com
  deliverdoctor check example.com --selector s1 --selector s2
  deliverdoctor check example.com --checks spf,dmarc --fail-on warn
  deliverdoctor check example.com --zone example.com.zone --offline
  deliverdoctor check --input domains.txt -j 64 --format jsonl > results.jsonl
  deliverdoctor check --input domains.txt --shard "$JOB_COMPLETION_INDEX/8" --format jsonl
  deliverdoctor check --input domains.txt --output results.jsonl            # killed? add --resume
  deliverdoctor check example.com --state /var/lib/deliverdoctor/state.json --only-on-change \
      --mail-to admin@example.com --smtp-server smtp.example.com:587 --smtp-user reports`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, app, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.ip, "ip", "", "evaluate SPF and DMARC for mail sent from this `IP`")
	fl.StringVar(&f.opts.MailFrom, "mail-from", "", "envelope sender `ADDRESS` for SPF evaluation with --ip (default postmaster@DOMAIN)")
	fl.StringVar(&f.opts.HELO, "helo", "", "HELO/EHLO `NAME` for SPF evaluation with --ip")
	fl.StringArrayVar(&f.opts.Selectors, "selector", nil, "DKIM `SELECTOR` to check (repeatable; default: a built-in list of common ones)")
	fl.StringArrayVar(&f.opts.DKIMDomains, "dkim-domain", nil, "a DKIM d= `DOMAIN` that signs the mail, for DMARC alignment (repeatable)")
	fl.BoolVar(&f.opts.SMTP, "smtp", false, "also connect to each MX on port 25: banner, EHLO, STARTTLS, certificate (never sends DATA)")
	fl.BoolVar(&f.opts.Relay, "relay", false, "also probe each MX for open relay (never sends DATA)")
	fl.IntVar(&f.opts.SMTPPort, "smtp-port", 25, "TCP `PORT` the --smtp and --relay probes connect to")
	fl.StringVar(&f.opts.External, "external", "", "foreign `DOMAIN` the relay probe tries to relay to (default: an RFC 2606 reserved name)")
	fl.StringArrayVar(&f.opts.DNSBL, "dnsbl", nil, "blocklist `ZONE` to query (repeatable; replaces the built-in lists)")
	fl.StringVar(&f.opts.Lists, "lists", "major", "which built-in blocklists: major or all")
	fl.StringVar(&f.opts.Profile, "profile", "", "judge against a receiver's bulk-sender rules: gmail, yahoo, microsoft or bulk")
	fl.StringSliceVar(&f.checks, "checks", nil, "run only these checks (comma-separated): "+strings.Join(check.Selectable(), ", "))
	fl.DurationVar(&f.probeTimeout, "probe-timeout", 10*time.Second, "timeout for each step of SMTP and HTTPS probes")
	fl.StringVar(&f.input, "input", "", "read targets from `FILE` (one a line, # comments; - for stdin)")
	fl.IntVarP(&f.jobs, "jobs", "j", 64, "check this many targets at once (each waits on DNS most of the time)")
	fl.StringVar(&f.shard, "shard", "", "check only shard `I/N` of the targets (0 <= I < N), split by a hash of the name")
	fl.StringArrayVar(&f.selectorsFrom, "selectors-from", nil, "also check the DKIM selectors seen in these DMARC reports (`PATH`: files, mbox, Maildir, directory; repeatable)")
	fl.StringVar(&f.output, "output", "", "write the reports to `FILE` as jsonl (stdout gets the summary)")
	fl.BoolVar(&f.resume, "resume", false, "with --output: skip the targets already complete in FILE and append the rest")
	addMailFlags(fl, &f.mail)
	return cmd
}

// resolveCheckOptions validates flags into check.Options.
func resolveCheckOptions(app *App, f *checkFlags) (check.Options, error) {
	o := f.opts
	if f.ip != "" {
		ip, err := parseSenderIP(f.ip)
		if err != nil {
			return o, err
		}
		o.SenderIP = ip
	}
	o.Only = f.checks
	if err := o.Validate(); err != nil {
		return o, &usageError{err}
	}
	o.ProbeTimeout = f.probeTimeout
	o.Offline = app.Offline
	return o, nil
}

func runCheck(cmd *cobra.Command, app *App, f *checkFlags, args []string) error {
	if len(args) == 0 && f.input == "" {
		return usageErrorf("give a target (domain, IP or e-mail address) or --input FILE")
	}
	if f.jobs < 1 {
		return usageErrorf("-j %d: want at least 1", f.jobs)
	}
	sh, err := batch.ParseShard(f.shard)
	if err != nil {
		return &usageError{err}
	}
	if f.resume && f.output == "" {
		return usageErrorf("--resume needs --output FILE (the reports of the run to resume)")
	}
	if f.output != "" && app.Format != "text" && app.Format != "jsonl" {
		return usageErrorf("--output writes jsonl to the file and the summary to stdout: --format %s does not apply", app.Format)
	}
	opts, err := resolveCheckOptions(app, f)
	if err != nil {
		return err
	}
	notifier, err := newNotifier(app, &f.mail)
	if err != nil {
		return err
	}
	if f.output != "" {
		if abs, err := filepath.Abs(f.output); err == nil {
			notifier.output = abs
		}
	}
	if err := notifier.open(); err != nil {
		return err
	}
	if len(f.selectorsFrom) > 0 {
		seen, err := selectorsFromReports(cmd.Context(), app, f.selectorsFrom, args)
		if err != nil {
			return err
		}
		opts.Selectors = append(opts.Selectors, seen...)
	}
	sum := batch.NewSummary(0)
	b := &batchRun{
		app:     app,
		multi:   f.input != "" || len(args) > 1 || f.output != "",
		silent:  notifier.quiet(),
		total:   len(args),
		observe: notifier.observe,
	}
	var done batch.Set
	if f.output != "" {
		if b.out, done, err = batch.OpenOutput(f.output, f.resume, sum, app.FailOnStatus()); err != nil {
			return &usageError{err}
		}
	}
	src, err := batch.NewSource(args, f.input, app.IO.In, sh, done, app.IO.Err)
	if err != nil {
		if b.out != nil {
			b.out.Close()
		}
		return &usageError{err}
	}
	defer src.Close()
	if f.input != "" {
		if n := batch.CountInput(f.input, sh); n >= 0 {
			b.total += n
		} else {
			b.total = -1
		}
	}
	res, err := app.Resolver()
	if err != nil {
		return err
	}
	runner := &check.Runner{Resolver: res, Options: opts, Deadline: app.Deadline, Stats: res.Stats}
	b.stats = res.Stats
	sum, err = runTargets(cmd.Context(), app, runner, src, f.jobs, b, sum)
	if err != nil {
		return err
	}
	if sum.Interrupted {
		// The run's exit code is the signal's (run maps it); changes are
		// neither mailed nor saved, so the next full run finds them.
		return nil
	}
	if src.Empty(len(args)) {
		return usageErrorf("%s has no targets (only blank lines and comments): nothing was checked", inputName(f.input))
	}
	if notifier.quiet() {
		// --only-on-change: stay silent unless something changed.
		return notifier.afterQuiet(cmd.Context(), sum.Bad)
	}
	if err := notifier.afterRun(cmd.Context()); err != nil {
		return err
	}
	code := sum.ExitCode()
	if sum.Bad > 0 && code != 1 {
		code = 2
	}
	if code != 0 {
		return &exitError{code}
	}
	return nil
}

func inputName(input string) string {
	if input == "-" {
		return "--input - (stdin)"
	}
	return "--input " + input
}
