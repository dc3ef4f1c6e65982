// Package mx analyses where a domain receives mail: MX records (RFC 5321
// 5.1), null MX (RFC 7505), the implicit MX fallback to A/AAAA, and the
// addresses of every MX host. ptr.go checks reverse DNS (PTR and
// forward-confirmed reverse DNS) of sending IPs and MX hosts, and smtp.go
// turns SMTP probes of the MX hosts (package smtpprobe) into findings.
package mx

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Host status values.
const (
	HostOK        = "ok"         // resolves to at least one address
	HostNXDomain  = "nxdomain"   // the name does not exist
	HostNoData    = "nodata"     // the name exists without A/AAAA
	HostError     = "error"      // the lookup failed (SERVFAIL, timeout): unknown
	HostOffline   = "offline"    // not asked: --offline and outside every --zone
	HostIPLiteral = "ip-literal" // the MX exchange is an IP address
	HostInvalid   = "invalid"    // the MX exchange is not a valid host name
)

// Host is one MX target and what its name resolves to.
type Host struct {
	Name       string       `json:"name"`
	Preference uint16       `json:"preference"`
	Addrs      []netip.Addr `json:"addrs"`
	CNAME      string       `json:"cname,omitempty"` // the alias target, if the MX name is a CNAME
	Status     string       `json:"status"`          // see the Host* constants
	Error      string       `json:"error,omitempty"`
	// PartialError is a failed A or AAAA lookup when the other family
	// answered (the host is usable, but some senders will stumble).
	PartialError string `json:"partial_error,omitempty"`
}

// Result is the MX analysis of a domain.
type Result struct {
	Domain   string `json:"domain"`
	Exists   bool   `json:"exists"`
	NullMX   bool   `json:"null_mx"`
	Implicit bool   `json:"implicit"` // no MX: mail goes to the domain's A/AAAA
	Hosts    []Host `json:"hosts"`
	// Records is how many MX records the domain has; more than len(Hosts)
	// when only the first maxHosts were checked.
	Records int `json:"records,omitempty"`
	// Findings are not part of Data in JSON: they go to the report.
	Findings []findings.Finding `json:"-"`
	Err      error              `json:"-"` // the MX lookup itself could not be done
}

const check = "mx"

// maxHosts bounds how many MX targets are resolved; RFC 5321 sets no limit
// but real domains have a handful, and a hostile zone could list hundreds.
const maxHosts = 32

// Analyze looks up and judges the MX set of domain.
func Analyze(ctx context.Context, r dnsx.Resolver, domain string) *Result {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	res := &Result{Domain: domain, Hosts: []Host{}}
	defer func() {
		for i := range res.Findings {
			res.Findings[i].Check = check
		}
	}()
	set, err := MailHosts(ctx, r, domain)
	if err != nil {
		res.Err = err
		res.Findings = append(res.Findings, dnsErr("the MX records of "+domain, err))
		return res
	}
	mxs, mxRes := set.Records, set.Result
	if set.Kind == HostsOffline {
		res.Err = errOffline
		return res
	}
	if set.Kind == HostsNXDomain {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mx.nxdomain", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s does not exist in the DNS (NXDOMAIN)", domain),
			Detail:      "Receivers check that the sender's domain exists (Postfix reject_unknown_sender_domain, Gmail, Microsoft); mail from a non-existent domain is refused, and nobody can reply to it.",
			Evidence:    []string{fmt.Sprintf("%s MX: NXDOMAIN (%s)", domain, mxRes.Source)},
			BounceCodes: []string{"5.1.8", "4.1.8", "5.1.2"},
			Fix:         "Register the domain or check its spelling; make sure its delegation (NS records at the parent) is in place.",
			Refs:        []string{"RFC 5321 3.6.2", "RFC 5321 5.1"},
		})
		return res
	}
	res.Exists = true
	switch set.Kind {
	case HostsNull:
		res.NullMX = true
		res.Findings = append(res.Findings, nullMXFinding(domain, mxs))
		return res
	case HostsImplicit: // NODATA: RFC 5321 5.1 implicit MX
		return implicitMX(ctx, r, res)
	}
	res.Records = len(mxs)
	if len(mxs) > maxHosts {
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mx.too-many", Severity: findings.SeverityWarn,
			Title:    fmt.Sprintf("%s has %d MX records; only the first %d were checked", domain, len(mxs), maxHosts),
			Detail:   "Senders try only a few MX hosts before giving up for this attempt; a long list adds nothing but delay.",
			Evidence: mxEvidence(domain, mxs[:3]),
			Fix:      "Keep the MX set to the servers that really receive mail.",
			Refs:     []string{"RFC 5321 5.1"},
		})
		mxs = mxs[:maxHosts]
	}
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

