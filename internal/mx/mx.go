// Package mx analyses where a domain receives mail: MX records (RFC 5321
// 5.1), null MX (RFC 7505), the implicit MX fallback to A/AAAA, and the
// addresses of every MX host.
package mx

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// Host is one MX target and what its name resolves to.
type Host struct {
	Name       string       `json:"name"`
	Preference uint16       `json:"preference"`
	Addrs      []netip.Addr `json:"addrs"`
	CNAME      string       `json:"cname,omitempty"` // the alias target, if the MX name is a CNAME
	Status     string       `json:"status"`          // ok, nxdomain, nodata, error
	Error      string       `json:"error,omitempty"`
}

// Result is the MX analysis of a domain.
type Result struct {
	Domain   string `json:"domain"`
	Exists   bool   `json:"exists"`
	NullMX   bool   `json:"null_mx"`
	Implicit bool   `json:"implicit"` // no MX: mail goes to the domain's A/AAAA
	Hosts    []Host `json:"hosts"`
	// Findings are not part of Data in JSON: they go to the report.
	Findings []report.Finding `json:"-"`
	Err      error            `json:"-"` // the MX lookup itself could not be done
}

const check = "mx"

// Analyze looks up and judges the MX set of domain.
func Analyze(ctx context.Context, r dnsx.Resolver, domain string) *Result {
	res := &Result{Domain: domain, Hosts: []Host{}}
	mxs, mxRes, err := dnsx.LookupMX(ctx, r, domain)
	if err != nil {
		res.Err = err
		res.Findings = append(res.Findings, dnsErr("the MX records of "+domain, err))
		return res
	}
	if mxRes.Status == dnsx.StatusNXDomain {
		if mxRes.Offline {
			res.Err = errOffline
			return res
		}
		res.Findings = append(res.Findings, report.Finding{
			ID: "mx.nxdomain", Severity: report.SeverityFail,
			Title:       fmt.Sprintf("%s does not exist in the DNS (NXDOMAIN)", domain),
			Detail:      "Receivers check that the sender's domain exists; mail from a non-existent domain is refused, and nobody can reply to it.",
			Evidence:    []string{fmt.Sprintf("%s MX: NXDOMAIN (%s)", domain, mxRes.Source)},
			BounceCodes: []string{"5.1.8", "5.1.2", "5.7.27"},
			Fix:         "Register the domain or check its spelling; make sure its delegation (NS records at the parent) is in place.",
			Refs:        []string{"RFC 5321 3.6.2", "RFC 7505"},
		})
		return res
	}
	res.Exists = true
	for _, m := range mxs {
		if m.Mx == "." {
			res.NullMX = true
		}
	}
	if res.NullMX {
		f := report.Finding{
			ID: "mx.null-mx", Severity: report.SeverityFail,
			Title:       fmt.Sprintf("%s publishes a null MX: it declares that it accepts no mail", domain),
			Detail:      "RFC 7505 says receivers should refuse mail whose envelope sender uses a domain with a null MX, since bounces to it cannot be delivered.",
			Evidence:    mxEvidence(domain, mxs),
			BounceCodes: []string{"5.7.27", "5.1.10"},
			Fix:         "If this domain sends mail, replace the null MX (\"0 .\") with real MX records; if it never sends mail, also publish \"v=spf1 -all\" and a DMARC p=reject record.",
			Refs:        []string{"RFC 7505 3", "RFC 7505 4.2"},
		}
		if len(mxs) > 1 {
			f.ID = "mx.null-mx-mixed"
			f.Title = fmt.Sprintf("%s mixes a null MX with other MX records", domain)
			f.Detail = "RFC 7505 3: a domain that advertises a null MX must not advertise any other MX; receivers may treat it as null MX or as broken."
			f.Fix = "Remove the \"0 .\" record if the domain receives mail, or remove the other MX records if it does not."
		}
		res.Findings = append(res.Findings, f)
		return res
	}
	if len(mxs) == 0 { // NODATA: RFC 5321 5.1 implicit MX
		res.Implicit = true
		addrs, aerr := dnsx.LookupIP(ctx, r, domain)
		h := Host{Name: strings.TrimSuffix(dns.Fqdn(domain), "."), Status: "ok"}
		if addrs != nil {
			h.Addrs = addrs.Addrs
		}
		switch {
		case aerr != nil && (addrs == nil || len(addrs.Addrs) == 0):
			res.Err = aerr
			res.Findings = append(res.Findings, dnsErr("the A/AAAA records of "+domain, aerr))
			return res
		case len(h.Addrs) == 0:
			res.Findings = append(res.Findings, report.Finding{
				ID: "mx.no-mail-host", Severity: report.SeverityFail,
				Title:       fmt.Sprintf("%s has no MX and no A/AAAA record: no server receives its mail", domain),
				Detail:      "Receivers verify that a sender's domain can receive replies and bounces; with neither MX nor address records it cannot.",
				Evidence:    []string{domain + " MX: no records", domain + " A/AAAA: no records"},
				BounceCodes: []string{"5.4.4", "5.1.8"},
				Fix:         fmt.Sprintf("Publish MX records for %s pointing at the servers that receive its mail.", domain),
				Refs:        []string{"RFC 5321 5.1"},
			})
			return res
		}
		res.Hosts = append(res.Hosts, h)
		res.Findings = append(res.Findings, report.Finding{
			ID: "mx.implicit", Severity: report.SeverityWarn,
			Title:    fmt.Sprintf("%s has no MX records; mail falls back to its A/AAAA address", domain),
			Detail:   "RFC 5321 5.1 allows this implicit MX, but many receivers and spam filters treat a sending domain without MX as suspect, and web servers rarely accept mail.",
			Evidence: []string{domain + " MX: no records", fmt.Sprintf("%s A/AAAA: %s", domain, joinAddrs(h.Addrs))},
			Fix:      fmt.Sprintf("Publish an MX record for %s (or a null MX \"0 .\" if it must never receive mail).", domain),
			Refs:     []string{"RFC 5321 5.1"},
		})
		res.Findings = append(res.Findings, addrFindings(res.Hosts)...)
		return res
	}

	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Preference < mxs[j].Preference })
	res.Hosts = make([]Host, len(mxs))
	var wg sync.WaitGroup
	for i, m := range mxs {
		res.Hosts[i] = Host{Name: strings.TrimSuffix(strings.ToLower(m.Mx), "."), Preference: m.Preference}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resolveHost(ctx, r, &res.Hosts[i])
		}()
	}
	wg.Wait()
	res.Findings = append(res.Findings, hostFindings(domain, res.Hosts)...)
	return res
}

