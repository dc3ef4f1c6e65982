// Package dnstest is an in-process DNS server for tests and benchmarks. It
// serves zone text over real UDP and TCP on 127.0.0.1 (a random port) and
// plays a recursive resolver for "the whole DNS": names it holds are
// answered (CNAME chains followed), every other name is NXDOMAIN.
//
// Per-name knobs make it misbehave the ways real DNS does: added latency,
// SERVFAIL (always, or for the first N questions), REFUSED, no answer at
// all (a timeout), lost packets, truncation over UDP, a TCP port that
// hangs, an oversized TXT record, the AD bit, and hostile replies (wrong ID,
// wrong question). Server-wide knobs: latency with jitter, a loss rate, a
// dead server. It logs every query, so tests can assert
// how many were sent.
package dnstest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

// Behavior changes how the server answers questions for one name.
type Behavior struct {
	Delay    time.Duration // added before answering
	Rcode    int           // answer with this RCODE (dns.RcodeServerFailure, dns.RcodeRefused) and no records
	Drop     bool          // never answer: the client times out
	Truncate bool          // over UDP, answer with TC=1 and no records (forces TCP)
	BigTXT   int           // answer TXT questions with one record of this many bytes
	AD       bool          // set the AD bit (as a validating resolver would)
	// ServFailFirst answers SERVFAIL to the first N questions for the name
	// (counted from when the behaviour was set), then answers normally: a
	// blip, as in issue 21.
	ServFailFirst int
	// DropFirst never answers the first N packets for the name: lost
	// packets, for retransmission tests.
	DropFirst int
	// Hostile replies: WrongID answers with another message ID; WrongName
	// answers (with records) for this other name instead of the asked one.
	WrongID   bool
	WrongName string
	// DropTCP never answers over TCP (the connection stays open): with
	// Truncate, a TCP port that accepts and hangs.
	DropTCP bool
	// Types limits the behaviour to these query types (empty: all types).
	Types []uint16
}

// Query is one question the server received.
type Query struct {
	Name  string // lower-case FQDN
	Type  uint16
	Proto string // "udp" or "tcp"
	At    time.Time
	ID    uint16
	// Resent marks a UDP packet that repeats an earlier one (same ID and
	// question): the client's retransmission of the same exchange, not a
	// new question. (dnsx resends with a new ID: see Count.)
	Resent bool
}

// exchange identifies a UDP exchange: a retransmission repeats all three.
type exchange struct {
	id    uint16
	name  string
	qtype uint16
}

// Server is a running test DNS server.
type Server struct {
	store    *zone.Store
	udp, tcp *dns.Server
	addr     string

	mu       sync.Mutex
	behavior map[string]Behavior
	latency  time.Duration
	jitter   time.Duration
	rng      *rand.Rand
	queries  []Query
	udpSeen  map[exchange]bool
	seen     map[string]int // questions per name since its behaviour was set
	loss     float64
	dead     bool
	tcpConns atomic.Int64
	tlsConns atomic.Int64 // DoT and DoH connections accepted
	closers  []func()
	barrier  *Barrier // see barrier.go
	flight   inFlight
}

// countingListener counts accepted TCP connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TCPConns returns how many TCP connections the server accepted.
func (s *Server) TCPConns() int { return int(s.tcpConns.Load()) }

// New starts a server for zone text. Relative names are relative to the
// root, so "example.com TXT ..." needs no trailing dot.
func New(zoneText string) (*Server, error) {
	store := zone.NewStore(true)
	if strings.TrimSpace(zoneText) != "" {
		if err := store.Load(strings.NewReader(zoneText), ".", "dnstest zone"); err != nil {
			return nil, err
		}
	}
	s := &Server{store: store, behavior: map[string]Behavior{}, seen: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	var lastErr error
	for try := 0; try < 20; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		// Benchmarks send thousands of questions at once; a small receive
		// buffer would drop some and turn them into client timeouts.
		_ = pc.(*net.UDPConn).SetReadBuffer(8 << 20)
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		s.addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.udp = &dns.Server{PacketConn: pc, Handler: s, UDPSize: 65535}
		s.tcp = &dns.Server{Listener: &countingListener{Listener: l, n: &s.tcpConns}, Handler: s}
		started := make(chan struct{}, 2)
		s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
		s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
		go s.udp.ActivateAndServe() //nolint:errcheck // ends on Close
		go s.tcp.ActivateAndServe() //nolint:errcheck
		<-started
		<-started
		return s, nil
	}
	return nil, fmt.Errorf("dnstest: no free port: %w", lastErr)
}