func nullMXFinding(domain string, mxs []*dns.MX) findings.Finding {
	f := findings.Finding{
		ID: "mx.null-mx", Severity: findings.SeverityFail,
		Title:       fmt.Sprintf("%s publishes a null MX: it declares that it accepts no mail", domain),
		Detail:      "RFC 7505 4.2: receivers should refuse mail whose envelope sender uses a domain with a null MX, since bounces to it cannot be delivered; mail to the domain fails at once (RFC 7505 4.1).",
		Evidence:    mxEvidence(domain, mxs),
		BounceCodes: []string{"5.7.27", "5.1.10"},
		Fix:         "If this domain sends or receives mail, replace the null MX (\"0 .\") with real MX records; if it never does, also publish \"v=spf1 -all\" and a DMARC p=reject record.",
		Refs:        []string{"RFC 7505 3", "RFC 7505 4.2"},
	}
	if len(mxs) > 1 {
		f.ID = "mx.null-mx-mixed"
		f.Title = fmt.Sprintf("%s mixes a null MX with %d other MX record(s)", domain, len(mxs)-1)
		f.Detail = "RFC 7505 3: a domain that advertises a null MX must not advertise any other MX. Receivers may treat it as null MX (refusing mail from it with 5.7.27) or as broken."
		f.Fix = "Remove the \"0 .\" record if the domain receives mail, or remove the other MX records if it does not."
	} else if mxs[0].Preference != 0 {
		f.Detail += fmt.Sprintf(" The record has preference %d; RFC 7505 3 asks for 0.", mxs[0].Preference)
	}
	return f
}

// implicitMX handles a domain without MX records (RFC 5321 5.1: the domain
// itself is the mail host when it has address records).
func implicitMX(ctx context.Context, r dnsx.Resolver, res *Result) *Result {
	domain := res.Domain
	res.Implicit = true
	addrs, aerr := dnsx.LookupIP(ctx, r, domain)
	h := Host{Name: domain, Status: HostOK}
	if addrs != nil {
		h.Addrs = addrs.Addrs
	}
	switch {
	case aerr != nil && len(h.Addrs) == 0:
		res.Err = aerr
		res.Findings = append(res.Findings, dnsErr("the A/AAAA records of "+domain, aerr))
		return res
	case len(h.Addrs) == 0 && addrs.Offline():
		res.Err = errOffline
		return res
	case len(h.Addrs) == 0:
		res.Findings = append(res.Findings, findings.Finding{
			ID: "mx.no-mail-host", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s has no MX and no A/AAAA record: no server receives its mail", domain),
			Detail:      "Receivers verify that a sender's domain can receive replies and bounces (Postfix reject_unknown_sender_domain); with neither MX nor address records it cannot, and mail to it cannot be routed.",
			Evidence:    []string{domain + " MX: no records", domain + " A/AAAA: no records"},
			BounceCodes: []string{"5.1.8", "4.1.8", "5.4.4"},
			Fix:         fmt.Sprintf("Publish MX records for %s pointing at the servers that receive its mail (or a null MX \"%s. MX 0 .\" if it must never receive mail).", domain, domain),
			Refs:        []string{"RFC 5321 5.1", "RFC 7505"},
		})
		return res
	}
	if aerr != nil {
		h.PartialError = aerr.Error()
	}
	res.Hosts = append(res.Hosts, h)
	res.Findings = append(res.Findings, findings.Finding{
		ID: "mx.implicit", Severity: findings.SeverityWarn,
		Title:    fmt.Sprintf("%s has no MX records; mail falls back to its A/AAAA address", domain),
		Detail:   "RFC 5321 5.1 allows this implicit MX, but many receivers and spam filters treat a sending domain without MX as suspect, and web servers rarely accept mail.",
		Evidence: []string{domain + " MX: no records", fmt.Sprintf("%s A/AAAA: %s", domain, joinAddrs(h.Addrs))},
		Fix:      fmt.Sprintf("Publish an MX record for %s (or a null MX \"0 .\" if it must never receive mail).", domain),
		Refs:     []string{"RFC 5321 5.1"},
	})
	res.Findings = append(res.Findings, partialFindings(res.Hosts)...)
	res.Findings = append(res.Findings, addrFindings(res.Hosts)...)
	return res
}

