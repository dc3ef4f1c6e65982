// Package check runs the checks registered for a target concurrently, each
// with the shared resolver, and assembles the report. Each check lives in
// its own package (internal/spf, internal/mx, ...); the files of this
// package adapt them to the Checker shape and register them.
package check

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/profile"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// Order is the order of checks in reports (docs/contracts.md names).
var Order = []string{"address", "mx", "ptr", "spf", "dkim", "dmarc", "rbl", "smtp", "relay", "mta-sts", "tls-rpt", "dnssec", "dane", "bimi", "profile"}

// Options are the knobs of all checks; each check reads the ones it needs.
type Options struct {
	Selectors   []string   // DKIM selectors (--selector); empty: the built-in list
	SenderIP    netip.Addr // --ip: evaluate SPF/DMARC for mail sent from this address
	MailFrom    string     // --mail-from: envelope sender for SPF evaluation
	HELO        string     // --helo: HELO/EHLO name for SPF evaluation
	DKIMDomains []string   // --dkim-domain: d= domains that signed, for DMARC alignment
	SMTP        bool       // --smtp: probe MX hosts over SMTP (banner, EHLO, STARTTLS)
	Relay       bool       // --relay: run the open-relay probe on each MX
	External    string     // --external: the foreign domain used by the relay probe
	// RelayServer makes the relay check probe the target itself (relay
	// HOST: its own addresses) instead of the target's mail hosts.
	RelayServer      bool
	RelayLocalDomain string // relay --domain: a domain the server receives mail for
	RelayHELO        string // relay --helo: the EHLO/HELO name
	RelayAllVariants bool   // relay --all-variants: go on after the first relayed variant
	// SMTPTrace, when set, receives every SMTP line the relay probe sends
	// ("C") and receives ("S").
	SMTPTrace func(dir, line string)
	SMTPPort  int      // port for SMTP and relay probes (default 25; tests use others)
	DNSBL     []string // --dnsbl: blocklist zones replacing the defaults
	Lists     string   // --lists: major or all
	Profile   string   // --profile: gmail, yahoo, microsoft, bulk
	MTASTSURL string   // override for the MTA-STS policy URL (mta-sts --url; tests)
	// MTASTSPolicy, when set, is judged instead of fetching the policy
	// (mta-sts --policy); MTASTSPolicySource names where it came from.
	MTASTSPolicy       string
	MTASTSPolicySource string
	// Blocklists, when set, are the lists to ask, already resolved
	// (receive's); they replace DNSBL and Lists.
	Blocklists   []rbl.List
	RBLTimeout   time.Duration // per blocklist (rbl --list-timeout); zero: rbl.DefaultTimeout
	RBLHealth    bool          // ask each list about its RFC 5782 test entries first (rbl --health)
	ProbeTimeout time.Duration // per network operation of SMTP/HTTPS probes
	Offline      bool          // no network: checks that need outside answers skip
	Only         []string      // --checks: run only these
	// Dial, when set, makes every connection the probes and fetches open
	// (SMTP, relay, DANE, MTA-STS, BIMI); serve uses it to refuse private
	// addresses.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Env is what a check gets besides its target.
type Env struct {
	Resolver dnsx.Resolver
	Options  *Options
}

// Checker is one registered check.
type Checker struct {
	Name string
	// Applies reports whether the check runs for t with o (e.g. relay only
	// when asked, ptr only for IP targets and MX hosts).
	Applies func(t target.Target, o *Options) bool
	// Run performs the check. It must not print, and it returns a result
	// even on failure (status error with a finding saying why).
	Run func(ctx context.Context, t target.Target, env *Env) findings.CheckResult
}

// forDomains is Checker.Applies for the checks that look at a domain's
// records; always for those that also judge an IP target.
func forDomains(t target.Target, _ *Options) bool { return t.Kind == target.KindDomain }

func always(target.Target, *Options) bool { return true }

// PostChecker is a check computed from the other checks' results (the
// --profile view), run after them.
type PostChecker struct {
	Name    string
	Applies func(t target.Target, o *Options) bool
	Run     func(ctx context.Context, t target.Target, env *Env, results []findings.CheckResult) findings.CheckResult
}

// checks is every check, listed here rather than registered from init
// functions, so one place says what "check" runs.
var checks = []Checker{mxCheck, ptrCheck, spfCheck, dkimCheck, dmarcCheck, rblCheck, smtpCheck, relayCheck,
	mtastsCheck, tlsrptCheck, dnssecCheck, daneCheck, bimiCheck}

// onRequest checks run only when Options.Only names them; they are not
// part of a plain "check" (and not among Names, the report's columns).
var onRequest = []Checker{addressCheck}

// postChecks run after the others, from their results.
var postChecks = []PostChecker{profileCheck}

var (
	regMu sync.Mutex
	extra []Checker // added with Register (tests)
)

// Register adds a check beside the built-in ones; tests use it to plant
// checks that exist only in their binary.
func Register(c Checker) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, x := range append(slices.Clone(checks), extra...) {
		if x.Name == c.Name {
			panic("check: duplicate registration of " + c.Name)
		}
	}
	extra = append(extra, c)
}

