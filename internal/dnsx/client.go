package dnsx

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

// Config configures a Client.
type Config struct {
	// Servers are "host:port" (or "host", port 53) of recursive resolvers,
	// tried in order. Empty means /etc/resolv.conf.
	Servers []string
	// Zones answer first, for names they are authoritative for.
	Zones *zone.Store
	// Offline forbids network queries: names outside Zones get a synthetic
	// NXDOMAIN with Result.Offline set.
	Offline bool
	// Timeout is the wait for one reply to one packet (default 2s).
	Timeout time.Duration
	// Retries is how many more packets are sent after a timeout or a
	// SERVFAIL/REFUSED, rotating through Servers (default 2).
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
	SharedCache int
}

// Client is the production Resolver: zones, then the network, behind a
// per-run cache that coalesces concurrent identical questions. Safe for
// concurrent use; create one per run.
type Client struct {
	cfg     Config
	servers []string

	mu    sync.Mutex
	calls map[key]*call
	idle  *list.List // keys no scope holds, most recently released first

	muxMu sync.Mutex
	muxes map[string]*udpMux // server -> UDP sockets

	sent      atomic.Int64 // packets sent to servers
	zoneHits  atomic.Int64 // questions answered from zones or offline
	cacheHits atomic.Int64 // questions answered from the cache or joined in flight
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
	refs int           // scopes (running targets) holding this answer
	idle *list.Element // position in the Client's idle list when refs == 0 after a release
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
	Sent      int64 // packets sent to DNS servers (retries and TCP fallback included)
	ZoneHits  int64 // questions answered from --zone data or --offline
	CacheHits int64 // questions answered by the cache or joined to one in flight
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
	c := &Client{cfg: cfg, calls: map[key]*call{}, idle: list.New(), muxes: map[string]*udpMux{}}
	for _, s := range cfg.Servers {
		hp, err := NormalizeServer(s)
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, hp)
	}
	if len(c.servers) == 0 && !cfg.Offline {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(conf.Servers) == 0 {
			return nil, fmt.Errorf("no DNS resolver: /etc/resolv.conf has none; give one with --resolver HOST[:PORT], or use --offline with --zone")
		}
		for _, s := range conf.Servers {
			c.servers = append(c.servers, net.JoinHostPort(s, conf.Port))
		}
	}
	return c, nil
}

// NormalizeServer turns "1.2.3.4", "1.2.3.4:5353", "::1" or "[::1]:53" into
// host:port.
func NormalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty --resolver")
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" || port == "" {
			return "", fmt.Errorf("--resolver %q: want HOST[:PORT]", s)
		}
		return s, nil
	}
	if strings.Count(s, ":") > 1 || !strings.Contains(s, ":") { // bare IPv6 or bare host
		return net.JoinHostPort(strings.Trim(s, "[]"), "53"), nil
	}
	return "", fmt.Errorf("--resolver %q: want HOST[:PORT]", s)
}

// Servers returns the servers in use.
func (c *Client) Servers() []string { return append([]string(nil), c.servers...) }

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{Sent: c.sent.Load(), ZoneHits: c.zoneHits.Load(), CacheHits: c.cacheHits.Load()}
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
			return nil, err
		}
		res.AD = (hop == 0 || res.AD) && r.ad
		res.Source = r.source
		res.Offline = res.Offline || r.offline
		// Follow the chain inside this answer.
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
				seen = map[string]bool{fq: true}
			}
			if seen[next] || len(res.CNAMEs) >= maxChain {
				return nil, &Error{Name: fq, Type: qtype, Reason: "CNAME chain loops or is longer than 10", Err: ErrCNAMELoop}
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
		if len(res.Records) > 0 {
			res.Status = StatusOK
			return res, nil
		}
		if r.rcode == dns.RcodeNameError {
			res.Status = StatusNXDomain
			return res, nil
		}
		if r.partial && cur != asked {
			continue // a zone gave only the alias: ask for its target
		}
		res.Status = StatusNoData
		return res, nil
	}
}

