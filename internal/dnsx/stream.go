package dnsx

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// streamPool keeps one reused connection to a server for DNS over TCP
// (after truncation) or over TLS (RFC 7858). Questions are pipelined on it
// and matched to replies by ID and question (RFC 7766 6.2.1.1: replies may
// come in any order), so a run pays one handshake, not one per question.
type streamPool struct {
	addr string
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu  sync.Mutex
	cur *streamConn
}

// maxStreamPending bounds the questions in flight on one connection.
const maxStreamPending = 1024

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

var errStreamClosed = errors.New("connection closed")

// get returns the open connection, dialing one if there is none.
func (p *streamPool) get(ctx context.Context, timeout time.Duration) (*streamConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.cur; c != nil {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if !closed {
			return c, nil
		}
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := p.dial(dctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	c := &streamConn{conn: conn, pending: map[uint16]*streamWaiter{}}
	p.cur = c
	go c.readLoop()
	return c, nil
}

// exchange sends msg and waits for the matching reply until timeout.
func (p *streamPool) exchange(ctx context.Context, msg *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	deadline := time.Now().Add(timeout)
	c, err := p.get(ctx, timeout)
	if err != nil {
		return nil, err
	}
	w := &streamWaiter{reply: make(chan streamReply, 1)}
	c.mu.Lock()
	if c.closed || len(c.pending) >= maxStreamPending {
		c.mu.Unlock()
		return nil, errStreamClosed
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
		return nil, err
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case r := <-w.reply:
		if r.err != nil {
			return nil, r.err
		}
		r.m.Id = msg.Id
		return r.m, nil
	case <-t.C:
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
		case w.reply <- streamReply{err: err}:
		default:
		}
	}
}
