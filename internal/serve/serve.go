// Package serve is deliverdoctor's web page and HTTP API: the same checks,
// findings and JSON contracts as the CLI, for people in a browser, helpdesk
// macros and Prometheus. Checks run through the one orchestrator
// (internal/check) and reports are the report package's; nothing here
// decides a verdict.
package serve

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/promexp"
	"github.com/deliverdoctor/deliverdoctor/internal/receive"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/reports"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

//go:embed assets
var assets embed.FS

// ExplainView is what the Explain page shows of an explain result (the
// explain command builds both it and the JSON document).
type ExplainView struct {
	Head, Title, Meaning, Verdict, Category, Action, Diagnostic, Where string
	NotBounce                                                          string
	Checks, Causes, Notes                                              []string
	// SenderDomain, when known, is linked to a check of it.
	SenderDomain string
	Recipients   []ExplainRecipient
}

// ExplainRecipient is one failed recipient of a bounce.
type ExplainRecipient struct{ Recipient, Status, Category, Diagnostic string }

// Config configures a Server.
type Config struct {
	// NewResolver builds the resolver for one request (its own cache, like
	// one CLI run), writing --trace lines to trace.
	NewResolver func(trace io.Writer) (*dnsx.Client, error)
	// Options are the check options every request starts from (the CLI's
	// defaults and serve's flags).
	Options check.Options
	// Deadline bounds one target's checks (default 60s).
	Deadline time.Duration
	// AllowProbes lets a request ask for the SMTP and relay probes.
	AllowProbes bool
	// AllowPrivate lets probes and fetches connect to private, loopback and
	// reserved addresses (tests, or a server inside a lab).
	AllowPrivate bool
	// AuthToken, when set, is accepted as "Authorization: Bearer TOKEN".
	AuthToken string
	// BasicUser/BasicPass, when set, are accepted as basic auth.
	BasicUser, BasicPass string
	// RatePerMinute and RateBurst limit requests that run checks per client
	// address (default 30 and 10; RatePerMinute < 0 turns the limit off).
	RatePerMinute, RateBurst int
	// MaxInFlight caps checks running at once (default 16); MaxQueue caps
	// requests waiting for one (default 256), beyond it 503.
	MaxInFlight, MaxQueue int
	// MaxUpload bounds a request body (default 10 MiB).
	MaxUpload int64
	// Explain explains a pasted reply or code (text) or an uploaded bounce
	// message (upload): the explain command's JSON document and its view.
	Explain func(ctx context.Context, text string, upload []byte) (doc any, view *ExplainView, err error)
	// Headers analyses a received message as the headers command does.
	Headers func(ctx context.Context, r dnsx.Resolver, msg []byte, name string) (*report.Report, error)
	// Reports reads uploaded DMARC aggregate, failure or SMTP TLS reports
	// (XML, gzip, zip or a message carrying one) as the reports command
	// does, joined with live DNS through r.
	Reports func(ctx context.Context, r dnsx.Resolver, name string, data []byte) (*reports.Document, error)
	// Received lists the reports of the receiver running beside the server
	// (serve --receive), oldest first; nil: /received and /api/v1/received
	// are 404.
	Received func() []*receive.Report
	// Version is shown in the page footer.
	Version string
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers (default 5s): a slow client cannot hold a connection.
	ReadHeaderTimeout time.Duration
}

