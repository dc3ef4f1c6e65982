package serve

import (
	"bytes"
	"embed"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/receive"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/reports"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

//go:embed templates/*.tmpl
var templatesFS embed.FS

// Every value reaches the page through html/template, which escapes it
// for its context; clean also makes control characters visible first.
// Parsed on first use: every run of the binary would pay it at start-up.
var pages = sync.OnceValue(parsePages)

func parsePages() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"clean": sanitize.Line,
		"upper": func(s findings.Status) string { return strings.ToUpper(string(s)) },
		"join":  strings.Join,
		"sevstatus": func(s findings.Severity) findings.Status {
			return s.Status()
		},
		"groups": groupFindings,
		"notinfo": func(fs []findings.Finding) []findings.Finding {
			var out []findings.Finding
			for _, f := range fs {
				if f.Severity != findings.SeverityInfo {
					out = append(out, f)
				}
			}
			return out
		},
		"pathesc":  url.PathEscape,
		"queryesc": queryEscape,
	}).ParseFS(templatesFS, "templates/*.tmpl"))
}

func queryEscape(s string) string { return url.QueryEscape(s) }

type findingGroup = findings.Group

// groupFindings is the presenters' one grouping (findings.Grouped).
func groupFindings(fs []findings.Finding, verbose bool) []findingGroup {
	return findings.Grouped(fs, verbose)
}

type pageData struct {
	Title       string
	Nav         string
	Version     string
	AllowProbes bool
	Target      string
	Query       string
	Permalink   string
	APILink     string
	Error       string
	Report      *report.Report
	Result      *findings.CheckResult
	Trace       []traceLine
	TraceMore   int
	Explain     *ExplainView
	Reports     *reports.Document
	HasReports  bool
	HasReceived bool
	Received    []*receive.Report
	Input       string
}

func (s *Server) page(w http.ResponseWriter, name string, d *pageData) {
	d.Version = s.cfg.Version
	d.AllowProbes = s.cfg.AllowProbes
	d.HasReports = s.cfg.Reports != nil
	d.HasReceived = s.cfg.Received != nil
	var buf bytes.Buffer
	if err := pages().ExecuteTemplate(&buf, name, d); err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.page(w, "index", &pageData{Title: "deliverdoctor", Nav: "check"})
}

// handleCheckForm turns the form's ?target= into the permalink.
func (s *Server) handleCheckForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	t := strings.TrimSpace(q.Get("target"))
	if t == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u := "/check/" + url.PathEscape(t)
	if cq := canonicalQuery(q); cq != "" {
		u += "?" + cq
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// traceBuffer keeps the first lines of a request's DNS trace.
type traceBuffer struct {
	mu    sync.Mutex
	lines []string
	more  int
	part  []byte
}

const maxTraceLines = 500

func (t *traceBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		if len(t.lines) < maxTraceLines {
			t.lines = append(t.lines, strings.TrimPrefix(string(t.part[:i]), ";; "))
		} else {
			t.more++
		}
		t.part = t.part[i+1:]
	}
	if len(t.part) > 4096 {
		t.part = nil
	}
	return len(p), nil
}

func (t *traceBuffer) snapshot() ([]traceLine, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]traceLine, 0, len(t.lines))
	for _, l := range t.lines {
		out = append(out, parseTraceLine(l))
	}
	return out, t.more
}

// traceLine is one DNS question of the --trace output, for the page's
// table.
type traceLine struct {
	Type, Name, Rcode, Answers, MS, Server, Note string
}

// parseTraceLine splits a dnsx trace line ("TXT example.com. NOERROR
// answers=1 3ms server=192.0.2.53:53 ad (note)"); a line in another shape
// is kept whole in Name.
func parseTraceLine(l string) traceLine {
	f := strings.Fields(l)
	if len(f) < 6 || !strings.HasPrefix(f[3], "answers=") || !strings.HasSuffix(f[4], "ms") || !strings.HasPrefix(f[5], "server=") {
		return traceLine{Name: l}
	}
	return traceLine{Type: f[0], Name: f[1], Rcode: f[2], Answers: strings.TrimPrefix(f[3], "answers="),
		MS: strings.TrimSuffix(f[4], "ms"), Server: strings.TrimPrefix(f[5], "server="), Note: strings.Join(f[6:], " ")}
}

