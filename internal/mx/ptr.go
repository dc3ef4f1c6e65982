package mx

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

const ptrCheck = "ptr"

// PTR lookup statuses (PTRResult.Status, PTRName.Status).
const (
	PTROK         = "ok"
	PTRNXDomain   = "nxdomain"
	PTRNoData     = "nodata"
	PTRError      = "error"      // the lookup failed: unknown
	PTROffline    = "offline"    // not asked (--offline)
	PTRUnroutable = "unroutable" // private/loopback: receivers never see it
	PTRInvalid    = "invalid"    // the PTR target is not a valid host name
)

// Role says why an address is checked, which decides how much a broken
// reverse DNS matters.
type Role string

// Roles.
const (
	// RoleSender: the address sends mail (an IP target, --ip). Missing or
	// unconfirmed reverse DNS gets mail refused.
	RoleSender Role = "sender"
	// RoleMXHost: an MX host of the domain. Receiving needs no PTR, but MX
	// hosts often send too (replies, forwards, bounces).
	RoleMXHost Role = "mx-host"
)

// maxPTRNames bounds the forward lookups per address; an address with more
// PTR records than this is misconfigured anyway.
const maxPTRNames = 10

// PTRName is one PTR target and its forward lookup.
type PTRName struct {
	Name      string       `json:"name"`
	Status    string       `json:"status"` // of the forward (A or AAAA) lookup
	Addrs     []netip.Addr `json:"addrs"`
	Confirmed bool         `json:"confirmed"` // Addrs contains the IP
	Error     string       `json:"error,omitempty"`
	Generic   string       `json:"generic,omitempty"` // why the name looks generic
}

// PTRResult is the reverse DNS of one IP address: its PTR names and
// whether one of them resolves back to it (forward-confirmed reverse DNS,
// FCrDNS; the "iprev" method of RFC 8601 2.7.3).
type PTRResult struct {
	IP          netip.Addr `json:"ip"`
	ReverseName string     `json:"reverse_name"`
	Role        Role       `json:"role"`
	Host        string     `json:"host,omitempty"` // the MX host the address belongs to
	Status      string     `json:"status"`         // of the PTR lookup
	Names       []PTRName  `json:"names"`
	FCrDNS      bool       `json:"fcrdns"`
	Error       string     `json:"error,omitempty"`
	// Findings are judged for Role.
	Findings []findings.Finding `json:"-"`
}

// CheckPTR checks the reverse DNS of a sending IP.
func CheckPTR(ctx context.Context, r dnsx.Resolver, ip netip.Addr) *PTRResult {
	return checkPTR(ctx, r, ip, RoleSender, "")
}

func checkPTR(ctx context.Context, r dnsx.Resolver, ip netip.Addr, role Role, host string) *PTRResult {
	ip = ip.Unmap()
	res := &PTRResult{IP: ip, ReverseName: strings.TrimSuffix(dnsx.ReverseName(ip), "."), Role: role, Host: host, Names: []PTRName{}}
	defer func() {
		for i := range res.Findings {
			res.Findings[i].Check = ptrCheck
			if role == RoleMXHost {
				demote(&res.Findings[i], host)
			}
		}
	}()
	if Unroutable(ip) {
		res.Status = PTRUnroutable
		res.Findings = append(res.Findings, findings.Finding{
			ID: "ptr.unroutable", Severity: findings.SeverityInfo,
			Title:  fmt.Sprintf("%s is a %s address: receivers never see it, so its reverse DNS was not judged", ip, Reserved(ip)),
			Detail: "Mail from behind NAT reaches receivers from a public address; check that one (deliverdoctor ptr PUBLIC-IP).",
		})
		return res
	}
	names, pres, err := dnsx.LookupPTR(ctx, r, ip)
	if err != nil {
		res.Status, res.Error = PTRError, err.Error()
		res.Findings = append(res.Findings, ptrDNSError(fmt.Sprintf("the PTR record of %s", ip), err))
		return res
	}
	if pres.Offline {
		res.Status = PTROffline
		res.Findings = append(res.Findings, findings.Finding{
			ID: "ptr.not-checked", Severity: findings.SeverityInfo,
			Title: fmt.Sprintf("reverse DNS of %s not checked: --offline and %s is in no --zone file", ip, res.ReverseName),
			Fix:   "Load the reverse zone with --zone, or run without --offline.",
		})
		return res
	}
	if len(names) == 0 {
		res.Status = PTRNoData
		if pres.Status == dnsx.StatusNXDomain {
			res.Status = PTRNXDomain
		}
		res.Findings = append(res.Findings, missingPTR(res, pres))
		return res
	}
	res.Status = PTROK
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > maxPTRNames {
		names = names[:maxPTRNames]
	}
	res.Names = make([]PTRName, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		res.Names[i] = PTRName{Name: strings.TrimSuffix(n, ".")}
		wg.Add(1)
		go func() {
			defer wg.Done()
			forward(ctx, r, ip, &res.Names[i])
		}()
	}
	wg.Wait()
	for i := range res.Names {
		if res.Names[i].Confirmed {
			res.FCrDNS = true
		}
		if rule, ok := GenericPTR(res.Names[i].Name, ip); ok {
			res.Names[i].Generic = fmt.Sprintf("%s (%s rule %s)", rule.Why, rule.Kind, rule.Pattern)
		}
	}
	res.Findings = append(res.Findings, ptrFindings(res)...)
	return res
}

