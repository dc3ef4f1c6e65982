package dnsx

import (
	"container/list"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

// Config configures a Client.
type Config struct {
	// Servers are the recursive resolvers, in order of preference, each as
	// NormalizeServer accepts it: plain DNS "host[:port]" (or "host#port"),
	// "tls://host[:853]" (DNS over TLS) or "https://host/dns-query" (DNS
	// over HTTPS). Empty means /etc/resolv.conf. A server that keeps failing
	// is put last until a background probe finds it answering again.
	Servers []string
	// RootCAs verifies DoT and DoH servers (nil: the system's roots).
	RootCAs *x509.CertPool
	// Zones answer first. Without Offline they are laid over the live DNS:
	// only the (name, type) pairs they hold (or a CNAME at the name) replace
	// the live answer; every other question goes to the servers.
	Zones *zone.Store
	// Offline forbids network queries: the zones are the whole world (in a
	// zone's domain, a name or type it lacks is NXDOMAIN/NODATA) and names
	// outside every zone get a synthetic NXDOMAIN with Result.Offline set.
	Offline bool
	// Timeout bounds one question to one server, retransmissions included
	// (default 2s).
	Timeout time.Duration
	// Retries is how many more times a question is asked, of the next
	// server in health order, after a timeout or a SERVFAIL/REFUSED
	// (default 2). Within one Timeout a lost UDP packet is resent after an
	// adaptive RTO (RFC 6298), so a loss costs a few round trips.
	Retries int
	// UDPSize is the EDNS0 buffer size advertised (default 1232, the DNS
	// flag day 2020 value that avoids IP fragmentation).
	UDPSize uint16
	// Trace, when set, receives one line for every question answered from a
	// zone or sent to a server.
	Trace io.Writer
	// Record keeps a log of every exchange (for benchmarks: Log()).
	Record bool
	// SharedCache bounds how many answers no running target still holds
	// are kept for later targets (default 4096, least recently used dropped
	// first, so names many targets share stay). Answers a target holds
	// are never dropped, so a target never asks the same question twice.
	// Temporary failures are never kept: they go to the questions waiting
	// on that exchange, and the next asker asks again.
	SharedCache int
	// NoWarm leaves DNS-over-TLS connections to the first question. By
	// default New starts the TCP and TLS handshakes with each tls://
	// server at once, in the background, so they overlap what the program
	// does before its first question.
	NoWarm bool
}

// Client is the production Resolver: zones, then the network, behind a
// per-run cache that coalesces concurrent identical questions. Safe for
// concurrent use; create one per run.
type Client struct {
	cfg     Config
	servers []*server

	mu    sync.Mutex
	calls map[key]*call
	idle  *list.List // keys no scope holds, most recently released first

	sent      atomic.Int64 // packets sent to servers
	zoneHits  atomic.Int64 // questions answered from zones or offline
	cacheHits atomic.Int64 // questions answered from the cache or joined in flight
	failures  atomic.Int64 // questions that ended in a temporary failure
	traceMu   sync.Mutex
	logMu     sync.Mutex
	log       []Exchange
}

type key struct {
	name  string
	qtype uint16
}

type call struct {
	done chan struct{}
	res  *raw
	err  error
	// cancelled: the asker's own context ended the exchange, so a joined
	// question with time left asks again.
	cancelled bool
	refs      int           // scopes (running targets) holding this answer
	idle      *list.Element // position in the Client's idle list when refs == 0 after a release
}

// raw is one question's answer before CNAME chasing.
type raw struct {
	rcode   int
	answer  []dns.RR
	ad      bool
	source  string
	offline bool
	partial bool // an authoritative-style answer: CNAME given, target not chased
}

// Exchange is one logged question (Config.Record).
type Exchange struct {
	Name   string
	Type   uint16
	Server string
	Rcode  string
	Start  time.Time
	End    time.Time
}

// Stats counts what a Client did.
type Stats struct {
	Sent      int64 // packets sent to DNS servers (retransmissions, retries and TCP fallback included)
	ZoneHits  int64 // questions answered from --zone data or --offline
	CacheHits int64 // questions answered by the cache or joined to one in flight
	Failures  int64 // questions that ended in a temporary failure (timeout, SERVFAIL, ...)
	// Servers has one entry per configured server, in configured order.
	Servers []ServerStats
}

// New returns a Client. Without servers it reads /etc/resolv.conf (unless
// Offline).
func New(cfg Config) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	} else if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.UDPSize == 0 {
		cfg.UDPSize = 1232
	}
	if cfg.SharedCache <= 0 {
		cfg.SharedCache = 4096
	}
	c := &Client{cfg: cfg, calls: map[key]*call{}, idle: list.New()}
	// TLS 1.3 where the server has it (one round trip for the handshake,
	// not two), 1.2 accepted; session tickets are kept for the process, so
	// a connection opened again after an idle close resumes the session.
	tlsConf := &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(16)}
	var specs []string
	for _, s := range cfg.Servers {
		spec, err := NormalizeServer(s)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec)
	}
	if len(specs) == 0 && !cfg.Offline {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(conf.Servers) == 0 {
			return nil, fmt.Errorf("no DNS resolver: /etc/resolv.conf has none; give one with --resolver HOST[:PORT], or use --offline with --zone")
		}
		for _, s := range conf.Servers {
			specs = append(specs, net.JoinHostPort(s, conf.Port))
		}
	}
	for _, spec := range specs {
		s := newServer(spec, tlsConf, cfg.Timeout)
		c.servers = append(c.servers, s)
		if s.proto == "tls" && !cfg.Offline && !cfg.NoWarm {
			go s.tcp.warm(cfg.Timeout)
		}
	}
	return c, nil
}

