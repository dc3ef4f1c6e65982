package dnstest

import (
	"sync"
	"time"
)

// Barrier holds the questions it matches until n of them are waiting at
// the same time, then answers them all; later questions pass. A test that
// says "these n questions are asked at once" sets one and checks Reached:
// code that asks them one after another never gets n in flight. Timeout
// only keeps such code from hanging the test (the barrier then opens and
// Reached is false): no assertion depends on how long anything took.
type Barrier struct {
	n       int
	match   func(name string, qtype uint16) bool
	timeout time.Duration

	mu      sync.Mutex
	waiting int
	most    int
	done    bool
	open    chan struct{}
}

// SetBarrier installs a barrier for the questions match accepts (nil:
// all), replacing any earlier one.
func (s *Server) SetBarrier(n int, timeout time.Duration, match func(name string, qtype uint16) bool) *Barrier {
	b := &Barrier{n: n, match: match, timeout: timeout, open: make(chan struct{})}
	s.mu.Lock()
	s.barrier = b
	s.mu.Unlock()
	return b
}

// Reached reports whether n matching questions were waiting at once.
func (b *Barrier) Reached() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done && b.most >= b.n
}

// Most is the largest number of matching questions that waited at once.
func (b *Barrier) Most() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.most
}

// hold makes a matching question wait at the barrier.
func (b *Barrier) hold(name string, qtype uint16) {
	if b == nil || (b.match != nil && !b.match(name, qtype)) {
		return
	}
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return
	}
	b.waiting++
	b.most = max(b.most, b.waiting)
	if b.waiting >= b.n {
		b.done = true
		close(b.open)
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-time.After(b.timeout):
		b.mu.Lock()
		if !b.done {
			b.done = true
			close(b.open)
		}
		b.mu.Unlock()
	}
}

// inFlight counts questions being handled, for MaxInFlight.
type inFlight struct {
	mu        sync.Mutex
	now, most int
}

func (f *inFlight) enter() func() {
	f.mu.Lock()
	f.now++
	f.most = max(f.most, f.now)
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.now--
		f.mu.Unlock()
	}
}

// MaxInFlight is the largest number of questions the server was handling
// at the same time (waiting at a barrier or for latency included): a test
// of a concurrency bound checks it instead of a duration.
func (s *Server) MaxInFlight() int {
	s.flight.mu.Lock()
	defer s.flight.mu.Unlock()
	return s.flight.most
}