// Server serves the pages, the API, /metrics and /probe.
type Server struct {
	cfg      Config
	limiter  *rateLimiter
	slots    chan struct{}
	waiting  chan struct{}
	registry *promexp.Registry
	mux      *http.ServeMux

	requests *promexp.CounterVec
	inFlight *promexp.GaugeValue
	checkDur *promexp.HistogramValue
	limited  *promexp.CounterVec

	// ctx is cancelled by Shutdown: running checks end promptly.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.NewResolver == nil {
		return nil, errors.New("serve: no resolver")
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 60 * time.Second
	}
	if cfg.RatePerMinute == 0 {
		cfg.RatePerMinute = 30
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 10
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 16
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 256
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 10 << 20
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 5 * time.Second
	}
	if cfg.Options.Lists == "" {
		cfg.Options.Lists = "major"
	}
	if cfg.Options.SMTPPort == 0 {
		cfg.Options.SMTPPort = 25
	}
	if cfg.Options.ProbeTimeout <= 0 {
		cfg.Options.ProbeTimeout = 10 * time.Second
	}
	// Every connection a check opens for a request goes through the guard.
	cfg.Options.Dial = guardedDial(cfg.AllowPrivate, cfg.Options.ProbeTimeout)
	cfg.Options.SMTP, cfg.Options.Relay = false, false
	s := &Server{cfg: cfg, limiter: newRateLimiter(cfg.RatePerMinute, cfg.RateBurst),
		slots: make(chan struct{}, cfg.MaxInFlight), waiting: make(chan struct{}, cfg.MaxQueue),
		registry: promexp.NewRegistry().WithRuntime(), mux: http.NewServeMux()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.requests = s.registry.NewCounterVec("deliverdoctor_http_requests_total",
		"HTTP requests by route and status code.", "route", "code")
	s.inFlight = s.registry.NewGauge("deliverdoctor_checks_in_flight", "Checks running now.")
	s.checkDur = s.registry.NewHistogram("deliverdoctor_check_duration_seconds",
		"Seconds one target's checks took.", []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})
	s.limited = s.registry.NewCounterVec("deliverdoctor_http_rejected_total",
		"Requests turned away, by reason (rate, busy, auth, size).", "reason")
	s.routes()
	return s, nil
}

// Shutdown cancels running checks and waits for their handlers.
func (s *Server) Shutdown() {
	s.cancel()
	s.wg.Wait()
}

// HTTPServer wraps the handler with timeouts that keep slow clients from
// holding workers.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.cfg.Deadline + 30*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}

const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; connect-src 'self'"

// ServeHTTP applies the headers, auth and body limit every route shares.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !s.authorized(r) {
		s.limited.WithLabelValues("auth").Inc()
		if s.cfg.BasicUser != "" {
			h.Set("WWW-Authenticate", `Basic realm="deliverdoctor", charset="UTF-8"`)
		} else {
			h.Set("WWW-Authenticate", `Bearer realm="deliverdoctor"`)
		}
		http.Error(w, "authorization required", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	s.wg.Add(1)
	defer s.wg.Done()
	sw := &statusWriter{ResponseWriter: w, code: 200}
	s.mux.ServeHTTP(sw, r)
	_, pattern := s.mux.Handler(r)
	s.requests.WithLabelValues(pattern, strconv.Itoa(sw.code)).Inc()
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.AuthToken == "" && s.cfg.BasicUser == "" {
		return true
	}
	if s.cfg.AuthToken != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.AuthToken)) == 1 {
			return true
		}
	}
	if s.cfg.BasicUser != "" {
		if u, p, ok := r.BasicAuth(); ok &&
			subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.BasicUser)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.BasicPass)) == 1 {
			return true
		}
	}
	return false
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.handleIndex)
	m.HandleFunc("GET /check", s.handleCheckForm)
	m.HandleFunc("GET /check/{target}", s.handleCheckPage)
	m.HandleFunc("GET /explain", s.handleExplainPage)
	m.HandleFunc("POST /explain", s.handleExplainPage)
	m.HandleFunc("GET /headers", s.handleHeadersPage)
	m.HandleFunc("POST /headers", s.handleHeadersPage)
	m.HandleFunc("GET /api/v1/check", s.handleAPICheck)
	m.HandleFunc("GET /api/v1/explain", s.handleAPIExplain)
	m.HandleFunc("POST /api/v1/explain", s.handleAPIExplain)
	m.HandleFunc("POST /api/v1/headers", s.handleAPIHeaders)
	if s.cfg.Reports != nil {
		m.HandleFunc("GET /reports", s.handleReportsPage)
		m.HandleFunc("POST /reports", s.handleReportsPage)
		m.HandleFunc("POST /api/v1/reports", s.handleAPIReports)
	}
	m.HandleFunc("GET /api/v1/received", s.handleAPIReceived)
	m.HandleFunc("GET /received", s.handleReceivedPage)
	m.HandleFunc("GET /probe", s.handleProbe)
	m.Handle("GET /metrics", s.registry)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	m.HandleFunc("GET /assets/{file}", s.handleAsset)
}

