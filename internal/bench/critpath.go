package bench

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Query is one question as a server saw it, with the answer it gave.
type Query struct {
	Name   string // lower-case FQDN
	Type   uint16
	At     time.Time
	Answer []dns.RR
}

// Path is the result of the critical-path analysis.
type Path struct {
	Depth      int      // longest chain of dependent questions
	Chain      []string // that chain, first question first ("TYPE name")
	Unique     int      // distinct (name, type) asked
	Total      int      // questions received
	Duplicates int      // Total - Unique: questions asked more than once
}

// CriticalPath computes, from the questions a run asked and the answers it
// got, the longest chain of questions each of which could only be asked
// after the previous one was answered. The chain comes from the data, not
// from when we happened to ask: question Q depends on an earlier-answered
// question P only when Q's name is taken from P's answer:
//   - an address (A/AAAA) or TLSA question for a name that P's MX, CNAME,
//     PTR or NS data names (TLSA: _25._tcp.<MX host>);
//   - a question for a name that P's SPF record points to (include:,
//     redirect=, a:, mx:, exists:, ptr:);
//   - A/AAAA/MX of P's own name when P's SPF record has bare a or mx;
//   - a reverse (in-addr/ip6.arpa) or DNSBL question whose embedded IP
//     appears in P's A/AAAA data or its SPF ip4:/ip6: terms;
//   - a DMARC report authorisation (<d>._report._dmarc.<dest>) after the
//     _dmarc.<d> record naming dest.
//
// latency is the server's fixed delay: P counts as answered before Q only if
// Q arrived at least latency after P (a question asked before an answer
// existed cannot depend on it).
func CriticalPath(queries []Query, latency time.Duration) Path {
	sort.SliceStable(queries, func(i, j int) bool { return queries[i].At.Before(queries[j].At) })
	type node struct {
		q     Query
		depth int
		prev  int
	}
	var nodes []node
	seen := map[string]bool{}
	p := Path{Total: len(queries)}
	for _, q := range queries {
		key := q.Name + "/" + dns.TypeToString[q.Type]
		if seen[key] {
			p.Duplicates++
			continue
		}
		seen[key] = true
		n := node{q: q, depth: 1, prev: -1}
		for i := range nodes {
			parent := &nodes[i]
			if q.At.Sub(parent.q.At) < latency-latency/10 {
				continue
			}
			if parent.depth+1 > n.depth && dependsOn(q, parent.q) {
				n.depth, n.prev = parent.depth+1, i
			}
		}
		nodes = append(nodes, n)
	}
	p.Unique = len(nodes)
	best := -1
	for i, n := range nodes {
		if best < 0 || n.depth > nodes[best].depth {
			best = i
		}
	}
	if best < 0 {
		return p
	}
	p.Depth = nodes[best].depth
	for i := best; i >= 0; i = nodes[i].prev {
		p.Chain = append([]string{dns.TypeToString[nodes[i].q.Type] + " " + nodes[i].q.Name}, p.Chain...)
	}
	return p
}

func dependsOn(q, p Query) bool {
	switch q.Type {
	case dns.TypeA, dns.TypeAAAA:
		if namedIn(q.Name, p.Answer) {
			return true
		}
	case dns.TypeTLSA:
		if rest, ok := strings.CutPrefix(q.Name, "_25._tcp."); ok && namedIn(rest, p.Answer) {
			return true
		}
	}
	spf := spfTerms(p.Answer)
	if spf != nil {
		for _, t := range spf.targets {
			if t == q.Name {
				return true
			}
		}
		if q.Name == p.Name && ((spf.bareA && (q.Type == dns.TypeA || q.Type == dns.TypeAAAA)) || (spf.bareMX && q.Type == dns.TypeMX)) {
			return true
		}
	}
	if ip, ok := embeddedIP(q.Name); ok {
		for _, a := range answerIPs(p.Answer) {
			if a == ip {
				return true
			}
		}
		if spf != nil {
			for _, a := range spf.ips {
				if a == ip {
					return true
				}
			}
		}
	}
	if d, dest, ok := strings.Cut(q.Name, "._report._dmarc."); ok && p.Name == "_dmarc."+d+"." {
		for _, t := range txts(p.Answer) {
			if strings.Contains(strings.ToLower(t), "@"+strings.TrimSuffix(dest, ".")) {
				return true
			}
		}
	}
	return false
}

func namedIn(name string, answer []dns.RR) bool {
	for _, rr := range answer {
		var target string
		switch t := rr.(type) {
		case *dns.MX:
			target = t.Mx
		case *dns.CNAME:
			target = t.Target
		case *dns.PTR:
			target = t.Ptr
		case *dns.NS:
			target = t.Ns
		}
		if target != "" && strings.EqualFold(target, name) {
			return true
		}
	}
	return false
}

type spfInfo struct {
	targets       []string
	ips           []netip.Addr
	bareA, bareMX bool
}

func spfTerms(answer []dns.RR) *spfInfo {
	for _, t := range txts(answer) {
		if !strings.HasPrefix(strings.ToLower(t), "v=spf1") {
			continue
		}
		info := &spfInfo{}
		for _, term := range strings.Fields(strings.ToLower(t))[1:] {
			term = strings.TrimLeft(term, "+-~?")
			switch {
			case term == "a" || strings.HasPrefix(term, "a/"):
				info.bareA = true
			case term == "mx" || strings.HasPrefix(term, "mx/"):
				info.bareMX = true
			case strings.HasPrefix(term, "ip4:") || strings.HasPrefix(term, "ip6:"):
				s := term[4:]
				if i := strings.IndexByte(s, '/'); i >= 0 {
					s = s[:i]
				}
				if a, err := netip.ParseAddr(s); err == nil {
					info.ips = append(info.ips, a)
				}
			default:
				for _, pre := range []string{"include:", "redirect=", "a:", "mx:", "exists:", "ptr:"} {
					if v, ok := strings.CutPrefix(term, pre); ok {
						if i := strings.IndexByte(v, '/'); i >= 0 {
							v = v[:i]
						}
						info.targets = append(info.targets, dns.Fqdn(v))
					}
				}
			}
		}
		return info
	}
	return nil
}

func txts(answer []dns.RR) []string {
	var out []string
	for _, rr := range answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out
}

func answerIPs(answer []dns.RR) []netip.Addr {
	var out []netip.Addr
	for _, rr := range answer {
		switch t := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(t.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(t.AAAA); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// embeddedIP finds the IP encoded at the front of a reverse or DNSBL name:
// four reversed decimal labels, or 32 reversed nibble labels.
func embeddedIP(name string) (netip.Addr, bool) {
	labels := dns.SplitDomainName(name)
	if len(labels) >= 32 {
		var b [16]byte
		ok := true
		for i := 0; i < 32 && ok; i++ {
			l := labels[i]
			if len(l) != 1 || !strings.Contains("0123456789abcdef", l) {
				ok = false
				break
			}
			v := strings.IndexByte("0123456789abcdef", l[0])
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		if ok {
			return netip.AddrFrom16(b), true
		}
	}
	if len(labels) >= 4 {
		s := labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0]
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}
