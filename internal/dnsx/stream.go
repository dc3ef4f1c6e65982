package dnsx

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// streamPool keeps a few reused connections to a server for DNS over TCP
// (after truncation) or over TLS (RFC 7858). Questions are pipelined on
// them and matched to replies by ID and question (RFC 7766 6.2.1.1: replies
// may come in any order), so a run pays one handshake, not one per
// question. At most streamPerConn questions wait on one connection and at
// most streamConns connections are open; past that a question waits for
// room (within its timeout). A question whose connection the server closed
// is asked again on a new one (RFC 7766 6.2.1: servers may close idle or
// busy connections at any time).
type streamPool struct {
	addr string
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	once  sync.Once
	slots chan struct{} // one per question in flight

	mu    sync.Mutex
	conns []*streamConn

	dials, warmed atomic.Int64 // connections opened (all, and ahead of a question)
	warmErr       error        // why warm failed, for the first question (p.mu)
}

// A single check asks up to ~150 questions at once (68 of them blocklist
// lookups): with room for 256 on one connection it never pays a second
// handshake on its critical path. A batch spreads over up to 4.
const (
	streamConns   = 4
	streamPerConn = 256
)

type streamConn struct {
	conn net.Conn
	wmu  sync.Mutex // one writer at a time

	mu      sync.Mutex
	pending map[uint16]*streamWaiter
	closed  bool
}

type streamWaiter struct {
	q     *dns.Msg // the question as sent (its ID is this connection's)
	reply chan streamReply
}

type streamReply struct {
	m   *dns.Msg
	err error
}

// closedError is a connection that ended under a question: ask again.
type closedError struct{ err error }

func (e closedError) Error() string { return "connection closed: " + e.err.Error() }
func (e closedError) Unwrap() error { return e.err }

var errStreamClosed = errors.New("connection closed")

// get returns the open connection with the fewest questions waiting,
// dialing another while all are busy and there are fewer than streamConns.
func (p *streamPool) get(ctx context.Context, deadline time.Time) (*streamConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := p.conns[:0]
	var best *streamConn
	bestN := 0
	for _, c := range p.conns {
		c.mu.Lock()
		closed, n := c.closed, len(c.pending)
		c.mu.Unlock()
		if closed {
			continue
		}
		live = append(live, c)
		if best == nil || n < bestN {
			best, bestN = c, n
		}
	}
	clear(p.conns[len(live):])
	p.conns = live
	if best != nil && (bestN < streamPerConn || len(p.conns) >= streamConns) {
		return best, nil
	}
	if err := p.warmErr; err != nil && best == nil {
		p.warmErr = nil
		return nil, err
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := p.dial(dctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	p.dials.Add(1)
	c := &streamConn{conn: conn, pending: map[uint16]*streamWaiter{}}
	p.conns = append(p.conns, c)
	go c.readLoop()
	return c, nil
}

// warm opens the first connection ahead of the first question (DNS over
// TLS: the TCP and TLS handshakes overlap the program's start-up instead of
// delaying its first answer). Questions that come meanwhile wait for it and
// use it. If it fails for another reason than a timeout (a certificate
// the CA does not vouch for, a refused connection), the first question to
// find no connection gets that error at once; the next ones dial again.
func (p *streamPool) warm(timeout time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := p.dial(ctx, "tcp", p.addr)
	if err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			p.warmErr = err
		}
		return
	}
	c := &streamConn{conn: conn, pending: map[uint16]*streamWaiter{}}
	p.conns = append(p.conns, c)
	p.warmed.Add(1)
	go c.readLoop()
}

// exchange sends msg and waits for the matching reply until timeout.
func (p *streamPool) exchange(ctx context.Context, msg *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	p.once.Do(func() { p.slots = make(chan struct{}, streamConns*streamPerConn) })
	deadline := time.Now().Add(timeout)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-t.C:
		return nil, timeoutError{}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for try := 0; ; try++ {
		c, err := p.get(ctx, deadline)
		if err != nil {
			return nil, err
		}
		r, err := c.exchange(ctx, msg, deadline, t.C)
		var ce closedError
		if err != nil && try < 2 && errors.As(err, &ce) && ctx.Err() == nil && time.Until(deadline) > 0 {
			continue
		}
		return r, err
	}
}

func (c *streamConn) exchange(ctx context.Context, msg *dns.Msg, deadline time.Time, timer <-chan time.Time) (*dns.Msg, error) {
	w := &streamWaiter{reply: make(chan streamReply, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, closedError{errStreamClosed}
	}
	id := uint16(rand.UintN(1 << 16))
	for _, taken := c.pending[id]; taken; _, taken = c.pending[id] {
		id = uint16(rand.UintN(1 << 16))
	}
	q := *msg // shallow copy: only the ID differs
	q.Id = id
	w.q = &q
	c.pending[id] = w
	c.mu.Unlock()
	defer c.forget(id, w)

	buf, err := q.Pack()
	if err != nil {
		return nil, err
	}
	frame := make([]byte, 2+len(buf))
	binary.BigEndian.PutUint16(frame, uint16(len(buf)))
	copy(frame[2:], buf)
	c.wmu.Lock()
	_ = c.conn.SetWriteDeadline(deadline)
	_, err = c.conn.Write(frame)
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		return nil, closedError{err}
	}
	select {
	case r := <-w.reply:
		if r.err != nil {
			return nil, r.err
		}
		r.m.Id = msg.Id
		return r.m, nil
	case <-timer:
		return nil, timeoutError{}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *streamConn) forget(id uint16, w *streamWaiter) {
	c.mu.Lock()
	if c.pending[id] == w {
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

// readLoop hands replies to their waiters. The connection closes when it has
// been idle (nothing pending) for idleClose, or on any framing error.
func (c *streamConn) readLoop() {
	var hdr [2]byte
	buf := make([]byte, 0, 512)
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(idleClose))
		n, err := io.ReadFull(c.conn, hdr[:])
		if err != nil {
			var ne net.Error
			if n == 0 && errors.As(err, &ne) && ne.Timeout() {
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
			c.fail(err)
			return
		}
		size := int(binary.BigEndian.Uint16(hdr[:]))
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(c.conn, buf); err != nil {
			c.fail(err)
			return
		}
		quickAck(c.conn)
		r := new(dns.Msg)
		if err := r.Unpack(buf); err != nil {
			c.fail(err) // the stream cannot be trusted any more
			return
		}
		c.mu.Lock()
		w, ok := c.pending[r.Id]
		if ok {
			delete(c.pending, r.Id)
		}
		c.mu.Unlock()
		if !ok {
			continue // a late reply to a question that timed out
		}
		if err := checkReply(w.q, r); err != nil {
			w.reply <- streamReply{err: err}
			continue
		}
		w.reply <- streamReply{m: r}
	}
}

// fail closes the connection and tells every waiter.
func (c *streamConn) fail(err error) {
	c.mu.Lock()
	c.closed = true
	ws := c.pending
	c.pending = map[uint16]*streamWaiter{}
	c.mu.Unlock()
	c.conn.Close()
	for _, w := range ws {
		select {
		case w.reply <- streamReply{err: closedError{err}}:
		default:
		}
	}
}
