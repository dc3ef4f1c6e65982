package reports

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

// Options of the join with today's DNS.
type Options struct {
	// Resolver answers the DNS questions; nil means --offline: no join,
	// verdicts from the reports alone.
	Resolver dnsx.Resolver
	// Lists are the blocklists each source IP is looked up on (nil: none).
	Lists []rbl.List
	// Concurrency bounds the sources joined at once (default 8); the
	// resolver's cache makes every question once per run whatever it is.
	Concurrency int
}

// Finish joins the sources with today's DNS (unless opts.Resolver is
// nil), judges them and writes the findings.
func (b *Builder) Finish(ctx context.Context, opts Options) *Document {
	doc := b.doc
	doc.Offline = opts.Resolver == nil
	for _, s := range b.sources {
		src := s.s
		src.Disposition = s.disposition.list()
		src.Orgs = s.orgs.list()
		src.HeaderFrom = s.headerFrom.list()
		src.EnvelopeFrom = s.envelopeFrom.list()
		src.SPFDomains = s.spfDomains.list()
		src.Reasons = s.reasons.list()
		for _, d := range s.dkim {
			src.DKIM = append(src.DKIM, *d)
		}
		sort.Slice(src.DKIM, func(i, j int) bool {
			a, c := src.DKIM[i], src.DKIM[j]
			if a.Pass+a.Fail != c.Pass+c.Fail {
				return a.Pass+a.Fail > c.Pass+c.Fail
			}
			return a.Domain+a.Selector < c.Domain+c.Selector
		})
		if src.DKIM == nil {
			src.DKIM = []DKIMSeen{}
		}
		src.Begin, src.End = rfc3339(src.begin), rfc3339(src.end)
		doc.Sources = append(doc.Sources, src)
	}
	// Most messages first: the sources that matter lead.
	sort.Slice(doc.Sources, func(i, j int) bool {
		a, c := doc.Sources[i], doc.Sources[j]
		if a.Domain != c.Domain {
			return a.Domain < c.Domain
		}
		if a.Messages != c.Messages {
			return a.Messages > c.Messages
		}
		return a.IP < c.IP
	})
	j := &joiner{opts: opts, b: b, policy: map[string]*dmarc.Discovery{}, orgs: map[string]string{}}
	j.prepare(ctx)
	j.joinAll(ctx)
	for _, src := range doc.Sources {
		j.judge(src)
	}
	b.finishDomains(j)
	b.finishSelectors()
	b.finishTLS()
	doc.Findings = append(doc.Findings, b.found(j)...)
	if doc.Findings == nil {
		doc.Findings = []findings.Finding{}
	}
	doc.Status = findings.StatusFromFindings(doc.Findings)
	if len(doc.Reports) == 0 {
		doc.Status = findings.StatusSkip
	}
	if doc.Offline && len(doc.Sources) > 0 {
		doc.Notes = append(doc.Notes, "--offline: sources judged from the reports alone (no SPF, PTR or blocklist lookups today)")
	}
	return doc
}

// joiner holds what the join learnt: each policy domain's DMARC record
// and every domain's Organizational Domain.
type joiner struct {
	opts   Options
	b      *Builder
	mu     sync.Mutex
	policy map[string]*dmarc.Discovery
	orgs   map[string]string
	notes  []string
}

func (j *joiner) online() bool { return j.opts.Resolver != nil }

// org is the Organizational Domain of d: by the DNS tree walk when online
// (RFC 9989 4.10.2), else by the public suffix list.
func (j *joiner) org(d string) string {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if d == "" {
		return ""
	}
	j.mu.Lock()
	o, ok := j.orgs[d]
	j.mu.Unlock()
	if ok && o != "" {
		return o
	}
	return dmarc.PSLOrganizationalDomain(d)
}

func (j *joiner) prepare(ctx context.Context) {
	if !j.online() {
		return
	}
	r := j.opts.Resolver
	var names []string
	for _, s := range j.b.doc.Sources {
		names = append(names, s.Domain, envelopeDomain(s))
		for _, d := range s.DKIM {
			names = append(names, d.Domain)
		}
	}
	if orgs, err := dmarc.OrganizationalDomains(ctx, r, names...); err == nil {
		j.orgs = orgs
	} else {
		for k, v := range orgs {
			j.orgs[k] = v
		}
		j.notes = append(j.notes, fmt.Sprintf("Organizational Domains: %v (the public suffix list was used instead)", err))
	}
	for d := range j.b.domains {
		if d == "" {
			continue
		}
		disc, err := dmarc.Lookup(ctx, r, d)
		if err != nil {
			j.notes = append(j.notes, fmt.Sprintf("DMARC record of %s: %v", d, err))
			continue
		}
		j.policy[d] = disc
	}
}