// forward looks up the PTR name's addresses of the IP's family and checks
// that the IP is among them (RFC 8601 2.7.3).
func forward(ctx context.Context, r dnsx.Resolver, ip netip.Addr, n *PTRName) {
	n.Addrs = []netip.Addr{}
	if err := ValidHostname(n.Name); err != nil {
		n.Status, n.Error = PTRInvalid, err.Error()
		return
	}
	qtype := dns.TypeA
	if ip.Is6() {
		qtype = dns.TypeAAAA
	}
	fr, err := r.Lookup(ctx, n.Name, qtype)
	switch {
	case errors.Is(err, dnsx.ErrInvalidName):
		n.Status, n.Error = PTRInvalid, err.Error()
	case err != nil:
		n.Status, n.Error = PTRError, err.Error()
	case fr.Offline:
		n.Status = PTROffline
	case fr.Status == dnsx.StatusNXDomain:
		n.Status = PTRNXDomain
	case len(fr.IPs()) == 0:
		n.Status = PTRNoData
	default:
		n.Status = PTROK
		for _, a := range fr.IPs() {
			n.Addrs = append(n.Addrs, a.Unmap())
			if a.Unmap() == ip {
				n.Confirmed = true
			}
		}
	}
}

func family(ip netip.Addr) string {
	if ip.Is6() {
		return "AAAA"
	}
	return "A"
}

func suggestedName(res *PTRResult) string {
	if res.Host != "" {
		return res.Host
	}
	return "mail.example.com"
}

func missingPTR(res *PTRResult, pres *dnsx.Result) findings.Finding {
	ip := res.IP
	codes := []string{"5.7.25", "4.7.23", "5.7.1"}
	detail := "Gmail refuses mail from IPs without a PTR record (4.7.23 while it defers, then 5.7.25); many other receivers do the same or score such mail as spam."
	if ip.Is6() {
		codes = []string{"5.7.25", "4.7.25", "4.7.23", "5.7.1"}
		detail += " Over IPv6 it is stricter still: Microsoft 365 refuses with 450 4.7.25/550 5.7.25 and Gmail with 550 5.7.1 (IPv6 sending guidelines)."
	}
	name := suggestedName(res)
	return findings.Finding{
		ID: "ptr.missing", Severity: findings.SeverityFail,
		Title:       fmt.Sprintf("%s has no PTR record (reverse DNS)", ip),
		Detail:      detail,
		Evidence:    []string{fmt.Sprintf("%s PTR: %s (%s)", res.ReverseName, strings.ToUpper(string(pres.Status)), pres.Source)},
		BounceCodes: codes,
		Fix: fmt.Sprintf("Ask whoever controls %s (the hosting or cloud provider, or ISP; not the domain registrar) to publish %s. PTR %s. and make the name resolve back: %s. %s %s",
			ip, res.ReverseName, name, name, family(ip), ip),
		Refs: []string{"RFC 7372 3.3", "RFC 8601 2.7.3", "RFC 1912 2.1"},
	}
}

