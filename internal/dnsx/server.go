package dnsx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// NormalizeServer checks one --resolver value and returns its canonical
// form:
//
//	1.2.3.4, 1.2.3.4:5353, 1.2.3.4#5353 (dig/unbound syntax), ::1, [::1]:53
//	    plain DNS, "host:port"
//	tls://HOST[:853]               DNS over TLS (RFC 7858), "tls://host:port"
//	https://HOST[:443]/dns-query   DNS over HTTPS (RFC 8484), the URL
//
// Anything else is an error, so a typo is refused before any work.
func NormalizeServer(s string) (string, error) {
	in := s
	s = strings.TrimSpace(s)
	bad := func(why string) error {
		return fmt.Errorf("--resolver %q: %s; want HOST[:PORT], HOST#PORT, tls://HOST[:PORT] or https://HOST/dns-query", in, why)
	}
	if s == "" {
		return "", errors.New("empty --resolver: want HOST[:PORT], tls://HOST[:PORT] or https://HOST/dns-query")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		switch strings.ToLower(s[:i]) {
		case "tls":
			hp, err := hostPort(s[i+3:], "853")
			if err != nil {
				return "", bad(err.Error())
			}
			return "tls://" + hp, nil
		case "https":
			u, err := url.Parse(s)
			if err != nil {
				return "", bad("not a URL")
			}
			if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return "", bad("no user, query or fragment allowed")
			}
			hp := u.Host
			if u.Port() == "" {
				hp = strings.Trim(u.Hostname(), "[]")
				if strings.Contains(hp, ":") {
					hp = "[" + hp + "]"
				}
			}
			if _, err := hostPort(u.Host, "443"); err != nil {
				return "", bad(err.Error())
			}
			path := u.EscapedPath()
			if path == "" || path == "/" {
				path = "/dns-query"
			}
			return "https://" + hp + path, nil
		default:
			return "", bad("unknown scheme " + strconv.Quote(s[:i]))
		}
	}
	if strings.Count(s, "#") == 1 { // dig and unbound write HOST#PORT
		i := strings.IndexByte(s, '#')
		if s[i+1:] == "" {
			return "", bad("no port after #")
		}
		s = net.JoinHostPort(strings.Trim(s[:i], "[]"), s[i+1:])
	}
	hp, err := hostPort(s, "53")
	if err != nil {
		return "", bad(err.Error())
	}
	return hp, nil
}