// Checkers returns the checks in report order.
func Checkers() []Checker {
	regMu.Lock()
	cs := append(slices.Clone(checks), extra...)
	regMu.Unlock()
	sort.SliceStable(cs, func(i, j int) bool {
		return orderIndex(cs[i].Name) < orderIndex(cs[j].Name) || (orderIndex(cs[i].Name) == orderIndex(cs[j].Name) && cs[i].Name < cs[j].Name)
	})
	return cs
}

// Names lists the check names in report order (post-checks last).
func Names() []string {
	var ns []string
	for _, c := range Checkers() {
		ns = append(ns, c.Name)
	}
	for _, p := range postChecks {
		ns = append(ns, p.Name)
	}
	return ns
}

// Selectable lists every name --checks accepts: Names and the checks that
// run only on request.
func Selectable() []string {
	ns := Names()
	for _, c := range onRequest {
		ns = append(ns, c.Name)
	}
	return ns
}

func orderIndex(name string) int {
	if i := slices.Index(Order, name); i >= 0 {
		return i
	}
	return len(Order)
}

// Runner runs checks for targets. One Runner (and one resolver, so one
// cache) serves a whole run, batches included.
type Runner struct {
	Resolver dnsx.Resolver
	Options  Options
	// Deadline bounds the work for one target (default 60s).
	Deadline time.Duration
	// Stats, when set, is read after each target for the report's dns field.
	Stats func() dnsx.Stats
	// OnResult, when set, is called with each check's result as soon as it
	// is done (from the check's goroutine: it must be safe for concurrent
	// use), so a page can show results as they arrive.
	OnResult func(findings.CheckResult)
}

// Run checks one target.
func (r *Runner) Run(ctx context.Context, t target.Target) *report.Report {
	start := time.Now()
	deadline := r.Deadline
	if deadline <= 0 {
		deadline = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	res := r.Resolver
	var scope *dnsx.Scope
	if sc, ok := res.(interface{ Scope() *dnsx.Scope }); ok {
		// One scope per target: its answers stay cached while it runs (no
		// question twice), then only a bounded number are kept for later
		// targets, so a batch's memory stays flat.
		scope = sc.Scope()
		defer scope.Release()
		res = scope
	}
	env := &Env{Resolver: res, Options: &r.Options}
	rep := &report.Report{Target: t.Name, Kind: string(t.Kind), Input: t.Input, Notes: t.Notes()}
	if t.Input == t.Name {
		rep.Input = ""
	}
	var cs []Checker
	for _, c := range append(Checkers(), onRequest...) {
		if len(r.Options.Only) > 0 && !slices.Contains(r.Options.Only, c.Name) {
			continue
		}
		if c.Applies == nil || c.Applies(t, &r.Options) {
			cs = append(cs, c)
		}
	}
	results := make([]findings.CheckResult, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runOne(ctx, c, t, env)
			if r.OnResult != nil {
				r.OnResult(results[i])
			}
		}()
	}
	wg.Wait()
	for _, p := range postChecks {
		if len(r.Options.Only) > 0 && !slices.Contains(r.Options.Only, p.Name) {
			continue
		}
		if p.Applies == nil || p.Applies(t, &r.Options) {
			done := results
			results = append(results, runOne(ctx, Checker{Name: p.Name, Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
				return p.Run(ctx, t, env, done)
			}}, t, env))
			if r.OnResult != nil {
				r.OnResult(results[len(results)-1])
			}
		}
	}
	rep.Checks = results
	if r.Options.Offline {
		rep.Notes = append(rep.Notes, "offline: names outside the --zone files were not asked; checks that need them are skipped")
	}
	rep.Finalize(Order)
	rep.DurationMS = time.Since(start).Milliseconds()
	if r.Stats != nil {
		st := r.Stats()
		rep.DNS = &report.DNSStats{Sent: st.Sent, ZoneHits: st.ZoneHits, CacheHits: st.CacheHits, Servers: report.ServerStatsOf(st.Servers)}
	}
	if scope != nil {
		rep.AddDNSNotes(scope.Failures(), scope.FromZone())
	}
	return rep
}

