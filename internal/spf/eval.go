package spf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// Args are check_host()'s inputs (RFC 7208 4.1) plus the values only macros
// use.
type Args struct {
	// IP is the SMTP client's address. IPv4-mapped IPv6 addresses are
	// treated as IPv4 (RFC 7208 5, 5.6).
	IP netip.Addr
	// Domain is <domain>, the domain whose policy is checked. Empty: the
	// domain of Sender.
	Domain string
	// Sender is the MAIL FROM address. Empty (the null reverse-path):
	// "postmaster@" + HELO, RFC 7208 2.4.
	Sender string
	// HELO is the HELO/EHLO name (the %{h} macro).
	HELO string
	// ReceivingHost is the name of the host doing the check (%{r}).
	ReceivingHost string
	// Now is the time for %{t}; zero means time.Now().
	Now time.Time
}

// Evaluation is the outcome of check_host().
type Evaluation struct {
	Result Result `json:"result"`
	// Mechanism is the term that decided the result, as published, in the
	// record of MatchDomain (the checked domain, or a redirect target).
	// Empty when no mechanism matched (neutral by default, none, errors).
	Mechanism string `json:"mechanism"`
	// MatchDomain is the domain whose record holds Mechanism.
	MatchDomain string `json:"match_domain,omitempty"`
	// Explanation is the exp= text for a fail result (RFC 7208 6.2), "" when
	// the record has none or it could not be used.
	Explanation string `json:"explanation"`
	// Lookups counts the terms that caused DNS lookups (limit 10).
	Lookups int `json:"lookups"`
	// VoidLookups counts lookups that found nothing (limit 2).
	VoidLookups int `json:"void_lookups"`
	// Domain is the checked <domain>, Sender the <sender> used.
	Domain string `json:"domain"`
	Sender string `json:"sender"`
	// Record is the checked domain's SPF record ("" when none).
	Record string `json:"record,omitempty"`
	// Err says why the result is none, temperror or permerror.
	Err error `json:"-"`
	// Trace lists each step, for --verbose.
	Trace []string `json:"trace,omitempty"`
}

// Error is Err as text ("" when nil), for JSON. (An *Evaluation is not
// meant to be used as an error value.)
func (e *Evaluation) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// evaluator holds the state of one check_host() run: the shared lookup
// counters (they span includes and redirects, RFC 7208 4.6.4) and the
// macro values.
type evaluator struct {
	r       dnsx.Resolver
	ip      netip.Addr
	env     MacroEnv
	lookups int
	voids   int
	trace   []string

	ptrOnce  sync.Once
	ptrNames []string // validated names of ip (for %{p}), in PTR order
}

// CheckHost evaluates the SPF policy of a.Domain (or the sender's domain)
// for mail from a.IP, exactly as RFC 7208 sections 4 to 6 describe: terms
// left to right, stopping at the first match; at most 10 terms that query
// DNS and 2 void lookups; temperror when a needed answer could not be had.
// Independent address lookups of one mx or ptr mechanism are sent
// concurrently; their results are taken in order, so the outcome is the one
// a sequential evaluation gives.
func CheckHost(ctx context.Context, r dnsx.Resolver, a Args) *Evaluation {
	if _, ok := ctx.Deadline(); !ok {
		// RFC 7208 4.6.4: limit the elapsed time (at least 20 s), temperror
		// when exceeded.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
	}
	ip := a.IP.Unmap()
	sender := a.Sender
	if sender == "" {
		// RFC 7208 2.4: a null reverse-path uses postmaster@HELO.
		sender = "postmaster@" + a.HELO
	}
	local, sdomain := sender, ""
	if at := strings.LastIndexByte(sender, '@'); at >= 0 {
		local, sdomain = sender[:at], sender[at+1:]
	} else {
		local, sdomain = "postmaster", sender
	}
	if local == "" {
		// RFC 7208 4.3: no local-part: use "postmaster".
		local = "postmaster"
	}
	sdomain = strings.TrimSuffix(sdomain, ".")
	domain := strings.TrimSuffix(a.Domain, ".")
	if domain == "" {
		domain = sdomain
	}
	now := a.Now
	if now.IsZero() {
		now = time.Now()
	}
	e := &evaluator{r: r, ip: ip, env: MacroEnv{
		Sender: local + "@" + sdomain, Local: local, SenderDomain: sdomain,
		IP: ip, HELO: a.HELO, ReceivingHost: a.ReceivingHost, Now: now,
	}}
	ev := &Evaluation{Domain: domain, Sender: e.env.Sender}
	if !ip.IsValid() {
		ev.Result, ev.Err = ResultPermerror, errors.New("no client IP address to check")
		return ev
	}
	out := e.checkHost(ctx, domain, 0, false)
	ev.Result, ev.Err = out.result, out.err
	if out.term != nil {
		ev.Mechanism = out.term.Text
		ev.MatchDomain = out.domain
	}
	if out.top != nil {
		ev.Record = out.top.Text
	}
	if out.result == ResultFail && out.rec != nil {
		ev.Explanation = e.explain(ctx, out.rec, out.domain)
	}
	ev.Lookups, ev.VoidLookups, ev.Trace = e.lookups, e.voids, e.trace
	e.tracef(0, "result: %s", ev.Result)
	ev.Trace = e.trace
	return ev
}