// query answers one question from the cache, joining an identical question
// already in flight, or asks zones/servers.
func (c *Client) query(ctx context.Context, name string, qtype uint16, sc *Scope) (*raw, error) {
	k := key{name, qtype}
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
	if cl.err != nil && ctx.Err() != nil {
		// This caller's own deadline ended the query: do not cache that
		// for callers with time left.
		c.mu.Lock()
		delete(c.calls, k)
		c.mu.Unlock()
	}
	close(cl.done)
	return cl.res, cl.err
}

// hold records that scope sc uses the answer to k (c.mu held).
func (c *Client) hold(sc *Scope, k key, cl *call) {
	if sc == nil {
		return
	}
	if _, ok := sc.keys[k]; ok {
		return
	}
	sc.keys[k] = cl
	cl.refs++
	if cl.idle != nil {
		c.idle.Remove(cl.idle)
		cl.idle = nil
	}
}

// Scope is a view of the Client for one target. The answers a scope has
// used stay cached until Release, so one target never asks a question
// twice; after Release they join a bounded list shared by later targets
// (Config.SharedCache), which keeps a long batch run's memory flat.
type Scope struct {
	c    *Client
	keys map[key]*call // guarded by c.mu
}

// Scope starts a scope.
func (c *Client) Scope() *Scope { return &Scope{c: c, keys: map[key]*call{}} }

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
		if outcome, rrs := z.Lookup(name, qtype); outcome != zone.NotAuthoritative {
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

	var lastErr *Error
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		server := c.servers[attempt%len(c.servers)]
		resp, proto, err := c.send(ctx, m, server)
		if err != nil {
			reason := "timeout"
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, context.DeadlineExceeded) {
				reason = err.Error()
			}
			lastErr = &Error{Name: name, Type: qtype, Server: server, Reason: reason, Err: ErrTemporary}
			if ctx.Err() != nil {
				lastErr.Reason = "deadline exceeded"
				return nil, lastErr
			}
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			return &raw{rcode: resp.Rcode, answer: resp.Answer, ad: resp.AuthenticatedData, source: server + "/" + proto}, nil
		default: // SERVFAIL, REFUSED, FORMERR, NOTIMP...: try the next server
			lastErr = &Error{Name: name, Type: qtype, Server: server, Reason: rcodeName(resp.Rcode), Err: ErrTemporary}
		}
	}
	return nil, lastErr
}

// send sends one question over UDP, and again over TCP if the reply was
// truncated.
func (c *Client) send(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, string, error) {
	for _, proto := range []string{"udp", "tcp"} {
		start := time.Now()
		c.sent.Add(1)
		var resp *dns.Msg
		var err error
		if proto == "udp" {
			// The multiplexer picks the ID, unique among its questions.
			var mux *udpMux
			if mux, err = c.mux(server); err == nil {
				resp, err = mux.exchange(ctx, m, c.cfg.Timeout) // its own timer bounds the wait
			}
		} else {
			m.Id = dns.Id()
			qctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
			cl := &dns.Client{Net: "tcp", Timeout: c.cfg.Timeout}
			resp, _, err = cl.ExchangeContext(qctx, m, server)
			cancel()
		}
		end := time.Now()
		q := m.Question[0]
		if err != nil {
			c.record(q, server, "TIMEOUT", start, end)
			c.trace(server+"/"+proto, q.Name, q.Qtype, "error", 0, end.Sub(start), false, err.Error())
			return nil, proto, err
		}
		c.record(q, server, rcodeName(resp.Rcode), start, end)
		note := ""
		if resp.Truncated && proto == "udp" {
			note = "truncated, retrying over TCP"
		}
		c.trace(server+"/"+proto, q.Name, q.Qtype, rcodeName(resp.Rcode), len(resp.Answer), end.Sub(start), resp.AuthenticatedData, note)
		if resp.Truncated && proto == "udp" {
			continue
		}
		return resp, proto, nil
	}
	return nil, "tcp", errors.New("truncated over TCP")
}

// mux returns the UDP multiplexer for server.
func (c *Client) mux(server string) (*udpMux, error) {
	c.muxMu.Lock()
	defer c.muxMu.Unlock()
	if m, ok := c.muxes[server]; ok {
		return m, nil
	}
	m, err := newUDPMux(server, c.cfg.UDPSize)
	if err != nil {
		return nil, err
	}
	c.muxes[server] = m
	return m, nil
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
