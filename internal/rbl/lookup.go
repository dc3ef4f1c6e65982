package rbl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// Status is the outcome of asking one list about one address or domain.
type Status string

// Statuses.
const (
	// StatusListed: the list answered with a listing code.
	StatusListed Status = "listed"
	// StatusClean: the list answered NXDOMAIN (RFC 5782 2.1: not listed).
	StatusClean Status = "clean"
	// StatusError: the answer could not be determined: timeout, SERVFAIL,
	// a refusal code, or an answer outside 127.0.0.0/8. Never "clean".
	StatusError Status = "error"
	// StatusSkip: not asked (--offline, or the list does not hold this kind
	// of address).
	StatusSkip Status = "skip"
)

// ErrorKind says why a result is an error (JSON "error_kind").
type ErrorKind string

// Error kinds.
const (
	// KindDNS: timeout, SERVFAIL, REFUSED or another failure to get an answer.
	KindDNS ErrorKind = "dns"
	// KindRefused: the list answered with a code that means "your query was
	// refused" (Spamhaus 127.255.255.254, URIBL 127.0.0.1, ...).
	KindRefused ErrorKind = "refused"
	// KindBogus: an answer outside 127.0.0.0/8, typically a resolver that
	// rewrites NXDOMAIN to an advertising server.
	KindBogus ErrorKind = "bogus-answer"
	// KindUnhealthy: the list failed its health check, so its "not listed"
	// cannot be trusted.
	KindUnhealthy ErrorKind = "unhealthy"
	// KindName: the query name is not a valid DNS name (too long).
	KindName ErrorKind = "invalid-name"
)

// Errors a result's Err wraps, one per error kind, for errors.Is.
var (
	ErrDNS       = errors.New("the DNS did not answer")
	ErrRefused   = errors.New("the list refused the query")
	ErrBogus     = errors.New("the answer is outside 127.0.0.0/8")
	ErrUnhealthy = errors.New("the list failed its health check")
	ErrName      = errors.New("the query name is not a valid DNS name")
)

// Err is the result's error as a value (nil unless the status is error):
// errors.Is(r.Err(), ErrDNS) tells a list that did not answer.
func (r *Result) Err() error {
	if r.Status != StatusError {
		return nil
	}
	sentinel := map[ErrorKind]error{KindDNS: ErrDNS, KindRefused: ErrRefused, KindBogus: ErrBogus, KindUnhealthy: ErrUnhealthy, KindName: ErrName}[r.ErrorKind]
	if sentinel == nil {
		sentinel = ErrDNS
	}
	if r.Reason == "" {
		return fmt.Errorf("%s: %w", r.List, sentinel)
	}
	return fmt.Errorf("%s: %s: %w", r.List, r.Reason, sentinel)
}

// MaxTXT bounds the reason text kept from a TXT record: a hostile list
// must not flood a report.
const MaxTXT = 1024

// Result is what one list said about one address or domain.
type Result struct {
	List        string    `json:"list"`
	ListID      string    `json:"list_id"`
	Zone        string    `json:"zone"`
	Weight      Weight    `json:"weight"`
	Checked     string    `json:"checked"`      // the address or domain asked about
	CheckedKind string    `json:"checked_kind"` // "ip" or "domain"
	Query       string    `json:"query,omitempty"`
	Status      Status    `json:"status"`
	Codes       []string  `json:"codes,omitempty"`    // the A records answered
	Meanings    []string  `json:"meanings,omitempty"` // what each code means on this list
	TXT         []string  `json:"txt,omitempty"`      // the list's reason text, raw (sanitize before printing)
	ErrorKind   ErrorKind `json:"error_kind,omitempty"`
	Reason      string    `json:"reason,omitempty"` // why error or skip
	Delist      string    `json:"delist,omitempty"`
	DurationMS  int64     `json:"duration_ms"`

	list List
}

// Subject is an address or a domain to check, and where it came from.
type Subject struct {
	IP      netip.Addr `json:"-"`
	Domain  string     `json:"-"`
	Value   string     `json:"value"`
	Kind    string     `json:"kind"` // "ip" or "domain"
	Sources []string   `json:"sources"`
	// Skip says why the subject is not checked (private address, ...).
	Skip string `json:"skip,omitempty"`
}