// outcome is check_host()'s result for one domain.
type outcome struct {
	result Result
	err    error
	term   *Term   // the matching mechanism
	rec    *Record // the record that produced the result (for exp=)
	domain string  // the domain of rec
	top    *Record // the record of the domain asked for
}

func (e *evaluator) tracef(depth int, format string, args ...any) {
	e.trace = append(e.trace, strings.Repeat("  ", depth)+fmt.Sprintf(format, args...))
}

// dnsFailure maps a lookup error to the result it causes: temperror for a
// DNS failure or an --offline answer (RFC 7208 4.4, 5: "If the DNS lookup
// returns a server failure ... or times out, check_host() terminates
// immediately with the result temperror").
func dnsFailure(err error) outcome { return outcome{result: ResultTemperror, err: err} }

func (e *evaluator) checkHost(ctx context.Context, domain string, depth int, inInclude bool) outcome {
	// RFC 7208 4.3: a malformed domain gives none.
	if err := validDomain(domain); err != nil || strings.ContainsAny(domain, "[]") {
		if err == nil {
			err = fmt.Errorf("%w: %q is an address literal", ErrInvalidDomain, domain)
		}
		e.tracef(depth, "%s: %v: none", domain, err)
		return outcome{result: ResultNone, err: err}
	}
	// RFC 7208 4.4, 4.5: record lookup and selection.
	sel, err := selectRecord(ctx, e.r, domain)
	switch {
	case err == nil:
	case errors.Is(err, ErrNoRecord), errors.Is(err, ErrInvalidDomain):
		e.tracef(depth, "%s: %v: none", domain, err)
		return outcome{result: ResultNone, err: err}
	case errors.Is(err, ErrMultipleRecords):
		e.tracef(depth, "%s: %v: permerror", domain, err)
		return outcome{result: ResultPermerror, err: err}
	default:
		e.tracef(depth, "%s: %v: temperror", domain, err)
		return dnsFailure(err)
	}
	e.tracef(depth, "%s: %q", domain, sel.txt)
	rec, err := ParseRecord(sel.txt)
	if err != nil {
		// RFC 7208 4.6: a syntax error anywhere gives permerror.
		e.tracef(depth, "%v: permerror", err)
		return outcome{result: ResultPermerror, err: fmt.Errorf("%s: %w", domain, err), top: rec}
	}
	env := e.env
	env.Domain = domain
	env.ValidatedDomain = func() (string, error) { return e.validatedDomain(ctx, domain) }
	// RFC 7208 4.6.2: mechanisms are evaluated left to right; the first
	// match decides.
	for _, t := range rec.Mechanisms() {
		if t.CausesLookup() {
			if err := e.countLookup(); err != nil {
				e.tracef(depth+1, "%s: %v: permerror", t.Text, err)
				return outcome{result: ResultPermerror, err: err, top: rec}
			}
		}
		match, out := e.mechanism(ctx, t, &env, depth+1)
		if out.result != "" {
			out.top = rec
			return out
		}
		if match {
			res := t.Qualifier.Result()
			e.tracef(depth+1, "%s: match: %s", t.Text, res)
			return outcome{result: res, term: t, rec: rec, domain: domain, top: rec}
		}
	}
	// RFC 7208 6.1: redirect applies when no mechanism matched (a record
	// with "all" always matches, so its redirect is never reached).
	if rd := rec.Redirect(); rd != nil {
		if err := e.countLookup(); err != nil {
			e.tracef(depth+1, "%s: %v: permerror", rd.Text, err)
			return outcome{result: ResultPermerror, err: err, top: rec}
		}
		target, err := expandDomain(rd.DomainSpec, &env)
		if err != nil {
			return e.macroFailure(depth+1, rd, err, rec)
		}
		e.tracef(depth+1, "%s: redirect to %s (lookup %d/%d)", rd.Text, target, e.lookups, MaxLookups)
		out := e.checkHost(ctx, target, depth+1, inInclude)
		out.top = rec
		if out.result == ResultNone {
			// RFC 7208 6.1: no record at the target, or a malformed target,
			// is permerror, not none.
			out.result, out.err = ResultPermerror, fmt.Errorf("%w: redirect=%s: %v", ErrRedirectNone, target, out.err)
			e.tracef(depth+1, "%v: permerror", out.err)
		}
		return out
	}
	// RFC 7208 4.7: no match and no redirect: neutral.
	e.tracef(depth+1, "no mechanism matched: neutral")
	return outcome{result: ResultNeutral, rec: rec, domain: domain, top: rec}
}

