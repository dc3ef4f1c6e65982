package rbl

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// Bounce codes a listing causes, most specific first.
var (
	// An address on a major list: receivers that use it refuse the
	// connection or the recipients with 5.7.1 (Postfix reject_rbl_client:
	// "554 5.7.1 Service unavailable; Client host [IP] blocked using
	// zen.spamhaus.org"; Yahoo "553 5.7.1 [BL21]"; Outlook.com "550 5.7.1
	// ... on our block list (S3150)"); Microsoft 365 answers 5.7.606-5.7.649
	// "Access denied, banned sending IP"; Gmail defers a low-reputation
	// address with "421-4.7.0 ... unsolicited mail originating from your IP
	// address" before it refuses with 550-5.7.1.
	ipBounces = []string{"5.7.1", "5.7.606", "4.7.0"}
	// An address on a minor list: the few receivers that reject on it use
	// the generic policy code.
	minorBounces = []string{"5.7.1"}
	// A domain on a domain list: rejected as sender (Postfix
	// reject_rhsbl_sender, 554 5.7.1) or as a link in the body (5.7.1).
	domainBounces = []string{"5.7.1"}
)

func found(rep *Report) []findings.Finding {
	subjects := map[string]Subject{}
	for _, s := range rep.Checked {
		subjects[s.Value] = s
	}
	var out []findings.Finding
	for _, res := range rep.Results {
		if res.Status == StatusListed {
			out = append(out, listedFinding(res, subjects[res.Checked]))
		}
	}
	// Refusals: one finding per list, since the remedy depends on the list.
	refused := map[string][]Result{}
	var refusedOrder []string
	var dnsErrs, bogus, unhealthy []Result
	for _, res := range rep.Results {
		if res.Status != StatusError {
			continue
		}
		switch res.ErrorKind {
		case KindRefused:
			if _, ok := refused[res.List]; !ok {
				refusedOrder = append(refusedOrder, res.List)
			}
			refused[res.List] = append(refused[res.List], res)
		case KindBogus:
			bogus = append(bogus, res)
		case KindUnhealthy:
			unhealthy = append(unhealthy, res)
		default:
			dnsErrs = append(dnsErrs, res)
		}
	}
	for _, name := range refusedOrder {
		out = append(out, refusedFinding(refused[name]))
	}
	if len(dnsErrs) > 0 {
		out = append(out, groupFinding(dnsErrs, "rbl.dns-error",
			"did not answer", "A timeout or SERVFAIL says nothing about a listing: these lists were not checked.",
			"Retry. If the same lists keep failing, your resolver may be blocked by them or unable to reach them: use a recursive resolver of your own (for example unbound on this machine: --resolver 127.0.0.1), not a public one, and raise --list-timeout for slow lists."))
	}
	if len(bogus) > 0 {
		out = append(out, groupFinding(bogus, "rbl.bogus-answer",
			"answered with addresses outside 127.0.0.0/8",
			"Blocklists answer only with 127.0.0.0/8 addresses (RFC 5782 2.1). Any other answer comes from a resolver that rewrites NXDOMAIN (ISP \"search assistance\", DNS filtering) or is hijacked, so these lists were not really asked.",
			"Use a resolver that returns NXDOMAIN unchanged: your own recursive resolver (--resolver 127.0.0.1 with unbound), not the ISP's or a filtering service."))
	}
	if len(unhealthy) > 0 {
		out = append(out, unhealthyFindings(rep, unhealthy)...)
	}
	return out
}

// sourceText says where an address came from, for a finding's detail.
func sourceText(s Subject) string {
	if len(s.Sources) == 0 {
		return ""
	}
	return " (" + strings.Join(s.Sources, "; ") + ")"
}

func listedFinding(res Result, s Subject) findings.Finding {
	l := res.list
	major := l.Weight == WeightMajor || l.UserGiven
	f := findings.Finding{ID: "rbl.listed", Check: "rbl", Severity: findings.SeverityFail}
	meaning := "listed"
	if len(res.Meanings) > 0 {
		meaning = strings.Join(res.Meanings, "; ")
	}
	f.Title = fmt.Sprintf("%s is listed on %s (%s)", res.Checked, res.List, meaning)
	var d strings.Builder
	fmt.Fprintf(&d, "%s%s is on %s", res.Checked, sourceText(s), res.List)
	if l.About != "" {
		fmt.Fprintf(&d, ", %s", l.About)
	}
	d.WriteString(". ")
	switch {
	case !major:
		f.ID, f.Severity = "rbl.minor-listing", findings.SeverityWarn
		d.WriteString("Few receivers reject mail on this list alone, and many use it only to add spam score, so it costs some mail rather than all of it; it often comes with listings elsewhere.")
	case res.CheckedKind == "domain":
		d.WriteString("Receivers that use it refuse mail whose sender, HELO name or links use this domain, or file it as spam.")
	default:
		fmt.Fprintf(&d, "Receivers that use it refuse mail from this address at connection time, typically \"554 5.7.1 Service unavailable; Client host [%s] blocked using %s\".", res.Checked, res.Zone)
	}
	if len(res.TXT) > 0 {
		fmt.Fprintf(&d, " The list says: %s", strings.Join(res.TXT, " "))
	}
	f.Detail = d.String()
	for _, c := range res.Codes {
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s A %s", res.Query, c))
	}
	for _, t := range res.TXT {
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s TXT %q", res.Query, t))
	}
	switch {
	case res.CheckedKind == "domain":
		f.BounceCodes = domainBounces
	case major:
		f.BounceCodes = ipBounces
	default:
		f.BounceCodes = minorBounces
	}
	f.Fix = listingFix(res)
	f.Refs = []string{rfcRef(res)}
	if l.Source != "" {
		f.Refs = append(f.Refs, l.Source)
	}
	return f
}