// envelopeDomain is the MAIL FROM domain the source used most, else the
// domain SPF was checked for, else the policy domain.
func envelopeDomain(s *Source) string {
	for _, l := range [][]Count{s.EnvelopeFrom, s.SPFDomains} {
		for _, c := range l {
			if c.Value != "(others)" && c.Value != "" {
				return c.Value
			}
		}
	}
	return s.Domain
}

func (j *joiner) joinAll(ctx context.Context) {
	if !j.online() {
		for _, s := range j.b.doc.Sources {
			s.SPFNow = "skip"
		}
		return
	}
	n := j.opts.Concurrency
	if n <= 0 {
		n = 8
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, s := range j.b.doc.Sources {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j.join(ctx, s)
		}()
	}
	wg.Wait()
}

// join asks today's DNS about one source: check_host() for its envelope
// domain (and for the policy domain when that is another organization),
// its PTR name, and the blocklists.
func (j *joiner) join(ctx context.Context, s *Source) {
	r := j.opts.Resolver
	ip, err := netip.ParseAddr(s.IP)
	if err != nil {
		s.SPFNow = "skip"
		s.DNSError = fmt.Sprintf("%q is not an IP address", s.IP)
		return
	}
	env := envelopeDomain(s)
	ev := spf.CheckHost(ctx, r, spf.Args{IP: ip, Sender: "postmaster@" + env})
	s.SPFNow, s.SPFNowDomain, s.SPFMechanism = string(ev.Result), env, ev.Mechanism
	if ev.Result == spf.ResultTemperror {
		s.DNSError = fmt.Sprintf("SPF of %s: %s", env, ev.Error())
	}
	aligned := j.org(env) == j.org(s.Domain)
	if disc := j.policy[s.Domain]; disc != nil && disc.Record != nil && disc.Record.ASPFMode() == dmarc.AlignStrict {
		aligned = env == s.Domain
	}
	s.SPFAlignedNow = &aligned
	if j.org(env) != j.org(s.Domain) {
		pv := spf.CheckHost(ctx, r, spf.Args{IP: ip, Sender: "postmaster@" + s.Domain})
		s.SPFNowPolicy = string(pv.Result)
	}
	for i := range s.DKIM {
		a := j.org(s.DKIM[i].Domain) == j.org(s.Domain)
		s.DKIM[i].Aligned = &a
	}
	if p := mx.CheckPTR(ctx, r, ip); p != nil {
		for _, n := range p.Names {
			if n.Name != "" {
				s.PTR = strings.TrimSuffix(n.Name, ".")
				break
			}
		}
	}
	if len(j.opts.Lists) > 0 {
		rep := rbl.CheckIP(ctx, r, ip, rbl.Options{Lists: j.opts.Lists})
		for _, res := range rep.Results {
			if res.Status == rbl.StatusListed {
				s.Listed = append(s.Listed, res.List)
			}
		}
		for _, f := range rep.Findings {
			if f.Severity == findings.SeverityFail {
				s.rblFindings = append(s.rblFindings, f)
			}
		}
	}
}

// passShare is the share of messages a source must pass DMARC with to be
// "aligned": a few failures are forwarding and transient DNS trouble.
const passShare = 0.98

// judge gives a source its verdict, the reason, and for failing services
// the fix.
func (j *joiner) judge(s *Source) {
	env := envelopeDomain(s)
	org := j.org(s.Domain)
	envAligned := j.org(env) == org
	if s.SPFAlignedNow != nil {
		envAligned = *s.SPFAlignedNow
	}
	var ownDKIMFailing, foreignDKIMPassing []DKIMSeen
	for _, d := range s.DKIM {
		aligned := j.org(d.Domain) == org
		switch {
		case aligned && d.Fail > 0 && d.Pass == 0:
			ownDKIMFailing = append(ownDKIMFailing, d)
		case !aligned && d.Pass > 0:
			foreignDKIMPassing = append(foreignDKIMPassing, d)
		}
	}
	spfNowPass := s.SPFNow == string(spf.ResultPass)
	policyNowPass := s.SPFNowPolicy == string(spf.ResultPass)
	passing := s.Messages > 0 && float64(s.DMARCPass) >= passShare*float64(s.Messages)
	switch {
	case s.Messages == 0:
		s.Verdict, s.Reason = VerdictUnknown, "no messages"
	case passing && s.SPFAuthPass == 0 && s.DKIMAlignedPass > 0 && !(j.online() && spfNowPass && envAligned):
		s.Verdict = VerdictForwarded
		s.Reason = fmt.Sprintf("SPF fails for %s but an aligned DKIM signature passes: forwarded mail or a mailing list; expected", env)
	case passing:
		s.Verdict = VerdictAligned
		s.Reason = fmt.Sprintf("%d of %d messages pass DMARC", s.DMARCPass, s.Messages)
	case j.online() && spfNowPass && envAligned:
		s.Verdict = VerdictAligned
		s.Reason = fmt.Sprintf("%d of %d messages failed DMARC in the reports, but today's SPF record of %s authorises %s (%s) and the envelope domain aligns: fixed since", s.Failing(), s.Messages, env, s.IP, orDefault(s.SPFMechanism, "pass"))
	case (j.online() && (spfNowPass || policyNowPass)) || s.DMARCPass > 0 || len(ownDKIMFailing) > 0:
		s.Verdict = VerdictFailing
		s.Reason, s.Fix = failingWhy(s, env, envAligned, spfNowPass, policyNowPass, ownDKIMFailing, foreignDKIMPassing, j.online())
	case hasReason(s, "forwarded", "mailing_list", "trusted_forwarder"):
		s.Verdict = VerdictForwarded
		s.Reason = "the receiver marked this mail as forwarded (override reason); expected"
	default:
		s.Verdict = VerdictUnknown
		why := "no aligned SPF or DKIM pass"
		if j.online() {
			why = fmt.Sprintf("today's SPF of %s does not authorise %s (%s) and no DKIM signature aligned with %s passes", env, s.IP, s.SPFNow, s.Domain)
		}
		s.Reason = fmt.Sprintf("%s: unknown or spoofing; p=reject stops it once your own sources are fixed", why)
	}
}