// runOne runs a check, turning a panic into an error result: a bug in one
// check must not take the whole report down.
func runOne(ctx context.Context, c Checker, t target.Target, env *Env) (res findings.CheckResult) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			res = findings.CheckResult{Name: c.Name, Status: findings.StatusError,
				Summary: "internal error", Data: map[string]any{},
				Findings: []findings.Finding{{ID: c.Name + ".internal-error", Check: c.Name, Severity: findings.SeverityError,
					Title: fmt.Sprintf("the %s check crashed; please report this", c.Name), Detail: fmt.Sprint(p),
					Evidence: []string{string(debug.Stack())}}}}
		}
		res.Name = c.Name
		res.DurationMS = time.Since(start).Milliseconds()
		if res.Data == nil {
			res.Data = map[string]any{}
		}
		for i := range res.Findings {
			res.Findings[i].Check = c.Name
		}
	}()
	return c.Run(ctx, t, env)
}

// DNSErrorFinding is findings.DNSError, the one "the DNS did not answer"
// finding.
func DNSErrorFinding(check, what string, err error) findings.Finding {
	return findings.DNSError(check, what, err)
}

// ErrorResult is a result for a check that could not run at all.
func ErrorResult(check, summary string, err error, what string) findings.CheckResult {
	f := DNSErrorFinding(check, what, err)
	return findings.CheckResult{Name: check, Status: f.Severity.Status(), Summary: summary, Findings: []findings.Finding{f}}
}

// Validate refuses options no check can run with, in the words of the
// flags that set them (check's; serve's parameters have the same names):
// the blocklist choice, the --dnsbl zones, the profile, the selected
// checks and the SMTP port (0 becomes 25).
func (o *Options) Validate() error {
	if o.Lists == "" {
		o.Lists = "major"
	}
	if o.Lists != "major" && o.Lists != "all" {
		return fmt.Errorf("--lists %q: want major or all", o.Lists)
	}
	if _, err := RBLLists(o); err != nil {
		return err
	}
	if o.Profile != "" && !slices.Contains(profile.Profiles, o.Profile) {
		return fmt.Errorf("--profile %q: want %s", o.Profile, strings.Join(profile.Profiles, ", "))
	}
	known := Selectable()
	for _, c := range o.Only {
		if !slices.Contains(known, c) {
			return fmt.Errorf("--checks: unknown check %q (known: %s)", c, strings.Join(known, ", "))
		}
	}
	if o.SMTPPort == 0 {
		o.SMTPPort = 25
	}
	if o.SMTPPort < 1 || o.SMTPPort > 65535 {
		return fmt.Errorf("--smtp-port %d: want 1-65535", o.SMTPPort)
	}
	return nil
}

// ParseSenderIP is the one rule for the address mail is sent from (--ip of
// check, spf and dmarc; serve's ip=): an IPv4 or IPv6 address, brackets
// allowed, IPv4-mapped IPv6 unmapped. A zone (fe80::1%eth0) is refused: it
// names a link of this machine, not a sender a receiver could see.
func ParseSenderIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(s), "[]"))
	if err != nil {
		return netip.Addr{}, err
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s has a zone: it names a link of this machine, not a sender", s)
	}
	return ip.Unmap(), nil
}

// SkipResult is a result for a check that did not apply or could not ask.
func SkipResult(check, why string) findings.CheckResult {
	return findings.CheckResult{Name: check, Status: findings.StatusSkip, Summary: why}
}