func resolveHost(ctx context.Context, r dnsx.Resolver, h *Host) {
	if ip, err := netip.ParseAddr(strings.Trim(h.Name, "[]")); err == nil {
		h.Status = "ip-literal"
		h.Addrs = []netip.Addr{ip}
		return
	}
	addrs, err := dnsx.LookupIP(ctx, r, h.Name)
	if addrs != nil {
		h.Addrs = addrs.Addrs
		if addrs.A != nil && len(addrs.A.CNAMEs) > 0 {
			h.CNAME = strings.TrimSuffix(addrs.A.Target(), ".")
		} else if addrs.AAAA != nil && len(addrs.AAAA.CNAMEs) > 0 {
			h.CNAME = strings.TrimSuffix(addrs.AAAA.Target(), ".")
		}
	}
	switch {
	case len(h.Addrs) > 0:
		h.Status = "ok"
	case err != nil:
		h.Status, h.Error = "error", err.Error()
	default:
		h.Status = string(addrs.Status())
		if addrs.Offline() {
			h.Status = "offline"
		}
	}
}

func hostFindings(domain string, hosts []Host) []report.Finding {
	var fs []report.Finding
	var bad, unknown []string
	for _, h := range hosts {
		switch h.Status {
		case "ip-literal":
			fs = append(fs, report.Finding{
				ID: "mx.target-ip-literal", Severity: report.SeverityFail,
				Title:       fmt.Sprintf("MX of %s points at an IP address (%s), not a host name", domain, h.Name),
				Detail:      "An MX record's exchange must be a domain name with A/AAAA records; most senders will not deliver to an IP literal in an MX.",
				Evidence:    []string{fmt.Sprintf("%s MX %d %s", domain, h.Preference, h.Name)},
				BounceCodes: []string{"5.4.4"},
				Fix:         fmt.Sprintf("Create a host name (e.g. mx.%s) with an A record for %s and point the MX at it.", domain, h.Name),
				Refs:        []string{"RFC 5321 5.1", "RFC 7505 3"},
			})
		case "nxdomain", "nodata":
			bad = append(bad, fmt.Sprintf("%s (%s)", h.Name, strings.ToUpper(h.Status)))
		case "error":
			unknown = append(unknown, h.Name+": "+h.Error)
		}
		if h.CNAME != "" {
			fs = append(fs, report.Finding{
				ID: "mx.target-cname", Severity: report.SeverityFail,
				Title:       fmt.Sprintf("MX host %s is a CNAME (to %s)", h.Name, h.CNAME),
				Detail:      "RFC 2181 10.3 and RFC 5321 5.1: an MX must point at a name with address records, not at an alias. Some MTAs refuse to deliver, others loop.",
				Evidence:    []string{fmt.Sprintf("%s CNAME %s", h.Name, h.CNAME)},
				BounceCodes: []string{"5.4.4", "4.4.3"},
				Fix:         fmt.Sprintf("Point the MX at %s directly.", h.CNAME),
				Refs:        []string{"RFC 2181 10.3", "RFC 5321 5.1"},
			})
		}
	}
	if len(bad) > 0 {
		sev := report.SeverityWarn
		title := fmt.Sprintf("%d of %d MX hosts of %s do not resolve", len(bad), len(hosts), domain)
		if len(bad) == len(hosts) {
			sev = report.SeverityFail
			title = fmt.Sprintf("no MX host of %s resolves to an address", domain)
		}
		fs = append(fs, report.Finding{
			ID: "mx.target-unresolvable", Severity: sev, Title: title,
			Evidence:    bad,
			BounceCodes: []string{"5.4.4", "4.4.3", "5.1.2"},
			Fix:         "Give every MX host an A and/or AAAA record, or remove the MX records that point at names that do not exist.",
			Refs:        []string{"RFC 5321 5.1"},
		})
	}
	if len(unknown) > 0 {
		f := dnsErr("the addresses of MX hosts", fmt.Errorf("%s", strings.Join(unknown, "; ")))
		f.Evidence = unknown
		fs = append(fs, f)
	}
	fs = append(fs, addrFindings(hosts)...)
	return fs
}

