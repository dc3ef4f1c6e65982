package dnsx

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// udpMux sends UDP questions to one server over a few long-lived sockets
// and hands each reply to the question waiting for it. Dialing a socket per
// question spends most of a batch run in socket/connect/close system calls;
// here a question costs one write and a share of one read loop.
//
// A reply is accepted only from the server's address, with the ID of a
// waiting question and the same question section (RFC 5452 9.1), so a
// stray or spoofed datagram cannot answer a question it was not asked.
// Sockets are spread over several random source ports, and a socket that
// has had nothing to wait for for a while is closed.
type udpMux struct {
	server string
	raddr  *net.UDPAddr

	mu    sync.Mutex
	conns []*muxConn
	next  int
}

// Sockets per server: enough ports to spread questions over, few enough to
// stay cheap. A socket takes up to perConn questions in flight before
// another is opened.
const (
	maxMuxConns = 8
	perConn     = 256
	idleClose   = 3 * time.Second
	// socketBuffer is the receive buffer asked for each socket.
	socketBuffer = 4 << 20
)

type muxConn struct {
	mux  *udpMux
	conn *net.UDPConn

	mu      sync.Mutex
	pending map[uint16]*waiter
	closed  bool
}

type waiter struct {
	q     dns.Question
	op    int
	reply chan *dns.Msg
}

var errMuxClosed = errors.New("socket closed")

// packBufs holds buffers for outgoing questions; a question with EDNS0 fits
// in a few hundred bytes.
var packBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func newUDPMux(server string) (*udpMux, error) {
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, err
	}
	return &udpMux{server: server, raddr: raddr}, nil
}

// conn picks an open socket with room, opening one if all are busy.
func (m *udpMux) conn() (*muxConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := m.conns[:0]
	for _, c := range m.conns {
		c.mu.Lock()
		if !c.closed {
			live = append(live, c)
		}
		c.mu.Unlock()
	}
	m.conns = live
	for i := range m.conns {
		c := m.conns[(m.next+i)%len(m.conns)]
		c.mu.Lock()
		room := len(c.pending) < perConn
		c.mu.Unlock()
		if room {
			m.next = (m.next + i + 1) % len(m.conns)
			return c, nil
		}
	}
	if len(m.conns) >= maxMuxConns && len(m.conns) > 0 {
		c := m.conns[m.next%len(m.conns)]
		m.next++
		return c, nil
	}
	uc, err := net.DialUDP("udp", nil, m.raddr)
	if err != nil {
		return nil, err
	}
	// Replies to a burst of questions arrive together; the default receive
	// buffer (about 200 KiB) drops some, and each drop costs a timeout and
	// a retry. Ask for more (the kernel caps it at net.core.rmem_max).
	_ = uc.SetReadBuffer(socketBuffer)
	c := &muxConn{mux: m, conn: uc, pending: map[uint16]*waiter{}}
	m.conns = append(m.conns, c)
	go c.readLoop()
	return c, nil
}

// exchange sends msg and waits for its reply until timeout or ctx ends. If
// no reply came after rto, the question is sent again, the wait doubling
// each time, never past timeout. Each transmission carries an ID of its
// own, so the reply says which one it answers and its round trip is known
// even after a retransmission: rtt is a valid RTT sample (RFC 6298 3,
// Karn's problem avoided without discarding samples). Discarding those
// samples instead biases SRTT low under load, since only the replies that
// beat the RTO are measured, and a low RTO retransmits more, which loads
// the server more. A late reply to an earlier transmission still counts.
// resent is called for each retransmission, with the wait that expired.
func (m *udpMux) exchange(ctx context.Context, msg *dns.Msg, rto, timeout time.Duration, resent func(waited time.Duration)) (reply *dns.Msg, rtt time.Duration, err error) {
	c, err := m.conn()
	if err != nil {
		return nil, 0, err
	}
	w := &waiter{q: msg.Question[0], op: msg.Opcode, reply: make(chan *dns.Msg, 1)}
	type sent struct {
		id uint16
		at time.Time
	}
	var ids []sent // guarded by c.mu after the first send
	register := func() (uint16, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return 0, errMuxClosed
		}
		id := uint16(rand.UintN(1 << 16))
		for _, taken := c.pending[id]; taken; _, taken = c.pending[id] {
			id = uint16(rand.UintN(1 << 16))
		}
		c.pending[id] = w
		ids = append(ids, sent{id: id})
		return id, nil
	}
	defer func() {
		c.mu.Lock()
		for _, s := range ids {
			if c.pending[s.id] == w {
				delete(c.pending, s.id)
			}
		}
		c.mu.Unlock()
	}()

	// Pack into a pooled buffer and write each transmission's ID into the
	// header (its first two bytes): the caller's message is left as it was.
	bp := packBufs.Get().(*[]byte)
	defer packBufs.Put(bp)
	buf, err := msg.PackBuffer(*bp)
	if err != nil {
		return nil, 0, err
	}
	*bp = buf[:0]
	send := func() error {
		id, err := register()
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint16(buf, id)
		now := time.Now()
		c.mu.Lock()
		ids[len(ids)-1].at = now
		c.mu.Unlock()
		_, err = c.conn.Write(buf)
		return err
	}
	if err = send(); err != nil {
		return nil, 0, err
	}
	end := time.Now().Add(timeout)
	wait := min(rto, timeout)
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case r := <-w.reply:
			now := time.Now()
			c.mu.Lock()
			for _, s := range ids {
				if s.id == r.Id {
					rtt = now.Sub(s.at)
				}
			}
			c.mu.Unlock()
			r.Id = msg.Id
			return r, rtt, nil
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case now := <-t.C:
			left := end.Sub(now)
			if left <= time.Millisecond {
				return nil, 0, timeoutError{}
			}
			if err = send(); err != nil {
				return nil, 0, err
			}
			if resent != nil {
				resent(wait)
			}
			wait *= 2
			t.Reset(min(wait, left))
		}
	}
}

func (c *muxConn) readLoop() {
	buf := make([]byte, 65535)
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(idleClose))
		n, err := c.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.mu.Lock()
				idle := len(c.pending) == 0
				if idle {
					c.closed = true
				}
				c.mu.Unlock()
				if idle {
					c.conn.Close()
					return
				}
				continue
			}
			c.shutdown()
			return
		}
		r := new(dns.Msg)
		if r.Unpack(buf[:n]) != nil || len(r.Question) != 1 {
			continue // not a DNS reply we can use: wait for the real one
		}
		c.mu.Lock()
		w, ok := c.pending[r.Id]
		if ok && r.Response && r.Opcode == w.op && sameQuestion(w.q, r.Question[0]) {
			delete(c.pending, r.Id)
		} else {
			ok = false
		}
		c.mu.Unlock()
		if ok {
			select {
			case w.reply <- r:
			default: // a reply to another transmission of the same question came first
			}
		}
	}
}

// shutdown closes the socket after a read error; waiters time out.
func (c *muxConn) shutdown() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.conn.Close()
}

func sameQuestion(a, b dns.Question) bool {
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}

// timeoutError is a net.Error that says it is a timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
