package rbl

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Defaults for Options.
const (
	DefaultTimeout     = 6 * time.Second
	DefaultConcurrency = 128 // every list for a few addresses in one round trip
	DefaultMaxIPs      = 20
)

// Options configure a check.
type Options struct {
	// Lists are the lists to ask (Catalog.Select or Catalog.Resolve).
	Lists []List
	// Timeout bounds asking one list about one address or domain,
	// retries included (default DefaultTimeout). A list that has not
	// answered by then is an error, not "clean".
	Timeout time.Duration
	// Concurrency bounds the questions in flight at once (default
	// DefaultConcurrency).
	Concurrency int
	// Health also asks each list about its RFC 5782 5 test entries; a list
	// that fails them cannot be trusted, so its "not listed" becomes error.
	Health bool
	// MaxIPs bounds the sending addresses checked for a domain (default
	// DefaultMaxIPs).
	MaxIPs int
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxIPs <= 0 {
		o.MaxIPs = DefaultMaxIPs
	}
}

// ListInfo names a list that was asked.
type ListInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Zone   string `json:"zone"`
	Kind   Kind   `json:"kind"`
	Weight Weight `json:"weight"`
}

// Counts tallies results by status.
type Counts struct {
	Listed int `json:"listed"`
	Clean  int `json:"clean"`
	Error  int `json:"error"`
	Skip   int `json:"skip"`
}

// Report is the outcome of checking one target.
type Report struct {
	Target     string          `json:"target"`
	Kind       string          `json:"kind"` // "ip" or "domain"
	Status     findings.Status `json:"status"`
	Summary    string          `json:"summary"`
	Lists      []ListInfo      `json:"lists"`
	Checked    []Subject       `json:"checked"`
	Results    []Result        `json:"results"`
	Health     []Health        `json:"health,omitempty"`
	Counts     Counts          `json:"counts"`
	Notes      []string        `json:"notes,omitempty"`
	DurationMS int64           `json:"duration_ms"`
	// Findings go to the report's findings list, not into check data.
	Findings []findings.Finding `json:"-"`

	incomplete int // lookups of sending addresses that failed
}

// CheckIP checks one address on every IP list of opts.Lists.
func CheckIP(ctx context.Context, r dnsx.Resolver, ip netip.Addr, opts Options) *Report {
	return run(ctx, r, ip.String(), "ip", []Subject{IPSubject(ip, "the address checked")}, nil, nil, opts)
}

// CheckDomain checks domain on the domain lists of opts.Lists (its
// registered domain, and the name itself when it is a subdomain), and the
// addresses that send for it (SendingIPs) on the IP lists.
func CheckDomain(ctx context.Context, r dnsx.Resolver, domain string, opts Options) *Report {
	opts.defaults()
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	var subjects []Subject
	names := DomainNames(domain)
	for _, n := range names {
		src := "the domain checked"
		if n != domain {
			src = "the registered domain of " + domain
		}
		subjects = append(subjects, DomainSubject(n, src))
	}
	ips, notes, problems := SendingIPs(ctx, r, domain, opts.MaxIPs)
	if len(ips) == 0 && len(problems) == 0 {
		notes = append(notes, fmt.Sprintf("found no sending address for %s in its MX or SPF records: only the domain itself was checked", domain))
	}
	subjects = append(subjects, ips...)
	return run(ctx, r, domain, "domain", subjects, notes, problems, opts)
}

// CheckDomainName checks only domain (and its registered domain) on the
// domain lists of opts.Lists, not the addresses that send for it: for
// names that appear in a message, such as the hosts of its links.
func CheckDomainName(ctx context.Context, r dnsx.Resolver, domain string, opts Options) *Report {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	var subjects []Subject
	for _, n := range DomainNames(domain) {
		src := "the domain checked"
		if n != domain {
			src = "the registered domain of " + domain
		}
		subjects = append(subjects, DomainSubject(n, src))
	}
	return run(ctx, r, domain, "domain", subjects, nil, nil, opts)
}

// job is one question: a list about a subject.
type job struct {
	list    List
	subject Subject
}