// Start is New for tests: it fails the test on error and closes the server
// when the test ends.
func Start(tb testing.TB, zoneText string) *Server {
	tb.Helper()
	s, err := New(zoneText)
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Addr is the server's "127.0.0.1:port", for --resolver.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
	s.mu.Lock()
	closers := s.closers
	s.closers = nil
	s.mu.Unlock()
	for _, c := range closers {
		c()
	}
}

// Client returns a dnsx client that asks only this server, with short
// timeouts suited to tests.
func (s *Server) Client(tb testing.TB) *dnsx.Client {
	tb.Helper()
	c, err := dnsx.New(dnsx.Config{Servers: []string{s.addr}, Timeout: 300 * time.Millisecond, Retries: 1})
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	return c
}

// Set changes how name (any case, with or without trailing dot) is
// answered. A zero Behavior restores normal answers.
func (s *Server) Set(name string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	s.behavior[name] = b
	delete(s.seen, name)
}

// SetLoss drops this fraction (0 to 1) of all packets received, at random
// (seeded: runs are repeatable). The questions are still logged.
func (s *Server) SetLoss(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loss = rate
}

// SetDead makes the server answer nothing at all (a dead resolver); the
// questions are still logged.
func (s *Server) SetDead(dead bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = dead
}

// SetLatency delays every answer by fixed plus a uniformly random extra in
// [0, jitter). The random sequence is seeded: runs are repeatable.
func (s *Server) SetLatency(fixed, jitter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency, s.jitter = fixed, jitter
}

// Add adds records given as zone text lines (absolute or root-relative names).
func (s *Server) Add(zoneText string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	zp := dns.NewZoneParser(strings.NewReader(zoneText), ".", "dnstest add")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		s.store.Add(rr)
	}
	return zp.Err()
}

// Queries returns every question received so far.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// Count returns how many times name/qtype was asked (qtype 0: any type).
// A UDP packet that repeats an earlier one with the same ID is a
// retransmission and is not counted. dnsx gives each transmission an ID of
// its own, so its retransmissions (a reply slower than its adaptive resend
// timer, as on a loaded machine) are counted here: a test of "asked once"
// through dnsx allows for the client's Stats().Servers[i].Retried.
// Packets counts every packet.
func (s *Server) Count(name string, qtype uint16) int {
	return s.count(name, qtype, false)
}

// AskedOnce reports how many times name/qtype reached the server, and
// whether that is once, apart from retransmissions: c (the client that
// asked) counts its own, which dnstest cannot tell from new questions since
// dnsx gives each packet its own ID. A loaded machine causes some; a second
// lookup (a cache or coalescing bug) on an otherwise quiet run does not
// hide behind them.
func (s *Server) AskedOnce(c *dnsx.Client, name string, qtype uint16) (int, bool) {
	n := s.Count(name, qtype)
	var retried int64
	for _, st := range c.Stats().Servers {
		retried += st.Retried
	}
	return n, n >= 1 && int64(n-1) <= retried
}

// Packets is Count with retransmissions included.
func (s *Server) Packets(name string, qtype uint16) int {
	return s.count(name, qtype, true)
}

func (s *Server) count(name string, qtype uint16, resent bool) int {
	name = strings.ToLower(dns.Fqdn(name))
	n := 0
	for _, q := range s.Queries() {
		if q.Name == name && (qtype == 0 || q.Type == qtype) && (resent || !q.Resent) {
			n++
		}
	}
	return n
}