func resolveHost(ctx context.Context, r dnsx.Resolver, h *Host) {
	if ip, err := netip.ParseAddr(strings.Trim(h.Name, "[]")); err == nil {
		h.Status = HostIPLiteral
		h.Addrs = []netip.Addr{ip.Unmap()}
		return
	}
	if err := ValidHostname(h.Name); err != nil {
		h.Status, h.Error = HostInvalid, err.Error()
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
		h.Status = HostOK
		if err != nil {
			h.PartialError = err.Error()
		}
	case errors.Is(err, dnsx.ErrInvalidName):
		h.Status, h.Error = HostInvalid, err.Error()
	case err != nil:
		h.Status, h.Error = HostError, err.Error()
	case addrs.Offline():
		h.Status = HostOffline
	default:
		h.Status = string(addrs.Status())
	}
}

// ValidHostname checks that name is a host name (RFC 1123 2.1, RFC 5321
// 4.1.2 "Domain"): dot-separated labels of letters, digits and hyphens,
// not starting or ending with a hyphen, at most 63 octets a label and 253
// in all. Underscores are tolerated: they occur in real host names and most
// MTAs accept them. name is in presentation form, so a label holding a
// space or another odd byte shows as an escape ("\032") and is refused.
func ValidHostname(name string) error {
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return errors.New("empty host name")
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" {
			return fmt.Errorf("empty label")
		}
		if len(l) > 63 {
			return fmt.Errorf("label longer than 63 characters")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("character %q is not allowed in a host name", c)
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
	}
	return nil
}

// ipInName matches exchange names that are an IPv4 address written into a
// zone file without the trailing dot, so the origin got appended
// ("192.0.2.1.example.com.").
func ipInName(name, domain string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, "."+domain)
	if !ok {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(rest)
	return ip, err == nil && ip.Is4()
}

func hostFindings(domain string, hosts []Host) []findings.Finding {
	var fs []findings.Finding
	var bad, unknown, offline []string
	for _, h := range hosts {
		ev := fmt.Sprintf("%s MX %d %s", domain, h.Preference, h.Name)
		switch h.Status {
		case HostIPLiteral:
			fs = append(fs, findings.Finding{
				ID: "mx.target-ip-literal", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("MX of %s points at an IP address (%s), not a host name", domain, h.Name),
				Detail:      "An MX record's exchange must be a host name with A/AAAA records (RFC 5321 5.1); senders will not deliver to an IP address in an MX, and receivers checking the sender's domain find no valid mail host.",
				Evidence:    []string{ev},
				BounceCodes: []string{"5.4.4", "5.1.8"},
				Fix:         fmt.Sprintf("Create a host name (e.g. mx.%s. A %s) and point the MX at it: %s. MX %d mx.%s.", domain, strings.Trim(h.Name, "[]"), domain, h.Preference, domain),
				Refs:        []string{"RFC 5321 5.1", "RFC 7505 3"},
			})
		case HostInvalid:
			fs = append(fs, findings.Finding{
				ID: "mx.target-invalid-name", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("MX of %s points at %q, which is not a valid host name", domain, h.Name),
				Detail:      h.Error,
				Evidence:    []string{ev},
				BounceCodes: []string{"5.4.4", "5.1.8"},
				Fix:         "Point the MX at the mail server's host name (letters, digits and hyphens, RFC 1123 2.1).",
				Refs:        []string{"RFC 5321 5.1", "RFC 1123 2.1"},
			})
		case HostNXDomain, HostNoData:
			e := fmt.Sprintf("%s (%s)", h.Name, strings.ToUpper(h.Status))
			if ip, ok := ipInName(h.Name, domain); ok {
				e += fmt.Sprintf(": the IP address %s with the zone origin appended: a missing trailing dot, and an IP address where a host name belongs", ip)
			} else if strings.HasSuffix(h.Name, "."+domain+"."+domain) || strings.HasSuffix(h.Name, domain+"."+domain) {
				e += ": the domain appears twice, a missing trailing dot in the zone file?"
			}
			bad = append(bad, e)
		case HostError:
			unknown = append(unknown, h.Name+": "+h.Error)
		case HostOffline:
			offline = append(offline, h.Name)
		}
		if h.CNAME != "" {
			fs = append(fs, findings.Finding{
				ID: "mx.target-cname", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("MX host %s is a CNAME (to %s)", h.Name, h.CNAME),
				Detail:      "RFC 2181 10.3 and RFC 5321 5.1: an MX must point at a name with address records, not at an alias. Some MTAs refuse to deliver, others loop or defer.",
				Evidence:    []string{ev, fmt.Sprintf("%s CNAME %s", h.Name, h.CNAME)},
				BounceCodes: []string{"5.4.4", "4.4.3"},
				Fix:         fmt.Sprintf("Point the MX at %s directly: %s. MX %d %s.", h.CNAME, domain, h.Preference, h.CNAME),
				Refs:        []string{"RFC 2181 10.3", "RFC 5321 5.1"},
			})
		}
	}
	if len(bad) > 0 {
		sev := findings.SeverityWarn
		title := fmt.Sprintf("%d of %d MX hosts of %s do not resolve", len(bad), len(hosts), domain)
		detail := "Senders skip MX hosts without addresses and try the next; mail still arrives, but every delivery pays for the dead entry, and it may hide a typo."
		if len(bad) == len(hosts) {
			sev = findings.SeverityFail
			title = fmt.Sprintf("no MX host of %s resolves to an address", domain)
			detail = "No server can receive mail for the domain, and receivers checking the sender's domain find no working mail host."
		}
		fs = append(fs, findings.Finding{
			ID: "mx.target-unresolvable", Severity: sev, Title: title, Detail: detail,
			Evidence:    bad,
			BounceCodes: []string{"5.4.4", "4.4.3", "5.1.8"},
			Fix:         "Give every MX host an A and/or AAAA record, or remove the MX records that point at names that do not exist.",
			Refs:        []string{"RFC 5321 5.1"},
		})
	}
	if len(unknown) > 0 {
		f := dnsErr("the addresses of MX hosts", errors.New(strings.Join(unknown, "; ")))
		f.Evidence = unknown
		fs = append(fs, f)
	}
	if len(offline) > 0 {
		fs = append(fs, findings.Finding{
			ID: "mx.host-not-checked", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%d MX host(s) were not resolved: --offline and not in any --zone", len(offline)),
			Evidence: offline,
			Fix:      "Add the zone that holds these names with --zone, or run without --offline.",
		})
	}
	fs = append(fs, partialFindings(hosts)...)
	fs = append(fs, preferenceFindings(domain, hosts)...)
	fs = append(fs, addrFindings(hosts)...)
	return fs
}