// Servers returns the servers in use, in configured order.
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.name
	}
	return out
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	st := Stats{Sent: c.sent.Load(), ZoneHits: c.zoneHits.Load(), CacheHits: c.cacheHits.Load(), Failures: c.failures.Load()}
	for _, s := range c.servers {
		st.Servers = append(st.Servers, s.stats())
	}
	return st
}

// Log returns the recorded exchanges (Config.Record).
func (c *Client) Log() []Exchange {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return append([]Exchange(nil), c.log...)
}

// maxChain bounds CNAME chasing; resolvers give up around 8-16.
const maxChain = 10

// Lookup implements Resolver.
func (c *Client) Lookup(ctx context.Context, name string, qtype uint16) (*Result, error) {
	return c.lookup(ctx, name, qtype, nil)
}

func (c *Client) lookup(ctx context.Context, name string, qtype uint16, sc *Scope) (*Result, error) {
	fq, err := CanonicalName(name)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Type = qtype
		}
		return nil, err
	}
	res := &Result{Name: fq, Type: qtype}
	cur := fq
	var seen map[string]bool // made when the first CNAME is followed
	for hop := 0; ; hop++ {
		asked := cur
		r, err := c.query(ctx, cur, qtype, sc)
		if err != nil {
			if sc != nil && !errors.Is(err, ErrReleased) {
				sc.noteFailure(err)
			}
			return nil, err
		}
		if sc != nil && r.source == "zone" {
			sc.noteZone(cur, qtype)
		}
		res.AD = (hop == 0 || res.AD) && r.ad
		res.Source = r.source
		res.Offline = res.Offline || r.offline
		if cur, seen, err = follow(res, r, cur, seen); err != nil {
			if sc != nil {
				sc.noteFailure(err)
			}
			return nil, err
		}
		if res.Status != "" {
			return res, nil
		}
		if r.partial && cur != asked {
			continue // a zone gave only the alias: ask for its target
		}
		res.Status = StatusNoData
		return res, nil
	}
}

// follow reads one answer into res: it follows the CNAME chain inside the
// answer from cur, then takes the records of the asked type owned by the
// end of the chain. It sets res.Status when the answer is final (records or
// NXDOMAIN) and returns the name the chain ended at. A chain that loops or
// grows past maxChain is ErrCNAMELoop, a permanent error.
func follow(res *Result, r *raw, cur string, seen map[string]bool) (string, map[string]bool, error) {
	qtype := res.Type
	for {
		next := ""
		for _, rr := range r.answer {
			if cn, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cn.Hdr.Name, cur) && qtype != dns.TypeCNAME {
				next = strings.ToLower(cn.Target)
				break
			}
		}
		if next == "" {
			break
		}
		if seen == nil {
			seen = map[string]bool{res.Name: true}
		}
		if seen[next] || len(res.CNAMEs) >= maxChain {
			return cur, seen, &Error{Name: res.Name, Type: qtype, Reason: "CNAME chain loops or is longer than 10", Err: ErrCNAMELoop}
		}
		seen[next] = true
		res.CNAMEs = append(res.CNAMEs, next)
		cur = next
	}
	for _, rr := range r.answer {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, cur) {
			res.Records = append(res.Records, rr)
		}
	}
	switch {
	case len(res.Records) > 0:
		res.Status = StatusOK
	case r.rcode == dns.RcodeNameError:
		res.Status = StatusNXDomain
	}
	return cur, seen, nil
}