// handleCheckPage streams the check page: the head at once, then each
// check as it finishes, then the findings grouped like the HTML report and
// the DNS trace. It works without JavaScript.
func (s *Server) handleCheckPage(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("target")
	q := r.URL.Query()
	d := &pageData{Title: "Check " + raw, Nav: "check", Target: raw, Version: s.cfg.Version, AllowProbes: s.cfg.AllowProbes, HasReports: s.cfg.Reports != nil}
	cr, err := s.parseCheck(raw, q)
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(statusOf(err))
		s.page(w, "checkerror", d)
		return
	}
	if !s.rateOK(nopWriter{}, r) {
		d.Error = "Too many checks from your address; try again in a minute."
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		s.page(w, "checkerror", d)
		return
	}
	d.Target, d.Query = cr.Target.Name, cr.Query
	d.Title = "Check " + cr.Target.Name
	d.Permalink = "/check/" + url.PathEscape(cr.Target.Name)
	if cr.Query != "" {
		d.Permalink += "?" + cr.Query
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Keep buffering proxies from holding the stream back.
	w.Header().Set("X-Accel-Buffering", "no")
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	if err := pages().ExecuteTemplate(w, "checkstart", d); err != nil {
		return
	}
	flush()
	results := make(chan findings.CheckResult, 64)
	trace := &traceBuffer{}
	type outcome struct {
		rep *report.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := s.run(r.Context(), cr, trace, func(cr findings.CheckResult) {
			select {
			case results <- cr:
			default: // more checks than the buffer: the summary shows them
			}
		})
		done <- outcome{rep, err}
	}()
	var out outcome
	write := func(c findings.CheckResult) {
		_ = pages().ExecuteTemplate(w, "checkresult", &pageData{Result: &c})
		flush()
	}
wait:
	for {
		select {
		case c := <-results:
			write(c)
		case out = <-done:
			break wait
		}
	}
	for {
		select {
		case c := <-results:
			write(c)
			continue
		default:
		}
		break
	}
	api := "/api/v1/check?target=" + queryEscape(cr.Target.Name)
	if cr.Query != "" {
		api += "&" + cr.Query
	}
	end := &pageData{Target: d.Target, Permalink: d.Permalink, Report: out.rep, APILink: api}
	if out.err != nil {
		end.Error = out.err.Error()
	}
	end.Trace, end.TraceMore = trace.snapshot()
	_ = pages().ExecuteTemplate(w, "checkend", end)
	_ = pages().ExecuteTemplate(w, "foot", d)
}

func statusOf(err error) int {
	if he, ok := err.(*httpError); ok {
		return he.code
	}
	return http.StatusInternalServerError
}

func (s *Server) handleExplainPage(w http.ResponseWriter, r *http.Request) {
	d := &pageData{Title: "Explain a bounce", Nav: "explain"}
	if r.Method == http.MethodGet && r.URL.Query().Get("input") == "" {
		s.page(w, "explain", d)
		return
	}
	if !s.rateOK(nopWriter{}, r) {
		d.Error = "Too many requests from your address; try again in a minute."
		w.WriteHeader(http.StatusTooManyRequests)
		s.page(w, "explain", d)
		return
	}
	if r.Method == http.MethodGet {
		d.Input = r.URL.Query().Get("input")
	}
	_, view, err := s.explain(r)
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(statusOf(err))
	}
	if d.Input == "" && r.Method == http.MethodPost {
		d.Input = r.FormValue("input") // parsed by readInput, multipart or not
	}
	d.Explain = view
	s.page(w, "explain", d)
}

func (s *Server) handleReportsPage(w http.ResponseWriter, r *http.Request) {
	d := &pageData{Title: "Read DMARC and TLS reports", Nav: "reports"}
	if r.Method == http.MethodGet {
		s.page(w, "reports", d)
		return
	}
	doc, err := s.reports(r)
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(statusOf(err))
	}
	d.Reports = doc
	s.page(w, "reports", d)
}

func (s *Server) handleHeadersPage(w http.ResponseWriter, r *http.Request) {
	d := &pageData{Title: "Check a received message", Nav: "headers"}
	if r.Method == http.MethodGet {
		s.page(w, "headers", d)
		return
	}
	rep, err := s.headers(r)
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(statusOf(err))
	}
	d.Report = rep
	s.page(w, "headers", d)
}

// handleReceivedPage shows what the receiver beside the server (serve
// --receive) made of each message, newest first: the verdict of each
// provider with its reply, then the findings, as `receive` prints them.
func (s *Server) handleReceivedPage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Received == nil {
		http.NotFound(w, r)
		return
	}
	list := slices.Clone(s.cfg.Received()) // never reorder the caller's slice
	slices.Reverse(list)
	s.page(w, "received", &pageData{Title: "Received test messages", Nav: "received", Received: list})
}

var _ io.Writer = (*traceBuffer)(nil)