// macroFailure turns a failed expansion (only %{p} can fail: the lookup
// limit, or an --offline answer) into a result.
func (e *evaluator) macroFailure(depth int, t *Term, err error, rec *Record) outcome {
	res := ResultPermerror
	if errors.Is(err, ErrOffline) || dnsx.IsTemporary(err) {
		res = ResultTemperror
	}
	e.tracef(depth, "%s: %v: %s", t.Text, err, res)
	return outcome{result: res, err: err, top: rec}
}

// countLookup counts a term that queries DNS; RFC 7208 4.6.4: more than 10
// is permerror, checked before the lookup is done.
func (e *evaluator) countLookup() error {
	e.lookups++
	if e.lookups > MaxLookups {
		return ErrTooManyLookups
	}
	return nil
}

// countVoid counts a lookup that returned NXDOMAIN or no records; RFC 7208
// 4.6.4: more than 2 is permerror.
func (e *evaluator) countVoid() error {
	e.voids++
	if e.voids > MaxVoidLookups {
		return ErrTooManyVoidLookups
	}
	return nil
}

// lookup asks one question. An --offline answer is an error: it says
// nothing about the name.
func (e *evaluator) lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Result, error) {
	res, err := e.r.Lookup(ctx, dnsx.EscapeName(name), qtype)
	if err != nil {
		return nil, err
	}
	if res.Offline {
		return nil, fmt.Errorf("%s %s: %w", dnsx.TypeString(qtype), name, ErrOffline)
	}
	return res, nil
}

// target is the domain a mechanism applies to: its expanded domain-spec, or
// <domain> (RFC 7208 4.8).
func (e *evaluator) target(t *Term, env *MacroEnv) (string, error) {
	if t.DomainSpec == nil {
		return env.Domain, nil
	}
	return expandDomain(t.DomainSpec, env)
}

// queryable reports whether an expanded name can be asked at all; RFC 7208
// leaves names that are not valid DNS names (an empty or over-long label)
// undefined; like a name that does not exist, they do not match.
func queryable(name string) bool { return validDomain(name) == nil }

