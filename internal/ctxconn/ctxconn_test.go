package ctxconn

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// readExpires reads from c, which must fail with a deadline error; a read
// still blocked after the guard means the deadline was not expired (the
// far deadlines set by the tests are an hour away).
func readExpires(t *testing.T, c net.Conn) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read ended with %v, want a deadline error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("read still blocked 30 s after cancellation: a later deadline overrode it")
	}
}

// The race the package exists for, forced into its losing order: the
// context ends, then the next step sets its own (far) deadline.
func TestDeadlineAfterCancelStaysExpired(t *testing.T) {
	for name, set := range map[string]func(c *Conn, t time.Time) error{
		"SetDeadline":     (*Conn).SetDeadline,
		"SetReadDeadline": (*Conn).SetReadDeadline,
	} {
		t.Run(name, func(t *testing.T) {
			raw, _ := pair(t)
			ctx, cancel := context.WithCancel(context.Background())
			c, stop := Watch(ctx, raw)
			defer stop()
			cancel()
			// AfterFunc runs in its own goroutine: wait until it has.
			for !c.expired() {
				time.Sleep(time.Millisecond)
			}
			if err := set(c, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			readExpires(t, c)
		})
	}
}

// Cancellation during a blocked read ends the read.
func TestCancelEndsBlockedRead(t *testing.T) {
	raw, _ := pair(t)
	ctx, cancel := context.WithCancel(context.Background())
	c, stop := Watch(ctx, raw)
	defer stop()
	if err := c.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	go cancel()
	readExpires(t, c)
}

// Without cancellation the connection works and its deadlines are the
// caller's.
func TestNoCancelPassesThrough(t *testing.T) {
	raw, srv := pair(t)
	c, stop := Watch(context.Background(), raw)
	defer stop()
	if err := c.SetDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 'x' {
		t.Fatalf("read %q, %v", b, err)
	}
	if !stop() {
		t.Error("stop after no cancellation should report it stopped the watch")
	}
}

func (c *Conn) expired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}