// query answers one question from the cache, joining an identical question
// already in flight, or asks zones/servers. Answers (records, NXDOMAIN,
// NODATA) are shared with later askers; a temporary failure goes only to
// the questions that were waiting on that exchange: the call is dropped, so
// the next asker asks again.
func (c *Client) query(ctx context.Context, name string, qtype uint16, sc *Scope) (*raw, error) {
	k := key{name, qtype}
	for {
		c.mu.Lock()
		if sc != nil && sc.keys == nil {
			c.mu.Unlock()
			return nil, &Error{Name: name, Type: qtype, Reason: "asked after its target finished", Err: ErrReleased}
		}
		if cl, ok := c.calls[k]; ok {
			c.hold(sc, k, cl)
			c.mu.Unlock()
			c.cacheHits.Add(1)
			select {
			case <-cl.done:
				if cl.err != nil && cl.cancelled && ctx.Err() == nil {
					continue // its asker gave up; this one has time left
				}
				return cl.res, cl.err
			case <-ctx.Done():
				return nil, &Error{Name: name, Type: qtype, Reason: "deadline exceeded", Err: ErrTemporary}
			}
		}
		cl := &call{done: make(chan struct{})}
		c.calls[k] = cl
		c.hold(sc, k, cl)
		c.mu.Unlock()

		cl.res, cl.err = c.exchange(ctx, name, qtype)
		if cl.err != nil {
			cl.cancelled = ctx.Err() != nil
			if !cl.cancelled {
				c.failures.Add(1)
			}
			c.mu.Lock()
			if c.calls[k] == cl {
				delete(c.calls, k)
				if cl.idle != nil {
					c.idle.Remove(cl.idle)
					cl.idle = nil
				}
			}
			c.mu.Unlock()
		}
		close(cl.done)
		return cl.res, cl.err
	}
}

// hold records that scope sc uses the answer to k (c.mu held).
func (c *Client) hold(sc *Scope, k key, cl *call) {
	if sc == nil || sc.keys[k] == cl {
		return
	}
	sc.keys[k] = cl // may replace a call that failed and was dropped
	cl.refs++
	if cl.idle != nil {
		c.idle.Remove(cl.idle)
		cl.idle = nil
	}
}

// Scope is a view of the Client for one target. The answers a scope has
// used stay cached until Release, so one target never asks a question
// twice; after Release they join a bounded list shared by later targets
// (Config.SharedCache), which keeps a long batch run's memory flat. A scope
// also remembers which of its questions failed and which were answered
// from a --zone file, for the target's report. After Release it refuses
// lookups with ErrReleased.
type Scope struct {
	c    *Client
	keys map[key]*call // guarded by c.mu; nil after Release

	noteMu   sync.Mutex
	failed   []Failure
	fromZone []string
}

// Failure is one question of a target that could not be answered.
type Failure struct {
	Name   string // lower-case FQDN
	Type   uint16
	Reason string // "SERVFAIL", "REFUSED", "timeout", "CNAME chain loops ..."
	Server string // the last server asked, if any
}

// String is "_dmarc.com TXT SERVFAIL" (name without the final dot).
func (f Failure) String() string {
	return strings.TrimSuffix(f.Name, ".") + " " + TypeString(f.Type) + " " + f.Reason
}

// maxNotes bounds each of a scope's lists.
const maxNotes = 32

// Scope starts a scope.
func (c *Client) Scope() *Scope { return &Scope{c: c, keys: map[key]*call{}} }

func (s *Scope) noteFailure(err error) {
	var e *Error
	if !errors.As(err, &e) {
		return
	}
	f := Failure{Name: e.Name, Type: e.Type, Reason: e.Reason, Server: e.Server}
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	if len(s.failed) < maxNotes && !slices.Contains(s.failed, f) {
		s.failed = append(s.failed, f)
	}
}

