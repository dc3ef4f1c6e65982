package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/reports"
	"github.com/deliverdoctor/deliverdoctor/internal/serve"
)

type serveFlags struct {
	listen       string
	authToken    string
	tokenFile    string
	basicAuth    string
	allowProbes  bool
	allowPrivate bool
	rate         int
	inFlight     int
	maxUpload    int64
	probeTimeout time.Duration
	lists        string
	dnsbl        []string
	receive      string
}

func newServeCmd(app *App) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a web page, an HTTP API and Prometheus probes for the same checks",
		Long: `Serve deliverdoctor over HTTP: a web page for the support desk (check a
domain, explain a bounce, check a received message), an API that returns
exactly the JSON the CLI prints, /metrics for the server itself and a
blackbox_exporter-style /probe?target=DOMAIN for Prometheus.

  /check/DOMAIN?selector=s1         the check page (results stream in)
  /explain, /headers                paste or upload a bounce or a message
  /api/v1/check?target=DOMAIN       deliverdoctor.report/v1 (check --format json)
  /api/v1/explain  (POST or ?input=)  deliverdoctor.explain/v1 (explain --format json)
  /api/v1/headers  (POST a message)  deliverdoctor.report/v1 (headers --format json)
  /reports, /api/v1/reports (POST)  a DMARC or TLS report (reports --format json)
  /probe?target=DOMAIN&checks=spf,dmarc,rbl   gauges (check --format prometheus)
  /metrics                          the server's own metrics

It listens on loopback unless --listen says otherwise. The SMTP and relay
probes are off unless --allow-probes, and no probe or fetch ever connects to
a private, loopback, link-local or reserved address unless --allow-private.
Requests that run checks are rate-limited per client address; a global cap
bounds the checks running at once. SIGTERM or Ctrl-C stops it gracefully.

Global flags apply: --resolver, --zone, --offline, --timeout, --deadline.`,
		Example: `  deliverdoctor serve
  deliverdoctor serve --listen 0.0.0.0:8080 --auth-token-file /etc/deliverdoctor/token
  deliverdoctor serve --basic-auth support:s3cret --allow-probes
  deliverdoctor serve --zone example.com.zone --offline        # a demo without network
  deliverdoctor serve --receive 127.0.0.1:2525                 # also receive test mail: /api/v1/received
  curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/v1/check?target=example.com'
  curl 'http://127.0.0.1:8080/probe?target=example.com&checks=spf,dmarc,rbl'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), app, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "listen on `ADDR` (host:port)")
	fl.StringVar(&f.authToken, "auth-token", "", "require \"Authorization: Bearer `TOKEN`\" (or DELIVERDOCTOR_AUTH_TOKEN)")
	fl.StringVar(&f.tokenFile, "auth-token-file", "", "read the bearer token from `FILE` (keeps it out of the process list)")
	fl.StringVar(&f.basicAuth, "basic-auth", "", "require HTTP basic auth `USER:PASSWORD` (or DELIVERDOCTOR_BASIC_AUTH)")
	fl.BoolVar(&f.allowProbes, "allow-probes", false, "let requests run the SMTP and open-relay probes (smtp=1, relay=1)")
	fl.BoolVar(&f.allowPrivate, "allow-private", false, "let probes and fetches connect to private, loopback and reserved addresses")
	fl.IntVar(&f.rate, "rate", 30, "checks per minute per client address (burst 10; 0 or less: no limit)")
	fl.IntVar(&f.inFlight, "max-checks", 16, "checks running at once; more wait, up to 256")
	fl.Int64Var(&f.maxUpload, "max-upload", 10<<20, "largest request body in `BYTES`")
	fl.DurationVar(&f.probeTimeout, "probe-timeout", 10*time.Second, "timeout for each step of SMTP and HTTPS probes")
	fl.StringVar(&f.lists, "lists", "major", "which built-in blocklists: major or all")
	fl.StringArrayVar(&f.dnsbl, "dnsbl", nil, "blocklist `ZONE` to query (repeatable; replaces the built-in lists)")
	fl.StringVar(&f.receive, "receive", "", "also run `deliverdoctor receive` on `ADDR`; its reports are at /api/v1/received")
	return cmd
}

// serveConfig builds the server's configuration from the flags: the same
// resolver settings and check options the check command would use.
func serveConfig(app *App, f *serveFlags) (serve.Config, error) {
	cf := checkFlags{probeTimeout: f.probeTimeout}
	cf.opts.Lists, cf.opts.DNSBL, cf.opts.SMTPPort = f.lists, f.dnsbl, 25
	opts, err := resolveCheckOptions(app, &cf)
	if err != nil {
		return serve.Config{}, err
	}
	if _, err := app.Resolver(); err != nil { // loads and validates --zone once
		return serve.Config{}, err
	}
	zones := app.zoneStore
	newResolver := func(trace io.Writer) (*dnsx.Client, error) {
		cfg := dnsx.Config{Servers: app.Resolvers, Offline: app.Offline, Timeout: app.Timeout, Trace: trace}
		if zones != nil {
			cfg.Zones = zones
		}
		return dnsx.New(cfg)
	}
	cfg := serve.Config{
		NewResolver: newResolver, Options: opts, Deadline: app.Deadline,
		AllowProbes: f.allowProbes, AllowPrivate: f.allowPrivate,
		AuthToken: f.authToken, RatePerMinute: f.rate, MaxInFlight: f.inFlight, MaxUpload: f.maxUpload,
		Version: buildVersion(),
		Explain: func(ctx context.Context, text string, upload []byte) (any, *serve.ExplainView, error) {
			out, err := explainForServe(text, upload)
			if err != nil {
				return nil, nil, err
			}
			return out, explainView(out), nil
		},
		Headers: func(ctx context.Context, r dnsx.Resolver, msg []byte, name string) (*report.Report, error) {
			rep, _, err := analyzeHeaders(ctx, r, msg, name)
			return rep, err
		},
		Reports: func(ctx context.Context, r dnsx.Resolver, name string, data []byte) (*reports.Document, error) {
			return reportsForServe(ctx, app, r, opts.Lists, name, data)
		},
	}
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return cfg, usageErrorf("--auth-token-file: %v", unwrapPathErr(err))
		}
		cfg.AuthToken = strings.TrimSpace(string(b))
		if cfg.AuthToken == "" {
			return cfg, usageErrorf("--auth-token-file %s is empty", f.tokenFile)
		}
	}
	if cfg.AuthToken == "" {
		cfg.AuthToken = app.IO.Env("DELIVERDOCTOR_AUTH_TOKEN")
	}
	basic := f.basicAuth
	if basic == "" {
		basic = app.IO.Env("DELIVERDOCTOR_BASIC_AUTH")
	}
	if basic != "" {
		u, p, ok := strings.Cut(basic, ":")
		if !ok || u == "" || p == "" {
			return cfg, usageErrorf("--basic-auth: want USER:PASSWORD")
		}
		cfg.BasicUser, cfg.BasicPass = u, p
	}
	if f.rate <= 0 {
		cfg.RatePerMinute = -1
	}
	return cfg, nil
}

func runServe(ctx context.Context, app *App, f *serveFlags) error {
	cfg, err := serveConfig(app, f)
	if err != nil {
		return err
	}
	if f.receive != "" {
		stop, err := startReceiver(app, f.receive, &cfg)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv, err := serve.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageErrorf("--listen %s: %v", f.listen, err)
	}
	hs := srv.HTTPServer(f.listen)
	fmt.Fprintf(app.IO.Err, "deliverdoctor: serving on http://%s/\n", ln.Addr())
	// ctx ends on SIGTERM or SIGINT (run's handler; the exit code is then
	// 128+signal, as for every command).
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(app.IO.Err, "deliverdoctor: shutting down")
	// Stop accepting, give running requests a few seconds, then cancel
	// their checks.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		<-sctx.Done()
		srv.Shutdown()
	}()
	err = hs.Shutdown(sctx)
	srv.Shutdown()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		_ = hs.Close()
	}
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
		return e
	}
	return nil
}

// reportsForServe reads one uploaded report as `reports FILE` does
// (readReportDocument, reportsJoin) and returns its document. The upload is
// bounded by --max-upload; the default limits bound decompression.
func reportsForServe(ctx context.Context, app *App, r dnsx.Resolver, lists, name string, data []byte) (*reports.Document, error) {
	opts, err := reportsJoin(app, r, lists)
	if err != nil {
		return nil, err
	}
	src := func(emit func(dmarcreport.Input) error) error {
		return emit(dmarcreport.Input{Name: name, Data: data})
	}
	doc, err := readReportDocument(ctx, src, dmarcreport.DefaultLimits, opts, nil)
	if err != nil {
		return nil, err
	}
	if doc.Stats.Reports == 0 && len(doc.Errors) == 0 {
		return nil, fmt.Errorf("no DMARC or TLS report found")
	}
	return doc, nil
}

// explainForServe explains pasted text or an uploaded bounce the way
// `explain` does with an argument or standard input, without ever reading
// a file named by the text.
func explainForServe(text string, upload []byte) (*explainOutput, error) {
	f := &explainFlags{}
	var out *explainOutput
	var err error
	text = strings.TrimSpace(text)
	switch {
	case len(upload) > 0 || strings.Contains(text, "\n"):
		src := upload
		if len(src) == 0 {
			src = []byte(text)
		}
		b, perr := bounce.ParseLimit(strings.NewReader(string(src)), bounce.DefaultMaxSize)
		if perr != nil {
			return nil, perr
		}
		out, _, err = fromBounce(f, b, "")
	default:
		if e, ok := bounce.Lookup(text, ""); ok && !strings.ContainsAny(text, " \t") {
			out = fromEntry(e)
		} else if b := bounce.ParseReplyBounce(text); b != nil {
			out, _, err = fromBounce(f, b, "")
		} else {
			err = fmt.Errorf("%q is not a status code (5.7.26), an SMTP reply (550 5.7.26 ...) or a bounce message", clipInput(text))
		}
	}
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			err = ue.err
		}
		return nil, err
	}
	if len(upload) == 0 {
		out.Input = clipInput(text)
	}
	return out, nil
}

func explainView(out *explainOutput) *serve.ExplainView {
	v := &serve.ExplainView{Head: out.headline(), Title: out.Title, Meaning: out.Meaning, Verdict: verdictText(out),
		Category: out.Category, Action: out.Action, Diagnostic: out.Diagnostic, Where: out.OriginExplained,
		NotBounce: out.NotBounce, Checks: out.Checks, Causes: out.Causes, Notes: out.Notes, SenderDomain: out.SenderDomain}
	if out.CategoryDescription != "" {
		v.Category += " — " + out.CategoryDescription
	}
	for _, r := range out.Recipients {
		if r.Recipient == "" {
			continue // a bare reply names no recipient
		}
		v.Recipients = append(v.Recipients, serve.ExplainRecipient{Recipient: r.Recipient, Status: r.Status, Category: r.Category, Diagnostic: r.Diagnostic})
	}
	return v
}