// mechanism evaluates one mechanism: match, or a final outcome (result
// set) for errors.
func (e *evaluator) mechanism(ctx context.Context, t *Term, env *MacroEnv, depth int) (bool, outcome) {
	qtype := dns.TypeA
	if e.ip.Is6() {
		qtype = dns.TypeAAAA
	}
	switch t.Name {
	case "all":
		// RFC 7208 5.1: always matches.
		return true, outcome{}

	case "ip4", "ip6":
		// RFC 7208 5.6: only addresses of the client's family match.
		p := t.Prefix()
		ok := p.Addr().Is4() == e.ip.Is4() && p.Contains(e.ip)
		if !ok {
			e.tracef(depth, "%s: no match", t.Text)
		}
		return ok, outcome{}

	case "include":
		name, err := e.target(t, env)
		if err != nil {
			return false, e.macroFailure(depth, t, err, nil)
		}
		e.tracef(depth, "%s: check_host(%s) (lookup %d/%d)", t.Text, name, e.lookups, MaxLookups)
		sub := e.checkHost(ctx, name, depth+1, true)
		// RFC 7208 5.2: how the included result maps.
		switch sub.result {
		case ResultPass:
			return true, outcome{}
		case ResultFail, ResultSoftfail, ResultNeutral:
			e.tracef(depth, "%s: included %s: no match", t.Text, sub.result)
			return false, outcome{}
		case ResultTemperror:
			return false, outcome{result: ResultTemperror, err: sub.err}
		case ResultNone:
			err := fmt.Errorf("%w: include:%s: %v", ErrIncludeNone, name, sub.err)
			e.tracef(depth, "%v: permerror", err)
			return false, outcome{result: ResultPermerror, err: err}
		default:
			return false, outcome{result: ResultPermerror, err: sub.err}
		}

	case "a":
		name, err := e.target(t, env)
		if err != nil {
			return false, e.macroFailure(depth, t, err, nil)
		}
		ok, out := e.addrMatch(ctx, t, name, qtype, true, depth)
		return ok, out

	case "mx":
		name, err := e.target(t, env)
		if err != nil {
			return false, e.macroFailure(depth, t, err, nil)
		}
		return e.mx(ctx, t, name, qtype, depth)

	case "ptr":
		name, err := e.target(t, env)
		if err != nil {
			return false, e.macroFailure(depth, t, err, nil)
		}
		return e.ptr(ctx, t, name, qtype, depth)

	case "exists":
		name, err := e.target(t, env)
		if err != nil {
			return false, e.macroFailure(depth, t, err, nil)
		}
		if !queryable(name) {
			e.tracef(depth, "%s: %q is not a valid name: no match", t.Text, name)
			return false, outcome{}
		}
		// RFC 7208 5.7: an A lookup, whatever the client's family.
		res, err := e.lookup(ctx, name, dns.TypeA)
		if errors.Is(err, dnsx.ErrInvalidName) {
			e.tracef(depth, "%s: %v: no match", t.Text, err)
			return false, outcome{}
		}
		if err != nil {
			e.tracef(depth, "%s: A %s: %v: temperror", t.Text, name, err)
			return false, dnsFailure(err)
		}
		if !res.Exists() {
			e.tracef(depth, "%s: A %s: %s (void lookup)", t.Text, name, res.Status)
			if err := e.countVoid(); err != nil {
				return false, outcome{result: ResultPermerror, err: err}
			}
			return false, outcome{}
		}
		e.tracef(depth, "%s: A %s exists: match", t.Text, name)
		return true, outcome{}
	}
	return false, outcome{result: ResultPermerror, err: fmt.Errorf("unknown mechanism %q", t.Name)}
}

// cidrMatch compares the client with an address under the a/mx mechanism's
// CIDR lengths (RFC 7208 5.3, 5.4: ip4-cidr-length for IPv4 clients,
// ip6-cidr-length for IPv6 ones).
func (e *evaluator) cidrMatch(t *Term, a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() != e.ip.Is4() {
		return false
	}
	bits := a.BitLen()
	if a.Is4() && t.CIDR4 >= 0 {
		bits = t.CIDR4
	} else if a.Is6() && t.CIDR6 >= 0 {
		bits = t.CIDR6
	}
	p, err := a.Prefix(bits)
	return err == nil && p.Contains(e.ip)
}

// addrMatch is the "a" mechanism (RFC 7208 5.3): the address records of
// name, of the client's family.
func (e *evaluator) addrMatch(ctx context.Context, t *Term, name string, qtype uint16, countVoid bool, depth int) (bool, outcome) {
	if !queryable(name) {
		e.tracef(depth, "%s: %q is not a valid name: no match", t.Text, name)
		return false, outcome{}
	}
	res, err := e.lookup(ctx, name, qtype)
	if errors.Is(err, dnsx.ErrInvalidName) {
		e.tracef(depth, "%s: %v: no match", t.Text, err)
		return false, outcome{}
	}
	if err != nil {
		e.tracef(depth, "%s: %s %s: %v: temperror", t.Text, dnsx.TypeString(qtype), name, err)
		return false, dnsFailure(err)
	}
	if !res.Exists() {
		e.tracef(depth, "%s: %s %s: %s (void lookup)", t.Text, dnsx.TypeString(qtype), name, res.Status)
		if countVoid {
			if err := e.countVoid(); err != nil {
				return false, outcome{result: ResultPermerror, err: err}
			}
		}
		return false, outcome{}
	}
	for _, a := range res.IPs() {
		if e.cidrMatch(t, a) {
			e.tracef(depth, "%s: %s %s has %s: match", t.Text, dnsx.TypeString(qtype), name, a)
			return true, outcome{}
		}
	}
	e.tracef(depth, "%s: %s %s: %s: no match", t.Text, dnsx.TypeString(qtype), name, addrList(res.IPs()))
	return false, outcome{}
}

