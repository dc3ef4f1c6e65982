package mx

import (
	"context"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// HostSetKind says how a domain's mail hosts were found.
type HostSetKind string

// Kinds of host sets.
const (
	HostsMX       HostSetKind = "mx"       // the domain's MX records
	HostsImplicit HostSetKind = "implicit" // no MX records: the domain itself (RFC 5321 5.1)
	HostsNull     HostSetKind = "null-mx"  // a null MX (RFC 7505): it receives no mail
	HostsNXDomain HostSetKind = "nxdomain" // the domain does not exist
	HostsOffline  HostSetKind = "offline"  // --offline and the domain is in no --zone file
)

// MailHost is one host that receives mail for a domain.
type MailHost struct {
	Name       string // lower case, no trailing dot
	Preference uint16
}

// HostSet is the one derivation of "the hosts that receive mail for a
// domain" that every check needing them uses (mx, ptr, smtp, rbl, relay,
// dane, mta-sts), so a null MX or a missing MX means the same everywhere.
type HostSet struct {
	Domain string
	Kind   HostSetKind
	// Hosts in preference order (ties by name), each name once. For
	// HostsImplicit it is the domain itself; for the other kinds but
	// HostsMX it is empty.
	Hosts []MailHost
	// Records are the MX records as published, sorted like Hosts (for
	// evidence); Result is the answer they came in (AD bit, source).
	Records []*dns.MX
	Result  *dnsx.Result
}

// Names returns the host names in order.
func (s *HostSet) Names() []string {
	var ns []string
	for _, h := range s.Hosts {
		ns = append(ns, h.Name)
	}
	return ns
}

// MailHosts finds the hosts that receive mail for domain. The rules, in
// order: NXDOMAIN means no host; any null MX target (".", RFC 7505) means
// the domain receives no mail, even beside other MX records (which are an
// error the mx check reports); no MX records means the domain itself
// (RFC 5321 5.1 implicit MX). An error is a DNS failure: never "no MX".
func MailHosts(ctx context.Context, r dnsx.Resolver, domain string) (*HostSet, error) {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	set := &HostSet{Domain: domain}
	mxs, res, err := dnsx.LookupMX(ctx, r, domain)
	if err != nil {
		return nil, err
	}
	set.Result = res
	sort.SliceStable(mxs, func(i, j int) bool {
		if mxs[i].Preference != mxs[j].Preference {
			return mxs[i].Preference < mxs[j].Preference
		}
		return strings.ToLower(mxs[i].Mx) < strings.ToLower(mxs[j].Mx)
	})
	set.Records = mxs
	switch {
	case res.Offline:
		set.Kind = HostsOffline
		return set, nil
	case res.Status == dnsx.StatusNXDomain:
		set.Kind = HostsNXDomain
		return set, nil
	}
	for _, m := range mxs {
		if m.Mx == "." {
			set.Kind = HostsNull
			return set, nil
		}
	}
	if len(mxs) == 0 {
		set.Kind = HostsImplicit
		set.Hosts = []MailHost{{Name: domain}}
		return set, nil
	}
	set.Kind = HostsMX
	seen := map[string]bool{}
	for _, m := range mxs {
		n := strings.TrimSuffix(strings.ToLower(m.Mx), ".")
		if !seen[n] {
			seen[n] = true
			set.Hosts = append(set.Hosts, MailHost{Name: n, Preference: m.Preference})
		}
	}
	return set, nil
}