func ptrFindings(res *PTRResult) []findings.Finding {
	var fs []findings.Finding
	ip := res.IP
	var ev []string
	for _, n := range res.Names {
		ev = append(ev, fmt.Sprintf("%s PTR %s", res.ReverseName, n.Name))
	}
	if len(res.Names) > 1 {
		fs = append(fs, findings.Finding{
			ID: "ptr.multiple", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%s has %d PTR records", ip, len(res.Names)),
			Detail:   "Receivers usually look at one of them, in no defined order; one PTR per address, matching the HELO name, is the convention.",
			Evidence: ev,
			Refs:     []string{"RFC 1912 2.1"},
		})
	}
	if !res.FCrDNS {
		var unknown, offline, fev []string
		for _, n := range res.Names {
			switch n.Status {
			case PTRError:
				unknown = append(unknown, n.Name+": "+n.Error)
			case PTROffline:
				offline = append(offline, n.Name)
			case PTROK:
				fev = append(fev, fmt.Sprintf("%s %s %s (not %s)", n.Name, family(ip), joinAddrs(n.Addrs), ip))
			case PTRInvalid:
				fev = append(fev, fmt.Sprintf("%s is not a valid host name", n.Name))
			default:
				fev = append(fev, fmt.Sprintf("%s %s: %s", n.Name, family(ip), strings.ToUpper(n.Status)))
			}
		}
		switch {
		case len(unknown) > 0:
			f := ptrDNSError(fmt.Sprintf("the forward DNS of the PTR name(s) of %s", ip), errors.New(strings.Join(unknown, "; ")))
			f.Evidence = append(ev, unknown...)
			fs = append(fs, f)
		case len(offline) > 0:
			fs = append(fs, findings.Finding{
				ID: "ptr.not-checked", Severity: findings.SeverityInfo,
				Title:    fmt.Sprintf("forward DNS of %s's PTR name not checked: --offline and not in any --zone", ip),
				Evidence: append(ev, offline...),
				Fix:      "Load the zone of the PTR name with --zone, or run without --offline.",
			})
		default:
			name := res.Names[0].Name
			fs = append(fs, findings.Finding{
				ID: "ptr.not-fcrdns", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("reverse DNS of %s is not forward-confirmed: %s does not resolve back to it", ip, name),
				Detail:      "Receivers check that the PTR name's " + family(ip) + " records contain the connecting IP (FCrDNS, \"iprev\"). Gmail requires it (4.7.23, then 5.7.25); Postfix reject_unknown_client_hostname answers \"450 4.7.25 Client host rejected: cannot find your hostname\" (4.7.1 in older versions).",
				Evidence:    append(ev, fev...),
				BounceCodes: []string{"5.7.25", "4.7.23", "4.7.25", "5.7.1", "4.7.1"},
				Fix:         fmt.Sprintf("Add %s. %s %s (or change the PTR, through the IP's owner, to a name that resolves to %s).", name, family(ip), ip, ip),
				Refs:        []string{"RFC 8601 2.7.3", "RFC 7372 3.3", "RFC 1912 2.1"},
			})
		}
	}
	for _, n := range res.Names {
		if n.Generic == "" {
			continue
		}
		fs = append(fs, findings.Finding{
			ID: "ptr.generic", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the PTR name of %s, %s, looks generic (ISP-assigned)", ip, n.Name),
			Detail:      "Names that embed the address or words like dyn, dsl, pool or dhcp mark consumer and dynamic ranges; many receivers refuse or junk mail from them even when FCrDNS passes.",
			Evidence:    []string{fmt.Sprintf("%s PTR %s", res.ReverseName, n.Name), "matched: " + n.Generic},
			BounceCodes: []string{"5.7.1", "5.7.25", "4.7.1"},
			Fix:         fmt.Sprintf("Ask the IP's owner to set the PTR to a name of your own that identifies the mail server (e.g. %s), with a matching %s record, and use it as the HELO name.", suggestedName(res), family(ip)),
			Refs:        []string{"M3AAWG Best Practices for Managing SMTP Reverse DNS"},
		})
		break
	}
	return fs
}

func ptrDNSError(what string, err error) findings.Finding {
	f := findings.DNSError("ptr", what, err)
	f.Detail += " Receivers that hit the same failure defer mail (RFC 8601 \"temperror\")."
	f.Fix = "Retry; if it persists, check the reverse zone's name servers (the IP owner's) or use another resolver with --resolver."
	f.Refs = []string{"RFC 8601 2.7.3"}
	return f
}

// demote rewrites a finding about a sending IP for an MX host address:
// receiving mail needs no reverse DNS, so failures become warnings.
func demote(f *findings.Finding, host string) {
	if f.Severity == findings.SeverityFail {
		f.Severity = findings.SeverityWarn
	}
	if host != "" {
		f.Title = "MX host " + host + ": " + f.Title
	}
	if f.Severity == findings.SeverityWarn {
		f.Detail = strings.TrimSpace(f.Detail + " This address is an MX host: it matters when the server also sends mail (replies, forwards, bounces), as MX hosts often do.")
	}
}

// PTRCheck is the ptr check's result: the reverse DNS of one sending IP or
// of a domain's MX hosts.
type PTRCheck struct {
	Note      string       `json:"note,omitempty"`
	Addresses []*PTRResult `json:"addresses"`
	skipWhy   string
}

// PTRsForIP checks the reverse DNS of a sending IP.
func PTRsForIP(ctx context.Context, r dnsx.Resolver, ip netip.Addr) *PTRCheck {
	return &PTRCheck{Addresses: []*PTRResult{CheckPTR(ctx, r, ip)}}
}

// maxPTRAddrs bounds the addresses a domain's ptr check looks at.
const maxPTRAddrs = 20

