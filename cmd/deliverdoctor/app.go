package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/promexp"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// IO is the command's streams, fake in tests.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	OutTTY   bool // stdout is a terminal
	ErrTTY   bool // stderr is a terminal
	Env      func(string) string
}

func newStdIO() *IO {
	return &IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Env:    os.Getenv,
	}
}

// App holds the global flags and builds what commands share: the resolver
// and the renderers. Commands get it from their constructor.
type App struct {
	IO *IO

	Resolvers  []string
	ResolverCA string // PEM file of CAs for tls:// and https:// resolvers
	Zones      []string
	Offline    bool
	Trace      bool
	Timeout    time.Duration // per DNS packet
	Deadline   time.Duration // per target
	Format     string
	FailOn     string
	NoColor    bool
	Verbose    bool

	once   sync.Once
	client *dnsx.Client
	err    error
	// zoneStore is exposed for commands that want to know the origins.
	zoneStore *zone.Store
}

// command is a subcommand's name and its constructor: run builds only the
// command a command line names, not all of them with their flags at every
// start (a test checks each constructor builds the command named).
type command struct {
	name  string
	build func(*App) *cobra.Command
}

// commands is every subcommand, listed in one place.
var commands = []command{
	{"check", newCheckCmd},
	{"mx", newMXCmd}, {"ptr", newPTRCmd}, {"spf", newSPFCmd}, {"dkim", newDKIMCmd},
	{"dmarc", newDMARCCmd}, {"rbl", newRBLCmd}, {"mta-sts", newMTASTSCmd},
	{"relay", newRelayCmd}, {"address", newAddressCmd},
	{"headers", newHeadersCmd}, {"explain", newExplainCmd}, {"bounces", newBouncesCmd},
	{"reports", newReportsCmd}, {"receive", newReceiveCmd}, {"serve", newServeCmd},
}

// rootFor is the root command for args: with only the subcommand args[0]
// names when it names one; with every command otherwise (the root's
// help, help and completion, a flag first, a misspelt command to suggest
// the right one for).
func rootFor(app *App, args []string) *cobra.Command {
	if len(args) > 0 {
		for i, c := range commands {
			if args[0] == c.name {
				return newRoot(app, commands[i:i+1])
			}
		}
	}
	return newRoot(app, commands)
}

// exitError carries an exit code without a message (findings were already
// rendered).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is bad input: exit 2 with a one-line message.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

func run(args []string, stdio *IO) int {
	if stdio.Env == nil {
		stdio.Env = func(string) string { return "" }
	}
	registerFormats()
	app := &App{IO: stdio}
	root := rootFor(app, args)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	ctx, caught, stop := notifySignals()
	defer stop()
	err := root.ExecuteContext(ctx)
	if sig := caught(); sig != 0 {
		// SIGINT/SIGTERM: the command stopped early (a batch wrote only
		// complete reports and its summary); the exit code says so.
		return 128 + sig
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stdio.Err, "deliverdoctor: %s\n", oneLine(withCommandSuggestion(err.Error())))
		return 2
	}
	fmt.Fprintf(stdio.Err, "deliverdoctor: %s\n", oneLine(err.Error()))
	return 3
}

// notifySignals returns a context that ends on the first SIGINT or SIGTERM,
// and the number of the signal caught (0: none). A second signal ends the
// process at once, and so does a command that has not returned 10 s after
// the first (one that does not watch its context must still stop).
func notifySignals() (context.Context, func() int, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var got atomic.Int32
	quit := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			n := int32(s.(syscall.Signal))
			got.Store(n)
			cancel()
			select {
			case <-ch:
				os.Exit(128 + int(n))
			case <-time.After(10 * time.Second):
				os.Exit(128 + int(n))
			case <-quit:
			}
		case <-quit:
		}
	}()
	return ctx, func() int { return int(got.Load()) }, func() {
		signal.Stop(ch)
		close(quit)
		cancel()
	}
}

