package rbl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
)

// maxMXHosts bounds how many MX hosts are resolved for a domain.
const maxMXHosts = 10

// sources is what was learnt about the addresses that send for a domain.
type sources struct {
	mu       sync.Mutex
	byIP     map[netip.Addr]*Subject
	rank     map[netip.Addr]int // where it was first found: MX order, then SPF order
	order    []netip.Addr
	notes    []string
	problems []findings.Finding
}

func (s *sources) add(ip netip.Addr, source string, rank int) {
	ip = ip.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub, ok := s.byIP[ip]; ok {
		if !slices.Contains(sub.Sources, source) {
			sub.Sources = append(sub.Sources, source)
		}
		s.rank[ip] = min(s.rank[ip], rank)
		return
	}
	s.rank[ip] = rank
	sub := IPSubject(ip, source)
	if why := notPublic(ip); why != "" {
		sub.Skip = why
	}
	s.byIP[ip] = &sub
	s.order = append(s.order, ip)
}

func (s *sources) note(format string, a ...any) {
	s.mu.Lock()
	s.notes = append(s.notes, fmt.Sprintf(format, a...))
	s.mu.Unlock()
}

func (s *sources) problem(f findings.Finding) {
	s.mu.Lock()
	s.problems = append(s.problems, f)
	s.mu.Unlock()
}

// notPublic says why an address found in DNS is not worth asking a
// blocklist about: lists hold public addresses only.
func notPublic(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback address"
	case ip.IsPrivate():
		return "private address (RFC 1918 / RFC 4193)"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local address"
	case ip.IsUnspecified():
		return "unspecified address"
	case ip.IsMulticast():
		return "multicast address"
	}
	return ""
}

// SendingIPs finds the addresses that send mail for domain, and says where
// each came from: the addresses of its MX hosts (mail servers often send
// as well as receive) and the single addresses (ip4:…/32, ip6:…/128) its
// SPF record authorises (found with internal/spf). Networks wider than one address and include:,
// a and mx mechanisms are not expanded: a listing is about one address,
// and a provider's shared ranges are the provider's to watch. At most max
// addresses are returned. Lookup failures come back as findings: the
// addresses behind them could not be checked.
func SendingIPs(ctx context.Context, r dnsx.Resolver, domain string, max int) ([]Subject, []string, []findings.Finding) {
	s := &sources{byIP: map[netip.Addr]*Subject{}, rank: map[netip.Addr]int{}}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.mx(ctx, r, domain) }()
	go func() { defer wg.Done(); s.spf(ctx, r, domain) }()
	wg.Wait()
	// MX hosts by preference, then SPF in record order: stable output
	// although both are looked up at once.
	slices.SortFunc(s.order, func(a, b netip.Addr) int {
		if s.rank[a] != s.rank[b] {
			return s.rank[a] - s.rank[b]
		}
		return a.Compare(b)
	})
	var out []Subject
	for _, ip := range s.order {
		sub := *s.byIP[ip]
		slices.Sort(sub.Sources) // "MX …" sorts before "SPF …"
		out = append(out, sub)
	}
	if max > 0 && countChecked(out) > max {
		kept, n := out[:0], 0
		for _, sub := range out {
			if sub.Skip == "" {
				if n == max {
					continue
				}
				n++
			}
			kept = append(kept, sub)
		}
		s.notes = append(s.notes, fmt.Sprintf("%s has %d sending addresses; only the first %d were checked", domain, countChecked(out), max))
		out = kept
	}
	return out, s.notes, s.problems
}

func countChecked(ss []Subject) int {
	n := 0
	for _, s := range ss {
		if s.Skip == "" {
			n++
		}
	}
	return n
}

func (s *sources) mx(ctx context.Context, r dnsx.Resolver, domain string) {
	set, err := mx.MailHosts(ctx, r, domain)
	if err != nil {
		s.problem(dnsErrorFinding("the MX records of "+domain, err))
		return
	}
	switch set.Kind {
	case mx.HostsOffline:
		s.note("the MX records of %s were not asked (--offline)", domain)
		return
	case mx.HostsNXDomain:
		s.note("%s does not exist (NXDOMAIN): no MX hosts to check", domain)
		return
	case mx.HostsImplicit:
		s.note("%s has no MX records: no MX host addresses to check", domain)
		return
	case mx.HostsNull: // RFC 7505: the domain accepts no mail
		s.note("%s publishes a null MX: no MX hosts to check", domain)
		return
	}
	mxs := set.Hosts
	if len(mxs) > maxMXHosts {
		s.note("%s has %d MX hosts; the addresses of the first %d were checked", domain, len(mxs), maxMXHosts)
		mxs = mxs[:maxMXHosts]
	}
	var wg sync.WaitGroup
	for i, m := range mxs {
		host := m.Name
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs, err := dnsx.LookupIP(ctx, r, host)
			if addrs != nil {
				for j, ip := range addrs.Addrs {
					s.add(ip, fmt.Sprintf("MX %s (preference %d)", host, m.Preference), i*1000+j)
				}
			}
			if err != nil {
				s.problem(dnsErrorFinding("the addresses of MX host "+host, err))
			} else if addrs.Offline() {
				s.note("the addresses of MX host %s were not asked (--offline)", host)
			}
		}()
	}
	wg.Wait()
}

func (s *sources) spf(ctx context.Context, r dnsx.Resolver, domain string) {
	rec, _, err := spf.Lookup(ctx, r, domain)
	switch {
	case errors.Is(err, spf.ErrOffline):
		s.note("the SPF record of %s was not asked (--offline)", domain)
		return
	case errors.Is(err, spf.ErrNoRecord):
		s.note("%s has no SPF record: no SPF addresses to check", domain)
		return
	case dnsx.IsTemporary(err):
		s.problem(dnsErrorFinding("the SPF record of "+domain, err))
		return
	case rec == nil:
		if err == nil {
			err = errors.New("no usable record")
		}
		s.note("SPF record of %s not used: %s", domain, oneLine(err.Error()))
		return
	}
	// Only ip4/ip6 mechanisms that pass (RFC 7208 4.6.2: "+", the default)
	// authorise an address to send; "-ip4:" and "~ip4:" name addresses
	// that must not.
	var wide []string
	for i, t := range rec.Mechanisms() {
		if (t.Name != "ip4" && t.Name != "ip6") || t.Qualifier != spf.QualifierPass {
			continue
		}
		p := t.Prefix()
		if !p.IsValid() {
			continue
		}
		if p.IsSingleIP() {
			s.add(p.Addr(), "SPF "+t.Text, 1_000_000+i)
			continue
		}
		wide = append(wide, t.Text)
	}
	if len(wide) > 0 {
		s.note("the SPF record of %s also authorises %d %s (%s); blocklists are asked about single addresses only", domain, len(wide), plural(len(wide), "network", "networks"), strings.Join(firstN(wide, 3), ", "))
	}
}

func firstN(ss []string, n int) []string {
	if len(ss) <= n {
		return ss
	}
	return append(ss[:n:n], "…")
}

// dnsErrorFinding is a lookup that failed while gathering what to check.
func dnsErrorFinding(what string, err error) findings.Finding {
	f := findings.DNSError("rbl", what, err)
	f.Detail = oneLine(f.Detail) + " The addresses behind it were not checked."
	return f
}