func addrFindings(hosts []Host) []report.Finding {
	var ev []string
	for _, h := range hosts {
		for _, a := range h.Addrs {
			if why := Reserved(a); why != "" {
				ev = append(ev, fmt.Sprintf("%s → %s (%s)", h.Name, a, why))
			}
		}
	}
	if len(ev) == 0 {
		return nil
	}
	return []report.Finding{{
		ID: "mx.private-address", Severity: report.SeverityWarn,
		Title:       "MX hosts resolve to private, loopback or reserved addresses",
		Detail:      "Other servers on the internet cannot reach these addresses, so mail to the domain (including bounces and replies) cannot be delivered there.",
		Evidence:    ev,
		BounceCodes: []string{"4.4.1", "5.4.4"},
		Fix:         "Publish the public addresses of the mail servers; keep internal addresses in internal DNS views only.",
		Refs:        []string{"RFC 6890"},
	}}
}

// Reserved says why an address cannot be reached from the internet ("" if
// it is a global unicast address).
func Reserved(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	}
	for _, p := range reservedPrefixes {
		if p.pfx.Contains(a) {
			return p.why
		}
	}
	return ""
}

var reservedPrefixes = []struct {
	pfx netip.Prefix
	why string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
}

func mxEvidence(domain string, mxs []*dns.MX) []string {
	var ev []string
	for _, m := range mxs {
		ev = append(ev, fmt.Sprintf("%s MX %d %s", domain, m.Preference, m.Mx))
	}
	return ev
}

func joinAddrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

func dnsErr(what string, err error) report.Finding {
	return report.Finding{
		ID: "mx.dns-error", Check: check, Severity: report.SeverityError,
		Title:  "could not look up " + what + ": the DNS did not answer",
		Detail: err.Error(),
		Fix:    "Retry; if it persists, check the domain's name servers or use another resolver with --resolver.",
	}
}

type offlineError struct{}

func (offlineError) Error() string { return "not asked: --offline and the domain is in no --zone file" }

var errOffline error = offlineError{}

// Offline reports whether the analysis could not be done because of --offline.
func (r *Result) Offline() bool { return r.Err == errOffline }

// CheckResult turns the analysis into the mx check's result.
func (r *Result) CheckResult() report.CheckResult {
	cr := report.CheckResult{Name: check, Data: r, Findings: r.Findings}
	if r.Offline() {
		cr.Status = report.StatusSkip
		cr.Summary = "not checked: " + r.Err.Error()
		return cr
	}
	cr.Status = report.StatusFromFindings(r.Findings)
	switch {
	case cr.Status == report.StatusError:
		cr.Summary = "could not be determined: DNS lookups failed"
	case !r.Exists:
		cr.Summary = "the domain does not exist"
	case r.NullMX:
		cr.Summary = "null MX: the domain accepts no mail"
	case r.Implicit && len(r.Hosts) > 0:
		cr.Summary = "no MX; implicit MX via A/AAAA"
	case len(r.Hosts) == 0:
		cr.Summary = "no mail host"
	default:
		ok := 0
		for _, h := range r.Hosts {
			if len(h.Addrs) > 0 {
				ok++
			}
		}
		cr.Summary = fmt.Sprintf("%d MX host(s), %d resolve", len(r.Hosts), ok)
	}
	return cr
}