func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag", "if any flags in the group"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func newRootCmd(app *App) *cobra.Command { return newRoot(app, commands) }

// newRoot is the root command with the subcommands cmds build.
func newRoot(app *App, cmds []command) *cobra.Command {
	root := &cobra.Command{
		Use:   "deliverdoctor",
		Short: "Will my mail be accepted? Checks a sending domain or IP and explains bounces",
		Long: `deliverdoctor checks a sending domain or IP the way receiving mail servers do
(MX, SPF, DKIM, DMARC and alignment, blocklists, open relay) and ties every
failure to the bounce codes it causes. Given a bounce, it explains it and points
back at the checks.`,
		Example: `  deliverdoctor check example.com
  deliverdoctor check example.com --format json
  deliverdoctor check example.com --zone example.com.zone --offline   # before publishing
  deliverdoctor check 192.0.2.25                                      # a sending IP`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetVersionTemplate("deliverdoctor {{.Version}}\n")
	root.SetFlagErrorFunc(flagError) // a usage error, with "did you mean --x?"
	pf := root.PersistentFlags()
	pf.StringArrayVar(&app.Resolvers, "resolver", nil, "DNS `resolver` to ask: HOST[:PORT], HOST#PORT, tls://HOST[:853] (DNS over TLS) or https://HOST/dns-query (DNS over HTTPS); repeatable, healthy ones first (default: /etc/resolv.conf)")
	pf.StringVar(&app.ResolverCA, "resolver-ca", "", "trust the CA certificates in this PEM `FILE` for tls:// and https:// resolvers")
	pf.StringArrayVar(&app.Zones, "zone", nil, "lay this RFC 1035 zone `FILE` over the live DNS (repeatable): the names and types it holds replace live answers; with --offline the files are the whole DNS")
	pf.BoolVar(&app.Offline, "offline", false, "send no network traffic: names outside --zone files are NXDOMAIN and checks needing them are skipped")
	pf.BoolVar(&app.Trace, "trace", false, "print every DNS question to stderr: server, name, type, rcode, answers, ms")
	pf.DurationVar(&app.Timeout, "timeout", 2*time.Second, "wait for one DNS question to one server, retransmissions included (asked up to 3 times, then the answer is 'error')")
	pf.DurationVar(&app.Deadline, "deadline", 60*time.Second, "overall time limit per target")
	pf.StringVarP(&app.Format, "format", "o", "text", "output `format`: "+strings.Join(report.Formats(), ", "))
	pf.StringVar(&app.FailOn, "fail-on", "fail", "exit 1 when a check is at or above this `level`: warn or fail")
	pf.BoolVar(&app.NoColor, "no-color", false, "no colour in text output (also: NO_COLOR environment variable)")
	pf.BoolVarP(&app.Verbose, "verbose", "v", false, "show informational findings too")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if app.FailOn != "warn" && app.FailOn != "fail" {
			return usageErrorf("--fail-on %q: want warn or fail", app.FailOn)
		}
		if !contains(report.Formats(), app.Format) {
			return usageErrorf("--format %q: want one of %s", app.Format, strings.Join(report.Formats(), ", "))
		}
		if fs := commandFormats(cmd); !contains(fs, app.Format) {
			return usageErrorf("%s: --format %s is not supported (%s)", cmd.Name(), app.Format, strings.Join(fs, ", "))
		}
		if app.Timeout <= 0 || app.Deadline <= 0 {
			return usageErrorf("--timeout and --deadline must be positive")
		}
		return app.checkResolverFlags()
	}
	for _, c := range cmds {
		root.AddCommand(c.build(app))
	}
	registerCompletions(root) // flag values: --format, --checks, --profile, ...
	return root
}

// formatsAnnotation declares the --format values a command supports, comma
// separated; a command without it supports every report format. The root
// checks it before the command runs, so an unsupported format is a usage
// error (exit 2) for every command alike.
const formatsAnnotation = "deliverdoctor.formats"