func addrList(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

// mx is the "mx" mechanism (RFC 7208 5.4).
func (e *evaluator) mx(ctx context.Context, t *Term, name string, qtype uint16, depth int) (bool, outcome) {
	if !queryable(name) {
		e.tracef(depth, "%s: %q is not a valid name: no match", t.Text, name)
		return false, outcome{}
	}
	res, err := e.lookup(ctx, name, dns.TypeMX)
	if errors.Is(err, dnsx.ErrInvalidName) {
		e.tracef(depth, "%s: %v: no match", t.Text, err)
		return false, outcome{}
	}
	if err != nil {
		e.tracef(depth, "%s: MX %s: %v: temperror", t.Text, name, err)
		return false, dnsFailure(err)
	}
	mxs := res.MX()
	if len(mxs) == 0 {
		// RFC 7208 5.4: no MX records: no match (no fallback to A).
		e.tracef(depth, "%s: MX %s: %s (void lookup)", t.Text, name, res.Status)
		if err := e.countVoid(); err != nil {
			return false, outcome{result: ResultPermerror, err: err}
		}
		return false, outcome{}
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Preference < mxs[j].Preference })
	var hosts []string
	for _, m := range mxs {
		if h := strings.TrimSuffix(m.Mx, "."); h != "" { // a null MX (RFC 7505) names no host
			hosts = append(hosts, h)
		}
	}
	// RFC 7208 4.6.4: at most 10 MX names are looked up; needing more is
	// permerror. The lookups of one mechanism are independent, so they go
	// out together; the results are read in MX order.
	n := min(len(hosts), maxNames)
	type answer struct {
		res *dnsx.Result
		err error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if !queryable(hosts[i]) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.lookup(ctx, hosts[i], qtype)
			answers[i] = answer{res, err}
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		a := answers[i]
		if errors.Is(a.err, dnsx.ErrInvalidName) {
			continue
		}
		if a.err != nil {
			e.tracef(depth, "%s: %s %s: %v: temperror", t.Text, dnsx.TypeString(qtype), hosts[i], a.err)
			return false, dnsFailure(a.err)
		}
		if a.res == nil {
			continue
		}
		for _, ip := range a.res.IPs() {
			if e.cidrMatch(t, ip) {
				e.tracef(depth, "%s: MX host %s has %s: match", t.Text, hosts[i], ip)
				return true, outcome{}
			}
		}
	}
	if len(hosts) > maxNames {
		e.tracef(depth, "%s: %s has %d MX hosts: %v", t.Text, name, len(hosts), ErrTooManyMX)
		return false, outcome{result: ResultPermerror, err: fmt.Errorf("%w: %s has %d", ErrTooManyMX, name, len(hosts))}
	}
	e.tracef(depth, "%s: MX hosts %s: no match", t.Text, strings.Join(hosts, ", "))
	return false, outcome{}
}

// ptrLookup returns the first 10 PTR names of the client (RFC 7208 4.6.4:
// the others are ignored), lower-case without the trailing dot.
func (e *evaluator) ptrLookup(ctx context.Context) ([]string, error) {
	res, err := e.lookup(ctx, dnsx.ReverseName(e.ip), dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range res.Names() {
		if len(names) == maxNames {
			break
		}
		names = append(names, strings.TrimSuffix(n, "."))
	}
	return names, nil
}

// validate looks up the addresses of names concurrently and returns those
// that resolve to the client, in the order given. Failed lookups are
// skipped (RFC 7208 5.5: "If a DNS error occurs while doing an A RR lookup,
// then that domain name is skipped and the search continues"); an
// --offline answer is returned as an error.
func (e *evaluator) validate(ctx context.Context, names []string, qtype uint16) ([]string, error) {
	ok := make([]bool, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		if !queryable(n) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.lookup(ctx, n, qtype)
			if err != nil {
				errs[i] = err
				return
			}
			for _, a := range res.IPs() {
				if a.Unmap() == e.ip {
					ok[i] = true
				}
			}
		}()
	}
	wg.Wait()
	var out []string
	for i, n := range names {
		if errors.Is(errs[i], ErrOffline) {
			return nil, errs[i]
		}
		if ok[i] {
			out = append(out, n)
		}
	}
	return out, nil
}