func (s *Scope) noteZone(name string, qtype uint16) {
	n := strings.TrimSuffix(name, ".") + " " + TypeString(qtype)
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	if len(s.fromZone) < maxNotes && !slices.Contains(s.fromZone, n) {
		s.fromZone = append(s.fromZone, n)
	}
}

// Failures returns the questions of this scope that failed (temporary
// failures and CNAME loops), in the order they failed (at most 32).
func (s *Scope) Failures() []Failure {
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	return slices.Clone(s.failed)
}

// FromZone returns the questions answered from a --zone file, as
// "name TYPE", in the order they were asked (at most 32).
func (s *Scope) FromZone() []string {
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	return slices.Clone(s.fromZone)
}

// Lookup implements Resolver.
func (s *Scope) Lookup(ctx context.Context, name string, qtype uint16) (*Result, error) {
	return s.c.lookup(ctx, name, qtype, s)
}

// Release lets the scope's answers be dropped once no other scope holds
// them and the shared list is full.
func (s *Scope) Release() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, held := range s.keys {
		cl, ok := c.calls[k]
		if !ok || cl != held {
			continue // dropped after a cancelled query; a new call is not ours
		}
		if cl.refs--; cl.refs == 0 {
			cl.idle = c.idle.PushFront(k)
		}
	}
	s.keys = nil
	for c.idle.Len() > c.cfg.SharedCache {
		back := c.idle.Back()
		delete(c.calls, back.Value.(key))
		c.idle.Remove(back)
	}
}

// Cached returns how many answers the cache holds.
func (c *Client) Cached() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

func (c *Client) exchange(ctx context.Context, name string, qtype uint16) (*raw, error) {
	if z := c.cfg.Zones; z != nil {
		outcome, rrs := z.Lookup(name, qtype)
		// Offline, the zones are the whole world. Online they are laid over
		// the live DNS: only what a file holds for this name and type (or a
		// CNAME at the name) replaces the live answer.
		if (c.cfg.Offline && outcome != zone.NotAuthoritative) || outcome == zone.Answer {
			c.zoneHits.Add(1)
			r := &raw{answer: rrs, source: "zone", partial: true}
			if outcome == zone.NXDomain {
				r.rcode = dns.RcodeNameError
			}
			c.trace("zone", name, qtype, rcodeName(r.rcode), len(rrs), 0, false, "")
			return r, nil
		}
	}
	if c.cfg.Offline {
		c.zoneHits.Add(1)
		c.trace("offline", name, qtype, "NXDOMAIN", 0, 0, false, "not in any --zone; not asked (--offline)")
		return &raw{rcode: dns.RcodeNameError, source: "offline", offline: true}, nil
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.AuthenticatedData = true // RFC 6840 5.7: ask for the AD bit
	m.SetEdns0(c.cfg.UDPSize, false)

	order := c.order()
	var lastErr *Error
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		srv := order[attempt%len(order)]
		if attempt > 0 {
			srv.retried.Add(1)
		}
		resp, proto, err := c.ask(ctx, m, srv)
		if err != nil {
			reason := "timeout"
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, context.DeadlineExceeded) {
				reason = err.Error()
				srv.errors.Add(1)
			} else if ctx.Err() == nil {
				srv.timedOut.Add(1)
			}
			lastErr = &Error{Name: name, Type: qtype, Server: srv.name, Reason: reason, Err: ErrTemporary}
			if ctx.Err() != nil {
				lastErr.Reason = "deadline exceeded"
				return nil, lastErr
			}
			srv.failed(time.Now())
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			srv.answered.Add(1)
			srv.succeeded()
			return &raw{rcode: resp.Rcode, answer: resp.Answer, ad: resp.AuthenticatedData, source: srv.name + "/" + proto}, nil
		case dns.RcodeRefused: // the server will not serve us: try another
			srv.refused.Add(1)
			srv.failed(time.Now())
		case dns.RcodeServerFailure: // often the domain's fault, not the server's
			srv.servfail.Add(1)
			srv.succeeded()
		default: // FORMERR, NOTIMP, ...
			srv.errors.Add(1)
			srv.failed(time.Now())
		}
		lastErr = &Error{Name: name, Type: qtype, Server: srv.name, Reason: rcodeName(resp.Rcode), Err: ErrTemporary}
	}
	return nil, lastErr
}