// withFormats declares the formats cmd supports.
func withFormats(cmd *cobra.Command, formats ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[formatsAnnotation] = strings.Join(formats, ",")
	return cmd
}

// commandFormats is the formats cmd supports.
func commandFormats(cmd *cobra.Command) []string {
	if f, ok := cmd.Annotations[formatsAnnotation]; ok {
		return strings.Split(f, ",")
	}
	return report.Formats()
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// checkResolverFlags refuses malformed --resolver and --resolver-ca values
// before any work (exit 2).
func (a *App) checkResolverFlags() error {
	for _, r := range a.Resolvers {
		if _, err := dnsx.NormalizeServer(r); err != nil {
			return &usageError{err}
		}
	}
	if a.ResolverCA != "" {
		if _, err := loadCAs(a.ResolverCA); err != nil {
			return &usageError{err}
		}
	}
	return nil
}

// loadCAs reads PEM certificates for --resolver-ca.
func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--resolver-ca: %s", oneLine(err.Error()))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--resolver-ca %s: no PEM certificate in the file", path)
	}
	return pool, nil
}

// Resolver returns the run's resolver (one per process, so one cache).
func (a *App) Resolver() (*dnsx.Client, error) {
	a.once.Do(func() {
		cfg := dnsx.Config{Servers: a.Resolvers, Offline: a.Offline, Timeout: a.Timeout}
		if a.ResolverCA != "" {
			pool, err := loadCAs(a.ResolverCA)
			if err != nil {
				a.err = &usageError{err}
				return
			}
			cfg.RootCAs = pool
		}
		if len(a.Zones) > 0 {
			st := zone.NewStore(false)
			for _, f := range a.Zones {
				if err := st.LoadFile(f); err != nil {
					a.err = &usageError{fmt.Errorf("--zone %s: %s", f, oneLine(err.Error()))}
					return
				}
			}
			cfg.Zones = st
			a.zoneStore = st
		}
		if a.Trace {
			cfg.Trace = a.IO.Err
		}
		c, err := dnsx.New(cfg)
		if err != nil {
			a.err = &usageError{err}
			return
		}
		a.client = c
	})
	return a.client, a.err
}

// Color reports whether text output may use ANSI colour.
func (a *App) Color() bool {
	return a.IO.OutTTY && !a.NoColor && a.IO.Env("NO_COLOR") == "" && a.IO.Env("TERM") != "dumb"
}

// RenderOptions for the global flags.
func (a *App) RenderOptions() report.Options {
	o := report.Options{Color: a.Color(), Verbose: a.Verbose}
	if a.IO.OutTTY { // wrap prose at word boundaries, not mid-word at the edge
		o.Width = 80
		if n, err := strconv.Atoi(a.IO.Env("COLUMNS")); err == nil && n >= 40 {
			o.Width = n
		}
	}
	return o
}

// FailOnStatus is --fail-on as a status.
func (a *App) FailOnStatus() findings.Status { return findings.Status(a.FailOn) }

// Finish renders reports and turns them into the exit code.
func (a *App) Finish(reports []*report.Report) error {
	if err := report.Render(a.IO.Out, a.Format, reports, a.RenderOptions()); err != nil {
		return err
	}
	if code := report.ExitCode(reports, a.FailOnStatus()); code != 0 {
		return &exitError{code}
	}
	return nil
}

// StatusExit maps a single status to the docs/contracts.md exit code, for commands
// whose output is not a Report (spf --ip, relay, ...).
func (a *App) StatusExit(st findings.Status) error {
	switch {
	case st == findings.StatusError:
		return &exitError{3}
	case st.Rank() >= a.FailOnStatus().Rank() && st.Rank() > findings.StatusPass.Rank():
		return &exitError{1}
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// registerFormats adds the report formats rendered outside internal/report
// (which cannot import them): explicit wiring instead of an init() side
// effect of an import.
var registerFormats = sync.OnceFunc(func() {
	report.Register("prometheus", promexp.Render)
})
