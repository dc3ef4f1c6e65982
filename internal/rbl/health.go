package rbl

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// HealthStatus is the outcome of a list's health check.
type HealthStatus string

// Health outcomes.
const (
	// HealthOK: the list listed its test entry and did not list the entry
	// it must not list.
	HealthOK HealthStatus = "ok"
	// HealthBad: the list answered, but wrongly: it is dead, "lists the
	// world", or the resolver is not really asking it.
	HealthBad HealthStatus = "unhealthy"
	// HealthError: the test questions themselves got no answer.
	HealthError HealthStatus = "error"
	// HealthSkip: not asked (--offline).
	HealthSkip HealthStatus = "skip"
)

// Health is the outcome of asking a list about its test entries.
type Health struct {
	List   string       `json:"list"`
	ListID string       `json:"list_id"`
	Zone   string       `json:"zone"`
	Status HealthStatus `json:"status"`
	Detail string       `json:"detail,omitempty"`
	// ListsAll is set when the list listed the entry it must not list:
	// its listings are not believable either.
	ListsAll bool `json:"lists_everything,omitempty"`
}

var (
	testIPv4    = netip.MustParseAddr("127.0.0.2")
	notTestIPv4 = netip.MustParseAddr("127.0.0.1")
	testIPv6    = netip.MustParseAddr("::ffff:7f00:2")
	notTestIPv6 = netip.MustParseAddr("::ffff:7f00:1")
)

// CheckHealth asks list l about its RFC 5782 5 test entries, the idea of
// mox's dnsbl.CheckHealth: an IPv4 list MUST list 127.0.0.2 and MUST NOT
// list 127.0.0.1, an IPv6 list the same for ::ffff:7f00:2 and
// ::ffff:7f00:1, a domain list "TEST" and "INVALID" (or the test name the
// list documents). RFC 5782 7: a list that fails this should not be used,
// so a "not listed" from it means nothing.
func CheckHealth(ctx context.Context, r dnsx.Resolver, l List, timeout time.Duration) Health {
	h := Health{List: l.Name, ListID: l.ID, Zone: l.Zone}
	type probe struct{ yes, no Subject }
	var probes []probe
	if l.Kind == KindIP || l.Kind == KindAny {
		if l.IPv4 {
			probes = append(probes, probe{IPSubject(testIPv4), IPSubject(notTestIPv4)})
		} else if l.IPv6 {
			probes = append(probes, probe{IPSubject(testIPv6), IPSubject(notTestIPv6)})
		}
	}
	if l.Kind == KindDomain || l.Kind == KindAny {
		test := l.Test
		if test == "" {
			test = "test"
		}
		probes = append(probes, probe{DomainSubject(test), DomainSubject("invalid")})
	}
	// A list of unknown kind (a --dnsbl zone) is healthy if either its
	// address or its domain test entry answers correctly.
	var lastBad, lastErr string
	for _, p := range probes {
		yes := Lookup(ctx, r, l, p.yes, timeout)
		no := Lookup(ctx, r, l, p.no, timeout)
		switch {
		case yes.Status == StatusSkip || no.Status == StatusSkip:
			h.Status, h.Detail = HealthSkip, "not asked (--offline)"
			return h
		case no.Status == StatusListed:
			h.ListsAll = true
			lastBad = fmt.Sprintf("%s lists %s, which RFC 5782 5 says it must not list (answer %v): it answers every question as listed", l.Name, p.no.Value, no.Codes)
		case yes.Status == StatusListed && no.Status == StatusClean:
			h.Status = HealthOK
			h.Detail = fmt.Sprintf("lists its test entry %s (%v) and not %s", p.yes.Value, yes.Codes, p.no.Value)
			return h
		case yes.Status == StatusClean:
			lastBad = fmt.Sprintf("%s does not list its test entry %s (RFC 5782 5): the list is dead, or not answering your resolver", l.Name, p.yes.Value)
		default:
			r := yes
			if r.Status != StatusError {
				r = no
			}
			lastErr = fmt.Sprintf("test question %s: %s", r.Query, r.Reason)
		}
	}
	switch {
	case lastBad != "":
		h.Status, h.Detail = HealthBad, lastBad
	case lastErr != "":
		h.Status, h.Detail = HealthError, lastErr
	default:
		h.Status, h.Detail = HealthSkip, "no test entry to ask"
	}
	return h
}

// applyHealth distrusts the answers of unhealthy lists: their "clean" is
// an error, and so is a listing from a list that lists everything.
func applyHealth(results []Result, healths []Health) {
	bad := map[string]Health{}
	for _, h := range healths {
		if h.Status == HealthBad {
			bad[h.Zone] = h
		}
	}
	for i := range results {
		res := &results[i]
		h, ok := bad[res.Zone]
		if !ok {
			continue
		}
		if res.Status == StatusClean || (res.Status == StatusListed && h.ListsAll) {
			res.Status = StatusError
			res.ErrorKind = KindUnhealthy
			res.Reason = "not trusted: " + h.Detail
		}
	}
}