func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := assets.ReadFile("assets/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(b)
}

// checkRequest is what a check request asks for, validated as the check
// command validates its flags.
type checkRequest struct {
	Target target.Target
	Opts   check.Options
	Query  string // the canonical query string, for the permalink
}

// httpError is an error with the status code to answer it with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// maxTargetLen bounds a target (a domain is at most 253 octets; an
// address a little more).
const maxTargetLen = 320

func (s *Server) parseCheck(raw string, q map[string][]string) (*checkRequest, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, badRequest("give a target: a domain, an IP address or an e-mail address")
	}
	if len(raw) > maxTargetLen {
		return nil, badRequest("target is longer than %d characters", maxTargetLen)
	}
	t, err := target.Parse(raw)
	if err != nil {
		return nil, badRequest("%s", oneLine(err.Error()))
	}
	o := s.cfg.Options
	list := func(key string) []string {
		var out []string
		for _, v := range q[key] {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	get := func(key string) string {
		if v := q[key]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	o.Selectors = list("selector")
	o.DKIMDomains = list("dkim-domain")
	if len(o.Selectors) > 50 || len(o.DKIMDomains) > 20 {
		return nil, badRequest("too many selectors or DKIM domains")
	}
	o.Only = list("checks")
	if ip := get("ip"); ip != "" {
		a, err := check.ParseSenderIP(ip)
		if err != nil {
			return nil, badRequest("ip %q is not an IP address", ip)
		}
		o.SenderIP = a
	}
	o.MailFrom, o.HELO = get("mail-from"), get("helo")
	o.Profile = get("profile")
	if err := o.Validate(); err != nil {
		return nil, badRequest("%s", strings.TrimPrefix(err.Error(), "--"))
	}
	for _, probe := range []string{"smtp", "relay"} {
		if v := get(probe); v != "" && v != "0" && v != "false" {
			if !s.cfg.AllowProbes {
				return nil, &httpError{http.StatusForbidden, "the " + probe + " probe is off on this server (start it with --allow-probes)"}
			}
			if probe == "smtp" {
				o.SMTP = true
			} else {
				o.Relay = true
			}
		}
	}
	if (o.SMTP || o.Relay) && t.Kind == target.KindIP && !s.cfg.AllowPrivate && !PublicAddr(t.IP) {
		return nil, &httpError{http.StatusForbidden, fmt.Sprintf("%s: %v", t.IP, ErrPrivateAddress)}
	}
	for _, c := range o.Only {
		if (c == "smtp" && !o.SMTP) || (c == "relay" && !o.Relay) {
			o.Only = slices.DeleteFunc(o.Only, func(x string) bool { return x == c })
		}
	}
	return &checkRequest{Target: t, Opts: o, Query: canonicalQuery(q)}, nil
}

// canonicalQuery keeps the parameters a check understands, for links.
func canonicalQuery(q map[string][]string) string {
	var parts []string
	for _, k := range []string{"selector", "checks", "ip", "mail-from", "helo", "dkim-domain", "profile", "smtp", "relay"} {
		for _, v := range q[k] {
			if v != "" {
				parts = append(parts, k+"="+queryEscape(v))
			}
		}
	}
	return strings.Join(parts, "&")
}

// acquire waits for a check slot, bounded by the request's context and the
// queue length; the release function must be called.
func (s *Server) acquire(ctx context.Context) (func(), error) {
	select {
	case s.waiting <- struct{}{}:
	default:
		s.limited.WithLabelValues("busy").Inc()
		return nil, &httpError{http.StatusServiceUnavailable, "too many checks waiting; try again shortly"}
	}
	defer func() { <-s.waiting }()
	select {
	case s.slots <- struct{}{}:
		s.inFlight.Inc()
		return func() { s.inFlight.Dec(); <-s.slots }, nil
	case <-ctx.Done():
		s.limited.WithLabelValues("busy").Inc()
		return nil, &httpError{http.StatusServiceUnavailable, "no check slot free before the deadline; try again shortly"}
	}
}

// rateOK applies the per-client limit to a request that runs checks.
func (s *Server) rateOK(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := s.limiter.allow(clientAddr(r))
	if !ok {
		s.limited.WithLabelValues("rate").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		http.Error(w, "rate limit: too many checks from your address; try again later", http.StatusTooManyRequests)
	}
	return ok
}

// run runs one check request through the orchestrator. onResult, when
// set, sees each check as it finishes; trace receives the DNS questions.
func (s *Server) run(ctx context.Context, cr *checkRequest, trace io.Writer, onResult func(findings.CheckResult)) (*report.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Deadline+5*time.Second)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel) // shutdown cancels running checks
	defer stop()
	release, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	res, err := s.cfg.NewResolver(trace)
	if err != nil {
		return nil, &httpError{http.StatusInternalServerError, oneLine(err.Error())}
	}
	runner := &check.Runner{Resolver: res, Options: cr.Opts, Deadline: s.cfg.Deadline, Stats: res.Stats, OnResult: onResult}
	start := time.Now()
	rep := runner.Run(ctx, cr.Target)
	s.checkDur.Observe(time.Since(start).Seconds())
	return rep, nil
}