// ptr is the "ptr" mechanism (RFC 7208 5.5).
func (e *evaluator) ptr(ctx context.Context, t *Term, target string, qtype uint16, depth int) (bool, outcome) {
	names, err := e.ptrLookup(ctx)
	if errors.Is(err, ErrOffline) {
		return false, dnsFailure(err)
	}
	if err != nil {
		// RFC 7208 5.5: a DNS error on the PTR lookup: no match.
		e.tracef(depth, "%s: PTR lookup failed (%v): no match", t.Text, err)
		return false, outcome{}
	}
	if len(names) == 0 {
		e.tracef(depth, "%s: no PTR records (void lookup)", t.Text)
		if err := e.countVoid(); err != nil {
			return false, outcome{result: ResultPermerror, err: err}
		}
		return false, outcome{}
	}
	// Only names equal to or below the target can match; the others need
	// no validation.
	var cands []string
	for _, n := range names {
		if isSubdomain(n, target) {
			cands = append(cands, n)
		}
	}
	valid, err := e.validate(ctx, cands, qtype)
	if err != nil {
		return false, dnsFailure(err)
	}
	if len(valid) > 0 {
		e.tracef(depth, "%s: validated %s under %s: match", t.Text, valid[0], target)
		return true, outcome{}
	}
	e.tracef(depth, "%s: PTR names %s: none validated under %s: no match", t.Text, strings.Join(names, ", "), target)
	return false, outcome{}
}

// isSubdomain reports whether name is domain or below it (case-insensitive).
func isSubdomain(name, domain string) bool {
	name, domain = strings.ToLower(strings.TrimSuffix(name, ".")), strings.ToLower(strings.TrimSuffix(domain, "."))
	return name == domain || strings.HasSuffix(name, "."+domain)
}

// validatedDomain computes %{p} (RFC 7208 7.3): a validated PTR name of the
// client, preferring <domain> itself, then a subdomain of it, then any;
// "unknown" when there is none or a DNS error occurs. It counts against the
// lookup limit (RFC 7208 4.6.4).
func (e *evaluator) validatedDomain(ctx context.Context, domain string) (string, error) {
	if err := e.countLookup(); err != nil {
		return "", err
	}
	return e.pValue(ctx, domain)
}

func (e *evaluator) pValue(ctx context.Context, domain string) (string, error) {
	var offline error
	e.ptrOnce.Do(func() {
		qtype := dns.TypeA
		if e.ip.Is6() {
			qtype = dns.TypeAAAA
		}
		names, err := e.ptrLookup(ctx)
		if err != nil {
			if errors.Is(err, ErrOffline) {
				offline = err
			}
			return
		}
		e.ptrNames, offline = e.validate(ctx, names, qtype)
	})
	if offline != nil {
		return "", offline
	}
	for _, n := range e.ptrNames {
		if strings.EqualFold(n, domain) {
			return n, nil
		}
	}
	for _, n := range e.ptrNames {
		if isSubdomain(n, domain) {
			return n, nil
		}
	}
	if len(e.ptrNames) > 0 {
		return e.ptrNames[0], nil
	}
	return "unknown", nil
}

// explain computes the explanation for a fail (RFC 7208 6.2). Any problem
// (expansion, DNS, not exactly one TXT record, non-ASCII or bad macro
// syntax) means no explanation. Its lookups do not count against the
// limits.
func (e *evaluator) explain(ctx context.Context, rec *Record, domain string) string {
	exp := rec.Exp()
	if exp == nil {
		return ""
	}
	env := e.env
	env.Domain = domain
	env.ValidatedDomain = func() (string, error) { return e.pValue(ctx, domain) }
	name, err := expandDomain(exp.DomainSpec, &env)
	if err != nil || !queryable(name) {
		return ""
	}
	res, err := e.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return ""
	}
	txts := res.TXT()
	if len(txts) != 1 {
		return ""
	}
	ms, err := ParseExplanation(txts[0])
	if err != nil {
		return ""
	}
	s, err := ms.Expand(&env)
	if err != nil {
		return ""
	}
	e.tracef(0, "explanation from %s: %q", name, s)
	return s
}
