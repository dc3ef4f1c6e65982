// Package ctxconn ties a connection's deadlines to a context: once the
// context is done, every deadline is in the past, including deadlines set
// later.
//
// The usual pattern, context.AfterFunc(ctx, func() { conn.SetDeadline(past) }),
// loses a cancellation that lands just before the next protocol step sets
// its own deadline (now + step timeout): the step then waits its full
// timeout. Watch closes that window by routing every SetDeadline through
// one lock that knows whether the context has ended.
package ctxconn

import (
	"context"
	"net"
	"sync"
	"time"
)

// past is a deadline that has expired (time.Time{} would mean "none").
var past = time.Unix(1, 0)

// Conn is a net.Conn whose deadlines cannot outlive its context. Wrap the
// raw connection before any TLS layer: tls.Conn sets its deadlines on the
// connection it wraps.
type Conn struct {
	net.Conn
	mu   sync.Mutex
	done bool
}

// Watch wraps nc so that ctx's end expires its deadlines for good. Call
// stop when the connection is no longer used, to release the watch.
func Watch(ctx context.Context, nc net.Conn) (c *Conn, stop func() bool) {
	c = &Conn{Conn: nc}
	stop = context.AfterFunc(ctx, c.expire)
	return c, stop
}

func (c *Conn) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	_ = c.Conn.SetDeadline(past)
}

func (c *Conn) set(t time.Time, f func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		t = past
	}
	return f(t)
}

// SetDeadline sets both deadlines, or expires them if the context ended.
func (c *Conn) SetDeadline(t time.Time) error { return c.set(t, c.Conn.SetDeadline) }

// SetReadDeadline sets the read deadline, or expires it if the context ended.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.set(t, c.Conn.SetReadDeadline) }

// SetWriteDeadline sets the write deadline, or expires it if the context ended.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.set(t, c.Conn.SetWriteDeadline)
}