func hasReason(s *Source, types ...string) bool {
	for _, c := range s.Reasons {
		if contains(types, c.Value) {
			return true
		}
	}
	return false
}

func failingWhy(s *Source, env string, envAligned, spfNowPass, policyNowPass bool, ownFailing, foreignPassing []DKIMSeen, online bool) (reason, fix string) {
	var why, fixes []string
	switch {
	case online && !envAligned && policyNowPass:
		why = append(why, fmt.Sprintf("your SPF record authorises %s, but it sends with its own envelope domain %s, which does not align", s.IP, env))
		fixes = append(fixes, fmt.Sprintf("set a custom MAIL FROM (return-path) domain under %s at the service, or", s.Domain))
	case online && !envAligned && spfNowPass:
		why = append(why, fmt.Sprintf("SPF passes for the service's own envelope domain %s, which does not align with %s", env, s.Domain))
		fixes = append(fixes, fmt.Sprintf("set a custom MAIL FROM (return-path) domain under %s at the service and add its include: to that domain's SPF, or", s.Domain))
	case online && envAligned && !spfNowPass:
		why = append(why, fmt.Sprintf("today's SPF record of %s does not authorise %s (%s)", env, s.IP, s.SPFNow))
		mech := "ip4:" + s.IP
		if strings.Contains(s.IP, ":") {
			mech = "ip6:" + s.IP
		}
		fixes = append(fixes, fmt.Sprintf("add include:<the service's SPF domain> (or %s) to the SPF record of %s, and", mech, env))
	case !online && s.DMARCPass > 0:
		why = append(why, fmt.Sprintf("%d of %d messages pass DMARC, so this is your sender, but the rest fail", s.DMARCPass, s.Messages))
	}
	if len(foreignPassing) > 0 {
		d := foreignPassing[0]
		why = append(why, fmt.Sprintf("it signs with DKIM d=%s, not %s", d.Domain, s.Domain))
		fixes = append(fixes, fmt.Sprintf("sign with d=%s: publish the service's DKIM key under a selector of %s and turn on custom-domain signing", s.Domain, s.Domain))
	}
	if len(ownFailing) > 0 {
		d := ownFailing[0]
		why = append(why, fmt.Sprintf("its DKIM signatures with d=%s (selector %s) fail", d.Domain, orDefault(d.Selector, "not reported")))
		if d.Selector != "" {
			fixes = append(fixes, fmt.Sprintf("check the key: deliverdoctor check %s --selector %s", s.Domain, d.Selector))
		} else {
			fixes = append(fixes, fmt.Sprintf("check the DKIM key the service signs %s with", d.Domain))
		}
	}
	if len(foreignPassing) == 0 && len(ownFailing) == 0 && len(fixes) > 0 {
		fixes = append(fixes, fmt.Sprintf("sign with d=%s", s.Domain))
	}
	if len(fixes) == 0 {
		fixes = append(fixes, fmt.Sprintf("authorise it in the SPF record of %s (include:… or ip4:) or sign its mail with d=%s", s.Domain, s.Domain))
	}
	reason = fmt.Sprintf("%d of %d messages fail DMARC: %s", s.Failing(), s.Messages, strings.Join(why, "; "))
	if len(why) == 0 {
		reason = fmt.Sprintf("%d of %d messages fail DMARC", s.Failing(), s.Messages)
	}
	fix = strings.TrimSuffix(strings.TrimSuffix(strings.Join(fixes, " "), ", or"), ", and")
	return reason, strings.ToUpper(fix[:1]) + fix[1:] + "."
}