// errorStatus is the HTTP status for err, and err as the client sees it.
func errorStatus(err error) (int, error) {
	var he *httpError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.code, err
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("upload larger than %d bytes", mb.Limit)
	}
	return http.StatusInternalServerError, err
}

func writeError(w http.ResponseWriter, err error) {
	code, err := errorStatus(err)
	http.Error(w, oneLine(err.Error()), code)
}

func writeJSONError(w http.ResponseWriter, err error) {
	code, err := errorStatus(err)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = report.WriteJSON(w, map[string]any{"schema": "deliverdoctor.error/v1", "error": oneLine(err.Error()), "status": code})
}

// queryCheck runs the check the request's query asks for (target=,
// checks=, ...) within the client's rate limit. When it cannot, it has
// answered with fail (the API's JSON error or a plain one) and returns
// nil.
func (s *Server) queryCheck(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, error)) *report.Report {
	q := r.URL.Query()
	cr, err := s.parseCheck(q.Get("target"), q)
	if err != nil {
		fail(w, err)
		return nil
	}
	if !s.rateOK(w, r) {
		return nil
	}
	rep, err := s.run(r.Context(), cr, nil, nil)
	if err != nil {
		fail(w, err)
		return nil
	}
	return rep
}

func (s *Server) handleAPICheck(w http.ResponseWriter, r *http.Request) {
	if rep := s.queryCheck(w, r, writeJSONError); rep != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = report.Render(w, "json", []*report.Report{rep}, report.Options{})
	}
}

func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	if rep := s.queryCheck(w, r, writeError); rep != nil {
		promexp.ServeReports(w, []*report.Report{rep})
	}
}

// readInput reads a pasted text field or an uploaded file of a form, or a
// raw body (API): upload is the bytes of a file or raw body, text the
// field "input".
func readInput(r *http.Request, max int64) (text string, upload []byte, err error) {
	ct := r.Header.Get("Content-Type")
	switch {
	case r.Method == http.MethodGet:
		return r.URL.Query().Get("input"), nil, nil
	case strings.HasPrefix(ct, "multipart/form-data"):
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return "", nil, inputErr(err)
		}
		defer r.MultipartForm.RemoveAll()
		if f, _, err := r.FormFile("file"); err == nil {
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, max))
			if err != nil {
				return "", nil, inputErr(err)
			}
			if len(b) > 0 {
				return "", b, nil
			}
		}
		return r.FormValue("input"), nil, nil
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		if err := r.ParseForm(); err != nil {
			return "", nil, inputErr(err)
		}
		return r.PostFormValue("input"), nil, nil
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return "", nil, inputErr(err)
		}
		return "", b, nil
	}
}

func inputErr(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return err
	}
	return badRequest("could not read the request: %v", oneLine(err.Error()))
}

func (s *Server) explain(r *http.Request) (any, *ExplainView, error) {
	if s.cfg.Explain == nil {
		return nil, nil, &httpError{http.StatusNotFound, "explain is not available"}
	}
	text, upload, err := readInput(r, s.cfg.MaxUpload)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(text) == "" && len(upload) == 0 {
		return nil, nil, badRequest("paste a status code or SMTP reply, or upload a bounce message")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Deadline)
	defer cancel()
	doc, view, err := s.cfg.Explain(ctx, text, upload)
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			err = badRequest("%s", oneLine(err.Error()))
		}
		return nil, nil, err
	}
	return doc, view, nil
}