// partialFindings reports hosts whose A or AAAA lookup failed while the
// other family answered.
func partialFindings(hosts []Host) []findings.Finding {
	var ev []string
	for _, h := range hosts {
		if h.PartialError != "" {
			ev = append(ev, h.Name+": "+h.PartialError)
		}
	}
	if len(ev) == 0 {
		return nil
	}
	return []findings.Finding{{
		ID: "mx.partial-dns-error", Severity: findings.SeverityWarn,
		Title:       fmt.Sprintf("%d MX host(s) answer only part of their address lookups", len(ev)),
		Detail:      "One of the A/AAAA lookups failed (SERVFAIL or timeout) while the other answered. Senders that ask for the failing type first may defer mail.",
		Evidence:    ev,
		BounceCodes: []string{"4.4.3"},
		Fix:         "Make the name servers answer every record type for these names (NODATA, not SERVFAIL, when a type has no records).",
		Refs:        []string{"RFC 2308 2.2"},
	}}
}

// preferenceFindings notes MX hosts that share a preference (load
// balancing, RFC 5321 5.1) and MX names that lead to the same address (no
// real redundancy).
func preferenceFindings(domain string, hosts []Host) []findings.Finding {
	var fs []findings.Finding
	byPref := map[uint16][]string{}
	var prefs []uint16
	for _, h := range hosts {
		if _, ok := byPref[h.Preference]; !ok {
			prefs = append(prefs, h.Preference)
		}
		byPref[h.Preference] = append(byPref[h.Preference], h.Name)
	}
	var ev []string
	for _, p := range prefs {
		if len(byPref[p]) > 1 {
			ev = append(ev, fmt.Sprintf("preference %d: %s", p, strings.Join(byPref[p], ", ")))
		}
	}
	if len(ev) > 0 {
		fs = append(fs, findings.Finding{
			ID: "mx.equal-preference", Severity: findings.SeverityInfo,
			Title:    fmt.Sprintf("%s has MX hosts with equal preference: senders pick among them at random", domain),
			Detail:   "RFC 5321 5.1: hosts with the same preference are tried in random order, which spreads the load. If one of them is meant as a backup, give it a higher preference value.",
			Evidence: ev,
			Refs:     []string{"RFC 5321 5.1"},
		})
	}
	owners := map[netip.Addr][]string{}
	var order []netip.Addr
	for _, h := range hosts {
		for _, a := range h.Addrs {
			if _, ok := owners[a]; !ok {
				order = append(order, a)
			}
			if !containsStr(owners[a], h.Name) {
				owners[a] = append(owners[a], h.Name)
			}
		}
	}
	ev = nil
	for _, a := range order {
		if len(owners[a]) > 1 {
			ev = append(ev, fmt.Sprintf("%s ← %s", a, strings.Join(owners[a], ", ")))
		}
	}
	if len(ev) > 0 {
		fs = append(fs, findings.Finding{
			ID: "mx.shared-address", Severity: findings.SeverityInfo,
			Title:    "several MX names lead to the same address: the backup is the same server",
			Detail:   "If that server is down, every MX is down; a second MX only adds redundancy on a different machine and network.",
			Evidence: ev,
			Refs:     []string{"RFC 5321 5.1"},
		})
	}
	return fs
}

