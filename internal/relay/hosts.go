package relay

import (
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
)

// Host is a mail server to probe: a name and its addresses.
type Host struct {
	Name  string
	Addrs []netip.Addr
}

// MailHosts finds the servers that receive mail for domain: its MX hosts
// in preference order, or the domain itself when it has no MX (RFC 5321
// 5.1 implicit MX). skip is set when there is nothing to probe (NXDOMAIN,
// null MX, --offline); findings report DNS failures (never as "no host").
func MailHosts(ctx context.Context, r dnsx.Resolver, domain string) (hosts []Host, skip string, found []findings.Finding) {
	set, err := mx.MailHosts(ctx, r, domain)
	if err != nil {
		return nil, "", []findings.Finding{dnsFinding("the MX records of "+domain, err)}
	}
	switch set.Kind {
	case mx.HostsOffline:
		return nil, "not probed: --offline and " + domain + " is in no --zone file", nil
	case mx.HostsNXDomain:
		return nil, domain + " does not exist (NXDOMAIN): no mail server to probe", nil
	case mx.HostsNull: // RFC 7505: a null MX says the domain receives no mail.
		return nil, domain + " has a null MX: it receives no mail, nothing to probe", nil
	}
	names := set.Names()
	hosts = make([]Host, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		hosts[i].Name = n
		if ip, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
			hosts[i].Addrs = []netip.Addr{ip.Unmap()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := dnsx.LookupIP(ctx, r, n)
			if a != nil {
				hosts[i].Addrs = smtpprobe.PreferIPv4(a.Addrs)
			}
			if len(hosts[i].Addrs) == 0 {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	var out []Host
	for i, h := range hosts {
		switch {
		case len(h.Addrs) > 0:
			out = append(out, h)
		case errs[i] != nil:
			found = append(found, dnsFinding("the address of "+h.Name, errs[i]))
		}
		// A name without addresses is the mx check's finding; nothing to probe.
	}
	if len(out) == 0 && len(found) == 0 {
		skip = "no MX host of " + domain + " has an address: nothing to probe"
	}
	return out, skip, found
}

// maxParallel bounds how many different servers are probed at once.
const maxParallel = 4

// ProbeHosts probes every host with base's settings. Hosts that share an
// address are probed once: one connection at a time per server, and the
// result is reported under the first name with the others as aliases.
// Different servers are probed concurrently (at most maxParallel).
func ProbeHosts(ctx context.Context, hosts []Host, base Options) []*Result {
	type group struct {
		names []string
		addrs []netip.Addr
	}
	var groups []*group
	byAddr := map[netip.Addr]*group{}
	for _, h := range hosts {
		if len(h.Addrs) == 0 {
			continue
		}
		if g, ok := byAddr[h.Addrs[0]]; ok {
			g.names = append(g.names, h.Name)
			continue
		}
		g := &group{names: []string{h.Name}, addrs: h.Addrs}
		byAddr[h.Addrs[0]] = g
		groups = append(groups, g)
	}
	results := make([]*Result, len(groups))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o := base
			o.Host, o.Addrs = g.names[0], g.addrs
			r := Probe(ctx, o)
			r.Aliases = g.names[1:]
			results[i] = r
		}()
	}
	wg.Wait()
	return results
}

func dnsFinding(what string, err error) findings.Finding {
	f := findings.DNSError(checkName, what, err)
	f.Detail += " Without the mail servers' addresses the relay probe cannot run."
	return f
}

// Target is what a relay probe is pointed at. A mail domain (Server
// false: check DOMAIN --relay) is probed on its mail hosts (MailHosts); a
// server (Server true: relay HOST) on its own addresses; an IP (IP set)
// on that address either way.
type Target struct {
	Name   string
	IP     netip.Addr
	Server bool
}

// ProbeTarget finds the servers t stands for and probes each with base's
// settings (ProbeHosts). skip is set when there is nothing to probe and
// says why; found are findings from finding the servers (DNS failures).
// A server name whose address lookup fails is probed as an unknown result
// with Failure "dns": the DNS not answering is "could not tell", never
// "no such host".
func ProbeTarget(ctx context.Context, r dnsx.Resolver, t Target, base Options) (results []*Result, skip string, found []findings.Finding) {
	switch {
	case t.IP.IsValid():
		return ProbeHosts(ctx, []Host{{Name: t.Name, Addrs: []netip.Addr{t.IP.Unmap()}}}, base), "", nil
	case !t.Server:
		hosts, skip, found := MailHosts(ctx, r, t.Name)
		if skip != "" {
			return nil, skip, nil
		}
		return ProbeHosts(ctx, hosts, base), "", found
	}
	host, skip, err := ServerHost(ctx, r, t.Name)
	if err != nil {
		port := base.Port
		if port == 0 {
			port = DefaultPort
		}
		return []*Result{{Host: t.Name, Port: port, Verdict: VerdictUnknown, Attempts: []Attempt{},
			Failure: "dns", Reason: "could not resolve " + t.Name + ": " + err.Error()}}, "", nil
	}
	if skip != "" {
		return nil, skip, nil
	}
	return ProbeHosts(ctx, []Host{host}, base), "", nil
}

// ServerHost resolves a server name to its addresses, IPv4 first. A name
// without any (skip says so) that is a mail domain gets a hint at probing
// its MX hosts instead; err is a DNS failure.
func ServerHost(ctx context.Context, r dnsx.Resolver, name string) (h Host, skip string, err error) {
	addrs, err := dnsx.LookupIP(ctx, r, name)
	if addrs != nil && len(addrs.Addrs) > 0 {
		return Host{Name: name, Addrs: smtpprobe.PreferIPv4(addrs.Addrs)}, "", nil
	}
	if err != nil {
		return Host{}, "", err
	}
	skip = name + " has no A or AAAA record"
	if mxs, _, err := dnsx.LookupMX(ctx, r, name); err == nil && len(mxs) > 0 {
		skip += "; it is a mail domain: probe its MX hosts with: deliverdoctor check " + name + " --relay"
	}
	return Host{}, skip, nil
}