func (s *Server) handleAPIExplain(w http.ResponseWriter, r *http.Request) {
	doc, _, err := s.explain(r)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = report.WriteJSON(w, doc)
}

// job is the set-up every request that runs DNS work shares: the per-client
// rate limit (what names the work in the refusal), the request deadline
// (also ended by shutdown), a slot among the checks in flight, and a fresh
// resolver of its own. done releases all of it.
func (s *Server) job(r *http.Request, what string) (context.Context, *dnsx.Client, func(), error) {
	if !s.rateOK(nopWriter{}, r) {
		return nil, nil, nil, &httpError{http.StatusTooManyRequests, "rate limit: too many " + what + " from your address; try again later"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Deadline)
	stop := context.AfterFunc(s.ctx, cancel)
	release, err := s.acquire(ctx)
	if err != nil {
		stop()
		cancel()
		return nil, nil, nil, err
	}
	res, err := s.cfg.NewResolver(nil)
	if err != nil {
		release()
		stop()
		cancel()
		return nil, nil, nil, err
	}
	return ctx, res, func() { release(); stop(); cancel() }, nil
}

// headers runs the headers analysis on an uploaded or pasted message.
func (s *Server) headers(r *http.Request) (*report.Report, error) {
	if s.cfg.Headers == nil {
		return nil, &httpError{http.StatusNotFound, "headers is not available"}
	}
	text, upload, err := readInput(r, s.cfg.MaxUpload)
	if err != nil {
		return nil, err
	}
	msg, name := upload, "upload"
	if len(msg) == 0 {
		msg, name = []byte(text), "pasted message"
	}
	if len(strings.TrimSpace(string(msg))) == 0 {
		return nil, badRequest("paste or upload a received message (with its headers)")
	}
	ctx, res, done, err := s.job(r, "checks")
	if err != nil {
		return nil, err
	}
	defer done()
	start := time.Now()
	rep, err := s.cfg.Headers(ctx, res, msg, name)
	if err != nil {
		return nil, badRequest("%s: %s", name, oneLine(err.Error()))
	}
	rep.Finalize(check.Order)
	rep.DurationMS = time.Since(start).Milliseconds()
	st := res.Stats()
	rep.DNS = &report.DNSStats{Sent: st.Sent, ZoneHits: st.ZoneHits, CacheHits: st.CacheHits}
	return rep, nil
}

// reports reads an uploaded report file.
func (s *Server) reports(r *http.Request) (*reports.Document, error) {
	text, upload, err := readInput(r, s.cfg.MaxUpload)
	if err != nil {
		return nil, err
	}
	name := "upload"
	if r.MultipartForm != nil && r.MultipartForm.File["file"] != nil {
		name = r.MultipartForm.File["file"][0].Filename
	}
	if len(upload) == 0 {
		upload, name = []byte(text), "pasted report"
	}
	if len(strings.TrimSpace(string(upload))) == 0 {
		return nil, badRequest("upload a DMARC aggregate, failure or SMTP TLS report (XML, .gz, .zip or the message carrying it)")
	}
	ctx, res, done, err := s.job(r, "requests")
	if err != nil {
		return nil, err
	}
	defer done()
	doc, err := s.cfg.Reports(ctx, res, name, upload)
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			err = badRequest("%s: %s", name, oneLine(err.Error()))
		}
		return nil, err
	}
	return doc, nil
}

func (s *Server) handleAPIReports(w http.ResponseWriter, r *http.Request) {
	doc, err := s.reports(r)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = report.WriteJSON(w, doc)
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

func (s *Server) handleAPIHeaders(w http.ResponseWriter, r *http.Request) {
	rep, err := s.headers(r)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = report.Render(w, "json", []*report.Report{rep}, report.Options{})
}

// handleAPIReceived lists the reports of received messages (serve
// --receive), each the receive command's JSON report unchanged.
func (s *Server) handleAPIReceived(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Received == nil {
		writeJSONError(w, &httpError{http.StatusNotFound, "no receiver: start serve with --receive ADDR"})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = report.WriteJSON(w, map[string]any{"reports": s.cfg.Received()})
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