func addrFindings(hosts []Host) []findings.Finding {
	var ev []string
	only, total := 0, 0
	for _, h := range hosts {
		if len(h.Addrs) == 0 {
			continue
		}
		total++
		n := 0
		for _, a := range h.Addrs {
			if why := Reserved(a); why != "" {
				ev = append(ev, fmt.Sprintf("%s → %s (%s)", h.Name, a, why))
				n++
			}
		}
		if n == len(h.Addrs) {
			only++
		}
	}
	if len(ev) == 0 {
		return nil
	}
	title := fmt.Sprintf("%d address(es) of MX hosts are private, loopback or reserved", len(ev))
	if only > 0 {
		title = fmt.Sprintf("%d of %d MX hosts resolve only to private, loopback or reserved addresses", only, total)
	}
	return []findings.Finding{{
		ID: "mx.private-address", Severity: findings.SeverityWarn,
		Title:       title,
		Detail:      "Servers on the internet cannot reach these addresses, so mail to the domain (including bounces and replies) cannot be delivered there.",
		Evidence:    ev,
		BounceCodes: []string{"4.4.1", "5.4.4"},
		Fix:         "Publish the public addresses of the mail servers; keep internal addresses in internal DNS views only.",
		Refs:        []string{"RFC 6890", "RFC 1918"},
	}}
}

// Reserved says why an address cannot be reached from the internet ("" if
// it is a global unicast address). Special-purpose registries: RFC 6890.
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

// Unroutable reports the address kinds that only exist inside one network
// (loopback, RFC 1918/4193 private, link-local, unspecified, multicast): a
// receiver never sees them as a sending address. Documentation ranges are
// not included: examples use them.
func Unroutable(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsMulticast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a)
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
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
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

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func dnsErr(what string, err error) findings.Finding {
	return findings.DNSError(check, what, err)
}

type offlineError struct{}

func (offlineError) Error() string { return "--offline and the domain is in no --zone file" }

var errOffline error = offlineError{}

// Offline reports whether the analysis could not be done because of --offline.
func (r *Result) Offline() bool { return r.Err == errOffline }

// Reachable returns the hosts that have addresses, in preference order.
func (r *Result) Reachable() []Host {
	var hs []Host
	for _, h := range r.Hosts {
		if len(h.Addrs) > 0 && (h.Status == HostOK || h.Status == HostIPLiteral) {
			hs = append(hs, h)
		}
	}
	return hs
}

// CheckResult turns the analysis into the mx check's result.
func (r *Result) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: check, Data: r, Findings: r.Findings}
	if r.Offline() {
		cr.Status = findings.StatusSkip
		cr.Summary = "not checked: " + r.Err.Error()
		return cr
	}
	cr.Status = findings.StatusFromFindings(r.Findings)
	switch {
	case cr.Status == findings.StatusError:
		cr.Summary = "could not be determined: DNS lookups failed"
	case !r.Exists:
		cr.Summary = "the domain does not exist"
	case r.NullMX:
		cr.Summary = "null MX: the domain accepts no mail"
	case r.Implicit && len(r.Hosts) > 0:
		cr.Summary = "no MX; implicit MX via A/AAAA " + joinAddrs(r.Hosts[0].Addrs)
	case len(r.Hosts) == 0:
		cr.Summary = "no mail host"
	default:
		ok, off := 0, 0
		var names []string
		for _, h := range r.Hosts {
			if len(h.Addrs) > 0 {
				ok++
			}
			if h.Status == HostOffline {
				off++
			}
			if len(names) < 3 {
				names = append(names, h.Name)
			}
		}
		if len(r.Hosts) > 3 {
			names = append(names, "…")
		}
		cr.Summary = fmt.Sprintf("%d MX host(s) (%s), %d resolve", len(r.Hosts), strings.Join(names, ", "), ok)
		if r.Records > len(r.Hosts) {
			cr.Summary = fmt.Sprintf("%d MX host(s), the first %d checked (%s), %d resolve", r.Records, len(r.Hosts), strings.Join(names, ", "), ok)
		}
		if off > 0 {
			cr.Summary += fmt.Sprintf(", %d not checked (offline)", off)
		}
	}
	return cr
}