// PTRsForDomain checks the reverse DNS of the addresses of a domain's MX
// hosts (an is the domain's MX analysis) and, when valid, of sender (the
// IP its mail is sent from, --ip).
func PTRsForDomain(ctx context.Context, r dnsx.Resolver, an *Result, sender netip.Addr) *PTRCheck {
	pc := &PTRCheck{Addresses: []*PTRResult{},
		Note: "checked the addresses of the MX hosts, which are often also the outbound servers; check the IPs your mail really leaves from with --ip or `deliverdoctor ptr IP`"}
	type job struct {
		ip   netip.Addr
		role Role
		host string
	}
	var jobs []job
	seen := map[netip.Addr]bool{}
	if sender.IsValid() {
		jobs = append(jobs, job{sender.Unmap(), RoleSender, ""})
		seen[sender.Unmap()] = true
		pc.Note = "checked the sending IP given with --ip and the addresses of the MX hosts"
	}
	for _, h := range an.Reachable() {
		for _, a := range h.Addrs {
			a = a.Unmap()
			if seen[a] || len(jobs) >= maxPTRAddrs {
				continue
			}
			seen[a] = true
			jobs = append(jobs, job{a, RoleMXHost, h.Name})
		}
	}
	if len(jobs) == 0 {
		switch {
		case an.Offline():
			pc.skipWhy = "not checked: --offline and the domain is in no --zone file"
		case an.Err != nil:
			pc.skipWhy = "not checked: the MX hosts could not be looked up"
		default:
			pc.skipWhy = "no MX host address to check"
		}
		return pc
	}
	pc.Addresses = make([]*PTRResult, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc.Addresses[i] = checkPTR(ctx, r, j.ip, j.role, j.host)
		}()
	}
	wg.Wait()
	return pc
}

// Findings returns the findings of every address.
func (c *PTRCheck) Findings() []findings.Finding {
	var fs []findings.Finding
	for _, a := range c.Addresses {
		fs = append(fs, a.Findings...)
	}
	return fs
}

// CheckResult turns the reverse DNS results into the ptr check's result.
func (c *PTRCheck) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: ptrCheck, Data: c, Findings: c.Findings()}
	if c.skipWhy != "" {
		cr.Status, cr.Summary = findings.StatusSkip, c.skipWhy
		return cr
	}
	var confirmed, missing, unconfirmed, unknown, notChecked int
	for _, a := range c.Addresses {
		switch {
		case a.FCrDNS:
			confirmed++
		case a.Status == PTRNXDomain || a.Status == PTRNoData:
			missing++
		case a.Status == PTROffline || a.Status == PTRUnroutable:
			notChecked++
		case a.Status == PTRError:
			unknown++
		default:
			if hasID(a.Findings, "ptr.not-fcrdns") {
				unconfirmed++
			} else if hasID(a.Findings, "ptr.dns-error") {
				unknown++
			} else {
				notChecked++
			}
		}
	}
	if notChecked == len(c.Addresses) {
		cr.Status = findings.StatusSkip
	} else {
		cr.Status = findings.StatusFromFindings(cr.Findings)
	}
	if len(c.Addresses) == 1 && c.Addresses[0].Role == RoleSender {
		a := c.Addresses[0]
		switch {
		case a.FCrDNS:
			cr.Summary = fmt.Sprintf("%s → %s (forward-confirmed)", a.IP, confirmedNames(a))
		case missing == 1:
			cr.Summary = fmt.Sprintf("%s has no PTR record", a.IP)
		case unconfirmed == 1:
			cr.Summary = fmt.Sprintf("%s → %s, which does not resolve back", a.IP, a.Names[0].Name)
		case unknown == 1:
			cr.Summary = fmt.Sprintf("%s: could not be determined (DNS failure)", a.IP)
		default:
			cr.Summary = fmt.Sprintf("%s: not checked (%s)", a.IP, a.Status)
		}
		return cr
	}
	parts := []string{fmt.Sprintf("%d forward-confirmed", confirmed)}
	for _, p := range []struct {
		n int
		s string
	}{{missing, "without PTR"}, {unconfirmed, "not forward-confirmed"}, {unknown, "DNS failure"}, {notChecked, "not checked"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.s))
		}
	}
	cr.Summary = fmt.Sprintf("%d address(es) of MX hosts (often also the outbound servers): %s", len(c.Addresses), strings.Join(parts, ", "))
	if c.Addresses[0].Role == RoleSender {
		cr.Summary = "sending IP and " + cr.Summary
	}
	return cr
}

func confirmedNames(a *PTRResult) string {
	var ns []string
	for _, n := range a.Names {
		if n.Confirmed {
			ns = append(ns, n.Name)
		}
	}
	return strings.Join(ns, ", ")
}

func hasID(fs []findings.Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}