func run(ctx context.Context, r dnsx.Resolver, target, kind string, subjects []Subject, notes []string, problems []findings.Finding, opts Options) *Report {
	opts.defaults()
	start := time.Now()
	rep := &Report{Target: target, Kind: kind, Checked: subjects, Notes: notes, Results: []Result{}, Lists: []ListInfo{}}
	if rep.Checked == nil {
		rep.Checked = []Subject{}
	}
	for _, l := range opts.Lists {
		rep.Lists = append(rep.Lists, ListInfo{ID: l.ID, Name: l.Name, Zone: l.Zone, Kind: l.Kind, Weight: l.Weight})
	}
	var jobs []job
	for _, s := range subjects {
		if s.Skip != "" {
			continue
		}
		for _, l := range opts.Lists {
			switch {
			case s.Kind == "domain" && l.answersDomain():
				jobs = append(jobs, job{l, s})
			case s.Kind == "ip" && (l.Kind == KindIP || l.Kind == KindAny):
				jobs = append(jobs, job{l, s})
			}
		}
	}
	rep.Results = make([]Result, len(jobs))
	var healths []Health
	if opts.Health {
		healths = make([]Health, len(opts.Lists))
	}

	// Every question at once, bounded by a semaphore: one address against
	// thirty lists costs about one round trip to the slowest list.
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.subject.Kind == "ip" && !j.list.answersIP(j.subject.IP) {
			rep.Results[i] = skipped(j, fmt.Sprintf("%s does not list IPv%s addresses", j.list.Name, family(j.subject.IP)))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rep.Results[i] = Lookup(ctx, r, j.list, j.subject, opts.Timeout)
		}()
	}
	for i := range healths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			healths[i] = CheckHealth(ctx, r, opts.Lists[i], opts.Timeout)
		}()
	}
	wg.Wait()

	if opts.Health {
		rep.Health = healths
		applyHealth(rep.Results, healths)
	}
	for _, res := range rep.Results {
		switch res.Status {
		case StatusListed:
			rep.Counts.Listed++
		case StatusClean:
			rep.Counts.Clean++
		case StatusError:
			rep.Counts.Error++
		default:
			rep.Counts.Skip++
		}
	}
	rep.incomplete = len(problems)
	rep.Findings = append(problems, found(rep)...)
	rep.Status = findings.StatusFromFindings(rep.Findings)
	if rep.Counts.Listed+rep.Counts.Clean+rep.Counts.Error == 0 && len(problems) == 0 {
		rep.Status = findings.StatusSkip
	}
	rep.Summary = summary(rep)
	rep.DurationMS = time.Since(start).Milliseconds()
	return rep
}

func skipped(j job, why string) Result {
	return Result{List: j.list.Name, ListID: j.list.ID, Zone: j.list.Zone, Weight: j.list.Weight,
		Checked: j.subject.Value, CheckedKind: j.subject.Kind, Status: StatusSkip, Reason: why, Delist: j.list.Delist, list: j.list}
}

func family(ip netip.Addr) string {
	if ip.Is4() {
		return "4"
	}
	return "6"
}

// summary is the one-line outcome.
func summary(rep *Report) string {
	c := rep.Counts
	asked := c.Listed + c.Clean + c.Error
	if asked == 0 {
		if rep.Status == findings.StatusSkip {
			return "blocklists not checked: " + skipReason(rep)
		}
		return "blocklists could not be checked"
	}
	var listedOn []string
	seen := map[string]bool{}
	for _, res := range rep.Results {
		if res.Status == StatusListed && !seen[res.List] {
			seen[res.List] = true
			listedOn = append(listedOn, res.List)
		}
	}
	what := rep.Target
	if rep.Kind == "domain" {
		ips := 0
		for _, s := range rep.Checked {
			if s.Kind == "ip" && s.Skip == "" {
				ips++
			}
		}
		if ips > 0 {
			what = fmt.Sprintf("%s and %d sending %s", rep.Target, ips, plural(ips, "address", "addresses"))
		}
	}
	var s string
	switch {
	case len(listedOn) > 0:
		s = fmt.Sprintf("%s: listed on %s", what, strings.Join(listedOn, ", "))
	case c.Clean == 0:
		s = fmt.Sprintf("%s: could not be checked", what)
	case c.Error > 0 || rep.incomplete > 0:
		s = fmt.Sprintf("%s: not listed on the lists that answered", what)
	case len(rep.Lists) == 1:
		s = fmt.Sprintf("%s: not listed on %s", what, rep.Lists[0].Name)
	default:
		s = fmt.Sprintf("%s: not listed on any of %d lists", what, len(rep.Lists))
	}
	if c.Error > 0 {
		s += fmt.Sprintf("; %d %s could not be determined", c.Error, plural(c.Error, "answer", "answers"))
	}
	if rep.incomplete > 0 {
		s += fmt.Sprintf("; %d %s failed, so some sending addresses were not checked", rep.incomplete, plural(rep.incomplete, "lookup", "lookups"))
	}
	return s
}

func skipReason(rep *Report) string {
	for _, res := range rep.Results {
		if res.Status == StatusSkip && res.Reason != "" {
			return res.Reason
		}
	}
	if len(rep.Lists) == 0 {
		return "no lists selected"
	}
	return "nothing to check"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// CheckResult adapts a report to the check runner's shape.
func (rep *Report) CheckResult() findings.CheckResult {
	return findings.CheckResult{Name: "rbl", Status: rep.Status, Summary: rep.Summary, Data: rep, Findings: rep.Findings}
}