// listingFix is the advice for a listing: a code's own advice, else the
// list's, else the generic one.
func listingFix(res Result) string {
	l := res.list
	for _, c := range res.Codes {
		for _, code := range l.Codes {
			if code.Fix != "" && code.lo.IsValid() && code.contains(mustAddr(c)) {
				return code.Fix
			}
		}
	}
	if l.Fix != "" {
		return l.Fix
	}
	what := "Find and stop what got the address listed (a compromised account or host, an open relay or proxy, a bought or stale list, unsubscribes not honoured)"
	if res.CheckedKind == "domain" {
		what = "Find and stop what got the domain listed (a compromised site or account, links in spam, a bought or stale list)"
	}
	if l.Delist != "" {
		return fmt.Sprintf("%s, then check the listing and request removal at %s.", what, l.Delist)
	}
	return what + ", then ask the list's operator for removal."
}

func rfcRef(res Result) string {
	switch {
	case res.CheckedKind == "domain":
		return "RFC 5782 3"
	case strings.Contains(res.Checked, ":"):
		return "RFC 5782 2.4"
	}
	return "RFC 5782 2.1"
}

func refusedFinding(rs []Result) findings.Finding {
	l := rs[0].list
	f := findings.Finding{ID: "rbl.query-refused", Check: "rbl", Severity: findings.SeverityError}
	f.Title = fmt.Sprintf("%s refused the query (%s): %s", l.Name, codesOf(rs), checkedList(rs))
	f.Detail = fmt.Sprintf("%s answered with a code that means the query was refused or in error, not a listing: %s. Whether %s is listed is unknown.", l.Name, rs[0].Reason, checkedList(rs))
	for _, r := range rs {
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s A %s", r.Query, strings.Join(r.Codes, ", ")))
	}
	switch {
	case strings.HasPrefix(l.ID, "spamhaus"):
		f.Fix = "Spamhaus refuses queries through public and shared resolvers (Google, Cloudflare, OpenDNS, many cloud providers) and above its free-use volume. Query through a recursive resolver of your own with non-generic reverse DNS (for example unbound on this machine: --resolver 127.0.0.1), or get a free Data Query Service key and pass --dnsbl KEY." + l.KeyZone + "."
	case l.NeedsKey:
		f.Fix = "Check the key in the --dnsbl zone: this list answers only queries with a valid key."
	default:
		f.Fix = "This list refuses queries through public and large shared resolvers and above its free-use volume. Query through a recursive resolver of your own (for example unbound on this machine: --resolver 127.0.0.1)."
	}
	f.Refs = []string{"RFC 5782 5"}
	if l.Source != "" {
		f.Refs = append(f.Refs, l.Source)
	}
	return f
}

func codesOf(rs []Result) string {
	var cs []string
	for _, r := range rs {
		for _, c := range r.Codes {
			if !slices.Contains(cs, c) {
				cs = append(cs, c)
			}
		}
	}
	return strings.Join(cs, ", ")
}

func checkedList(rs []Result) string {
	var cs []string
	for _, r := range rs {
		if !slices.Contains(cs, r.Checked) {
			cs = append(cs, r.Checked)
		}
	}
	return strings.Join(firstN(cs, 5), ", ")
}

// groupFinding reports several lists that failed the same way.
func groupFinding(rs []Result, id, verb, detail, fix string) findings.Finding {
	var lists []string
	for _, r := range rs {
		if !slices.Contains(lists, r.List) {
			lists = append(lists, r.List)
		}
	}
	f := findings.Finding{ID: id, Check: "rbl", Severity: findings.SeverityError, Detail: detail, Fix: fix,
		Refs: []string{"RFC 5782 2.1"}}
	f.Title = fmt.Sprintf("%d %s %s: %s", len(lists), plural(len(lists), "blocklist", "blocklists"), verb, strings.Join(firstN(lists, 6), ", "))
	for i, r := range rs {
		if i == 10 {
			f.Evidence = append(f.Evidence, fmt.Sprintf("… and %d more", len(rs)-10))
			break
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s (%s): %s", r.Query, r.List, r.Reason))
	}
	return f
}

func unhealthyFindings(rep *Report, rs []Result) []findings.Finding {
	var out []findings.Finding
	for _, h := range rep.Health {
		if h.Status != HealthBad {
			continue
		}
		n := 0
		for _, r := range rs {
			if r.Zone == h.Zone {
				n++
			}
		}
		if n == 0 {
			continue
		}
		out = append(out, findings.Finding{
			ID: "rbl.list-unhealthy", Check: "rbl", Severity: findings.SeverityError,
			Title:    fmt.Sprintf("%s failed its health check: its %d %s cannot be trusted", h.List, n, plural(n, "answer", "answers")),
			Detail:   h.Detail + ". A list that does not answer its RFC 5782 test entries correctly says nothing about this target.",
			Evidence: []string{h.Zone + ": " + h.Detail},
			Fix:      "Use a recursive resolver of your own (--resolver 127.0.0.1 with unbound); if the list is dead, stop using it (drop it from --dnsbl).",
			Refs:     []string{"RFC 5782 5", "RFC 5782 7"},
		})
	}
	return out
}

func mustAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}