// order returns the servers, healthy first (configured order within each
// rank), and starts a background probe of any down server whose time is up.
func (c *Client) order() []*server {
	if len(c.servers) == 1 {
		return c.servers
	}
	now := time.Now()
	out := slices.Clone(c.servers)
	ranks := make([]int, len(out))
	for i, s := range out {
		ranks[i] = s.rank(now)
		if s.dueForProbe(now) {
			go c.probe(s)
		}
	}
	// A stable insertion sort by rank: a handful of servers.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && ranks[j] < ranks[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
			ranks[j], ranks[j-1] = ranks[j-1], ranks[j]
		}
	}
	return out
}

// probe asks a down server for the root's NS records; any reply but REFUSED
// makes it healthy again. It ends within the Timeout.
func (c *Client) probe(s *server) {
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeNS)
	m.RecursionDesired = true
	m.SetEdns0(c.cfg.UDPSize, false)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	resp, _, err := c.ask(ctx, m, s)
	s.probed(err == nil && resp.Rcode != dns.RcodeRefused, time.Now())
}

// ask sends one question to one server: over UDP (retransmitted after an
// adaptive RTO, then over TCP if the reply was truncated), TLS or HTTPS.
func (c *Client) ask(ctx context.Context, m *dns.Msg, srv *server) (*dns.Msg, string, error) {
	proto := srv.proto
	q := m.Question[0]
	for {
		start := time.Now()
		c.sent.Add(1)
		srv.sent.Add(1)
		var resp *dns.Msg
		var err error
		switch proto {
		case "udp":
			var mux *udpMux
			if mux, err = srv.udp(); err == nil {
				var rtt time.Duration
				resp, rtt, err = mux.exchange(ctx, m, srv.rto(c.cfg.Timeout), c.cfg.Timeout, func(waited time.Duration) {
					srv.expired(waited)
					c.sent.Add(1)
					srv.sent.Add(1)
					srv.retried.Add(1)
					c.trace(srv.name+"/udp", q.Name, q.Qtype, "-", 0, time.Since(start), false, "no reply yet, sent again")
				})
				if err == nil && rtt > 0 {
					srv.sample(rtt)
				}
			}
		case "tcp", "tls":
			resp, err = srv.tcp.exchange(ctx, m, c.cfg.Timeout)
		case "https":
			resp, err = srv.doh.exchange(ctx, m, c.cfg.Timeout)
		}
		end := time.Now()
		if err != nil {
			c.record(q, srv.name, "TIMEOUT", start, end)
			c.trace(srv.name+"/"+proto, q.Name, q.Qtype, "error", 0, end.Sub(start), false, err.Error())
			return nil, proto, err
		}
		c.record(q, srv.name, rcodeName(resp.Rcode), start, end)
		truncated := resp.Truncated && proto == "udp"
		note := ""
		if truncated {
			note = "truncated, asking again over TCP"
		}
		c.trace(srv.name+"/"+proto, q.Name, q.Qtype, rcodeName(resp.Rcode), len(resp.Answer), end.Sub(start), resp.AuthenticatedData, note)
		if !truncated {
			if resp.Truncated {
				return nil, proto, errors.New("reply truncated over a stream")
			}
			return resp, proto, nil
		}
		proto = "tcp"
	}
}

func (c *Client) record(q dns.Question, server, rcode string, start, end time.Time) {
	if !c.cfg.Record {
		return
	}
	c.logMu.Lock()
	c.log = append(c.log, Exchange{Name: q.Name, Type: q.Qtype, Server: server, Rcode: rcode, Start: start, End: end})
	c.logMu.Unlock()
}

func (c *Client) trace(server, name string, qtype uint16, rcode string, answers int, d time.Duration, ad bool, note string) {
	w := c.cfg.Trace
	if w == nil {
		return
	}
	line := fmt.Sprintf(";; %-5s %-40s %-9s answers=%d %4dms server=%s", TypeString(qtype), name, rcode, answers, d.Milliseconds(), server)
	if ad {
		line += " ad"
	}
	if note != "" {
		line += " (" + note + ")"
	}
	c.traceMu.Lock()
	fmt.Fprintln(w, line)
	c.traceMu.Unlock()
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}