// Total returns the number of questions received, retransmissions of the
// same exchange not counted (see Count).
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.queries {
		if !q.Resent {
			n++
		}
	}
	return n
}

// ResetLog forgets the questions received so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = nil
	s.udpSeen = nil
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	proto := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	s.serve(w, req, proto)
}

// serve answers one question that came over proto ("udp", "tcp", "tls",
// "https"); everything but "udp" is a stream (no truncation).
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg, proto string) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	defer s.flight.enter()()
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	query := Query{Name: name, Type: q.Qtype, Proto: proto, At: time.Now(), ID: req.Id}
	if proto == "udp" {
		x := exchange{req.Id, name, q.Qtype}
		if s.udpSeen == nil {
			s.udpSeen = map[exchange]bool{}
		}
		query.Resent = s.udpSeen[x]
		s.udpSeen[x] = true
	}
	s.queries = append(s.queries, query)
	b, hasB := s.behavior[name]
	if hasB && len(b.Types) > 0 && !containsType(b.Types, q.Qtype) {
		b, hasB = Behavior{}, false
	}
	delay := s.latency
	if s.jitter > 0 {
		delay += time.Duration(s.rng.Int64N(int64(s.jitter)))
	}
	nth := 0
	if hasB {
		s.seen[name]++
		nth = s.seen[name]
	}
	drop := s.dead || (s.loss > 0 && s.rng.Float64() < s.loss)
	bar := s.barrier
	s.mu.Unlock()
	bar.hold(name, q.Qtype)
	if hasB {
		delay += b.Delay
		drop = drop || b.Drop || nth <= b.DropFirst || (b.DropTCP && proto != "udp")
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if drop {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	m.AuthenticatedData = b.AD
	switch {
	case b.WrongName != "":
		other := strings.ToLower(dns.Fqdn(b.WrongName))
		m.Question[0].Name = other
		s.answer(m, other, q.Qtype)
	case b.Rcode != 0:
		m.Rcode = b.Rcode
	case nth > b.DropFirst && nth <= b.DropFirst+b.ServFailFirst:
		m.Rcode = dns.RcodeServerFailure
	case b.Truncate && proto == "udp":
		m.Truncated = true
	case b.BigTXT > 0 && q.Qtype == dns.TypeTXT:
		m.Answer = []dns.RR{bigTXT(q.Name, b.BigTXT)}
	default:
		s.answer(m, name, q.Qtype)
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
		m.SetEdns0(opt.UDPSize(), false)
	}
	if proto == "udp" {
		m.Truncate(size)
	} else {
		m.Truncate(dns.MaxMsgSize)
	}
	if b.WrongID {
		m.Id = req.Id + 1
	}
	_ = w.WriteMsg(m)
}

// answer fills m like a recursive resolver: CNAME chains are followed.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for hop := 0; hop < 12; hop++ {
		outcome, rrs := s.store.Lookup(name, qtype)
		switch outcome {
		case zone.NXDomain:
			m.Rcode = dns.RcodeNameError
			return
		case zone.NoData, zone.NotAuthoritative:
			return
		}
		m.Answer = append(m.Answer, rrs...)
		cn, ok := rrs[0].(*dns.CNAME)
		if !ok || qtype == dns.TypeCNAME {
			return
		}
		name = strings.ToLower(cn.Target)
		if seen[name] {
			return // a loop: answer the chain so far, as BIND does
		}
		seen[name] = true
	}
}

func bigTXT(owner string, n int) dns.RR {
	t := &dns.TXT{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}}
	chunk := strings.Repeat("x", 255)
	for n > 0 {
		k := min(n, 255)
		t.Txt = append(t.Txt, chunk[:k])
		n -= k
	}
	return t
}

func containsType(ts []uint16, t uint16) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// Answer returns the answer section the server gives for name/qtype
// (ignoring Behaviors), for analyses of a query log.
func (s *Server) Answer(name string, qtype uint16) []dns.RR {
	m := new(dns.Msg)
	s.answer(m, strings.ToLower(dns.Fqdn(name)), qtype)
	return m.Answer
}