// IPSubject makes a subject for an address.
func IPSubject(ip netip.Addr, sources ...string) Subject {
	return Subject{IP: ip, Value: ip.String(), Kind: "ip", Sources: sources}
}

// DomainSubject makes a subject for a domain.
func DomainSubject(domain string, sources ...string) Subject {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	return Subject{Domain: d, Value: d, Kind: "domain", Sources: sources}
}

// Lookup asks list l about one address (ip valid) or one domain name, with
// timeout bounding the whole exchange (A, then TXT when listed).
func Lookup(ctx context.Context, r dnsx.Resolver, l List, s Subject, timeout time.Duration) Result {
	res := Result{List: l.Name, ListID: l.ID, Zone: l.Zone, Weight: l.Weight, Checked: s.Value, CheckedKind: s.Kind,
		Delist: l.Delist, list: l}
	if s.Kind == "ip" {
		res.Query = IPQuery(s.IP, l.Zone)
	} else {
		res.Query = DomainQuery(s.Domain, l.Zone)
	}
	start := time.Now()
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ans, err := r.Lookup(ctx, res.Query, dns.TypeA)
	if err != nil {
		res.Status = StatusError
		res.ErrorKind = KindDNS
		res.Reason = oneLine(err.Error())
		if errors.Is(err, dnsx.ErrInvalidName) {
			res.ErrorKind = KindName
			res.Reason = fmt.Sprintf("%s cannot be queried on %s: the name would not be a valid DNS name", s.Value, l.Zone)
		}
		return res
	}
	if ans.Offline {
		res.Status = StatusSkip
		res.Reason = "not asked (--offline)"
		return res
	}
	if ans.Status != dnsx.StatusOK {
		// RFC 5782 2.1: an address or name that is not listed has no
		// entry, so the answer is NXDOMAIN. NODATA (the name exists without
		// an A record) is not a listing either.
		res.Status = StatusClean
		return res
	}
	classify(&res, l, ans.IPs())
	if res.Status == StatusListed {
		// RFC 5782 2.1: the TXT record at the same name is the reason, if
		// the list publishes one. Its absence or failure changes nothing.
		if txt, _, err := dnsx.LookupTXT(ctx, r, res.Query); err == nil {
			for _, t := range txt {
				if len(t) > MaxTXT {
					t = t[:MaxTXT] + fmt.Sprintf("… [%d more bytes]", len(t)-MaxTXT)
				}
				res.TXT = append(res.TXT, t)
			}
		}
	}
	return res
}

// classify turns the A records of an answer into listed, refused or bogus.
func classify(res *Result, l List, addrs []netip.Addr) {
	var listed, refused, bogus, unknown []string
	for _, a := range addrs {
		res.Codes = append(res.Codes, a.String())
		if !a.Is4() || !loopback.Contains(a) {
			// RFC 5782 2.1: list answers are in 127.0.0.0/8; anything
			// else is a resolver making answers up, not the list.
			bogus = append(bogus, a.String())
			continue
		}
		meaning, isRefused, ok := l.Meaning(a)
		switch {
		case !ok && len(l.Codes) == 0: // a --dnsbl zone the catalogue does not know
			unknown = append(unknown, a.String())
			res.Meanings = append(res.Meanings, a.String()+": listed")
		case !ok:
			unknown = append(unknown, a.String())
			res.Meanings = append(res.Meanings, fmt.Sprintf("%s: listed (a code not in %s's documentation)", a, l.Name))
		case isRefused:
			refused = append(refused, a.String()+": "+meaning)
		default:
			listed = append(listed, a.String())
			res.Meanings = append(res.Meanings, a.String()+": "+meaning)
		}
	}
	switch {
	case len(bogus) > 0:
		res.Status = StatusError
		res.ErrorKind = KindBogus
		res.Meanings = nil
		res.Reason = fmt.Sprintf("answer %s is outside 127.0.0.0/8: the resolver rewrote the answer (NXDOMAIN redirection or a hijacked resolver), so the list was not really asked", strings.Join(bogus, ", "))
	case len(listed) > 0 || len(unknown) > 0:
		res.Status = StatusListed
	case len(refused) > 0:
		res.Status = StatusError
		res.ErrorKind = KindRefused
		res.Reason = strings.Join(refused, "; ")
	default: // an OK answer without A records cannot happen; be safe
		res.Status = StatusClean
	}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
