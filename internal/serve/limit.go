package serve

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// rateLimiter is a token bucket per client address: burst requests at
// once, then perMinute a minute. The client is the TCP peer; a proxy in
// front makes every client one (documented in docs/serve.md).
type rateLimiter struct {
	perMinute float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory: when more clients than this are
// tracked, buckets that have refilled completely are dropped.
const maxBuckets = 10000

func newRateLimiter(perMinute, burst int) *rateLimiter {
	return &rateLimiter{perMinute: float64(perMinute), burst: float64(burst), now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token for client, or reports how long until one is free.
func (l *rateLimiter) allow(client string) (bool, time.Duration) {
	if l == nil || l.perMinute <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Minutes()*l.perMinute)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
	return false, wait
}

func (l *rateLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Minutes()*l.perMinute >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets { // all busy: forget the oldest half's state
		n := 0
		for k := range l.buckets {
			delete(l.buckets, k)
			if n++; n >= maxBuckets/2 {
				break
			}
		}
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