// hostPort validates HOST[:PORT] (an IP address or a host name) and returns
// host:port with the default port filled in.
func hostPort(s, defPort string) (string, error) {
	host, port := s, defPort
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") == 1 {
		return "", errors.New("bad port")
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		return "", errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		if _, ok := dns.IsDomainName(host); !ok || strings.ContainsAny(host, " \t/\\@#,;") {
			return "", fmt.Errorf("%q is neither an IP address nor a host name", host)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// Health and retransmission constants. RFC 6298 2: an initial RTO before
// any sample; unbound starts at 376 ms, we use 400 ms (capped by Timeout).
const (
	initialRTO = 400 * time.Millisecond
	minRTO     = 50 * time.Millisecond
	// A server that fails downAfter questions in a row (timeout, network
	// error, REFUSED) is put last for downFor, then probed in the
	// background before it is preferred again.
	downAfter = 3
	downFor   = 10 * time.Second
)

// server is one configured resolver: how to reach it, how fast it answers
// (RFC 6298 smoothed RTT), whether it is healthy, and its counters.
type server struct {
	name  string // canonical --resolver form, shown in traces and stats
	proto string // "udp", "tls" or "https"
	addr  string // host:port (udp, tls)
	host  string // TLS server name
	url   string // https

	mu        sync.Mutex
	srtt      time.Duration
	rttvar    time.Duration
	hasRTT    bool
	backoff   uint // RFC 6298 5.5: the RTO is doubled this many times
	fails     int  // in a row
	lastFail  time.Time
	downUntil time.Time
	probing   bool

	sent, retried, timedOut, servfail, refused, answered, errors atomic.Int64

	once   sync.Once
	mux    *udpMux
	muxErr error
	tcp    *streamPool // TCP after truncation, or TLS for tls://
	doh    *dohClient
}

func newServer(spec string, tlsConf *tls.Config, timeout time.Duration) *server {
	s := &server{name: spec}
	switch {
	case strings.HasPrefix(spec, "tls://"):
		s.proto, s.addr = "tls", strings.TrimPrefix(spec, "tls://")
		s.host, _, _ = net.SplitHostPort(s.addr)
		conf := tlsConf.Clone()
		conf.ServerName = s.host
		d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: conf}
		s.tcp = &streamPool{addr: s.addr, dial: d.DialContext}
	case strings.HasPrefix(spec, "https://"):
		s.proto, s.url = "https", spec
		u, _ := url.Parse(spec)
		s.host = u.Hostname()
		s.doh = newDoH(spec, tlsConf, timeout)
	default:
		s.proto, s.addr = "udp", spec
		d := &net.Dialer{}
		s.tcp = &streamPool{addr: s.addr, dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}
	}
	return s
}

// udp returns the server's UDP multiplexer, made on first use.
func (s *server) udp() (*udpMux, error) {
	s.once.Do(func() { s.mux, s.muxErr = newUDPMux(s.addr) })
	return s.mux, s.muxErr
}

// rto is the wait before the first retransmission: about
// max(3×SRTT, SRTT+4×RTTVAR, 50 ms) (RFC 6298 2.3, with unbound's habit of
// a floor), never more than timeout.
func (s *server) rto(timeout time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(s.rtoLocked()<<s.backoff, timeout)
}

func (s *server) rtoLocked() time.Duration {
	if !s.hasRTT {
		return initialRTO
	}
	return max(3*s.srtt, s.srtt+4*s.rttvar, minRTO)
}

// maxBackoff bounds the doubling: 16× the RTO (and never past Timeout).
const maxBackoff = 4

// expired backs the server's RTO off (RFC 6298 5.5) when a question's
// retransmission timer expired after waiting at least the RTO in force:
// the questions asked next start with twice the wait, until a reply gives
// a new sample (5.7). A burst of questions sent with the same RTO backs it
// off once, not once each, so a silent server gets one packet per question
// after a few, not one per RTO.
func (s *server) expired(waited time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if waited >= s.rtoLocked()<<s.backoff && s.backoff < maxBackoff {
		s.backoff++
	}
}

// sample feeds one round-trip time measured on a packet that was not
// retransmitted (Karn's rule) into SRTT and RTTVAR (RFC 6298 2.2, 2.3).
func (s *server) sample(r time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backoff = 0 // RFC 6298 5.7: a new measurement ends the back-off
	if !s.hasRTT {
		s.srtt, s.rttvar, s.hasRTT = r, r/2, true
		return
	}
	d := s.srtt - r
	if d < 0 {
		d = -d
	}
	s.rttvar = (3*s.rttvar + d) / 4
	s.srtt = (7*s.srtt + r) / 8
}

// succeeded records a reply: the server is alive.
func (s *server) succeeded() {
	s.mu.Lock()
	s.fails, s.downUntil = 0, time.Time{}
	s.mu.Unlock()
}

// failed records a question the server did not answer usefully.
func (s *server) failed(now time.Time) {
	s.mu.Lock()
	s.fails++
	s.lastFail = now
	if s.fails >= downAfter && s.downUntil.IsZero() {
		s.downUntil = now.Add(downFor)
	}
	s.mu.Unlock()
}

// rank orders servers: healthy first, then those that failed within the
// last downFor (so one timeout moves the questions to another server), then
// those marked down, which only a background probe brings back
// (configured order within each group).
func (s *server) rank(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.downUntil.IsZero():
		return 2
	case s.fails > 0 && now.Sub(s.lastFail) < downFor:
		return 1
	}
	return 0
}

// dueForProbe reports (once) that a down server's time is up.
func (s *server) dueForProbe(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downUntil.IsZero() || now.Before(s.downUntil) || s.probing {
		return false
	}
	s.probing = true
	return true
}

func (s *server) probed(ok bool, now time.Time) {
	s.mu.Lock()
	s.probing = false
	if ok {
		s.fails, s.downUntil = 0, time.Time{}
	} else {
		s.downUntil = now.Add(downFor)
	}
	s.mu.Unlock()
}

// ServerStats counts one server's work.
type ServerStats struct {
	Server   string  `json:"server"`
	Sent     int64   `json:"sent"`      // packets (questions) sent, retransmissions included
	Retried  int64   `json:"retried"`   // retransmissions and questions asked again after a failure
	TimedOut int64   `json:"timed_out"` // questions with no reply within --timeout
	ServFail int64   `json:"servfail"`
	Refused  int64   `json:"refused"`
	Errors   int64   `json:"errors"`   // network errors and replies that did not match the question
	Answered int64   `json:"answered"` // NOERROR and NXDOMAIN replies
	SRTTms   float64 `json:"srtt_ms,omitempty"`
	Down     bool    `json:"down,omitempty"` // marked down at the time of the call
}

func (s *server) stats() ServerStats {
	s.mu.Lock()
	srtt, down := s.srtt, !s.downUntil.IsZero()
	s.mu.Unlock()
	return ServerStats{Server: s.name, Sent: s.sent.Load(), Retried: s.retried.Load(), TimedOut: s.timedOut.Load(),
		ServFail: s.servfail.Load(), Refused: s.refused.Load(), Errors: s.errors.Load(), Answered: s.answered.Load(),
		SRTTms: float64(srtt.Microseconds()) / 1000, Down: down}
}

// newHTTPTransport is the DoH transport: HTTP/2 over one reused TLS
// connection per server (RFC 8484 5.2 recommends HTTP/2).
func newHTTPTransport(tlsConf *tls.Config, timeout time.Duration) *http.Transport {
	d := &net.Dialer{}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return withQuickAck(c), nil
		},
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1, // HTTP/2 multiplexes; without this, a burst of first questions dials one connection each
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: timeout,
		Proxy:               nil, // DNS never goes through an HTTP proxy
	}
}
