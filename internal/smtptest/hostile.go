package smtptest

import (
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// CheckHostile runs probe against each of HostileServers in a subtest. The
// test fails when probe has not returned within limit (derive it from the
// probe's own configured timeouts), when it returns an empty error text
// (every hostile server must produce a clear error or finding), when the
// client sent DATA or BDAT, when a goroutine outlives the probe and the
// server, or when more than maxAlloc bytes were allocated meanwhile (the
// endless line alone is EndlessLineBytes). probe runs on its own
// goroutine: it may call t.Error, not t.Fatal.
func CheckHostile(t *testing.T, limit time.Duration, maxAlloc uint64, probe func(t *testing.T, addr netip.AddrPort) (errText string)) {
	t.Helper()
	for _, h := range HostileServers() {
		t.Run(h.Name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			srv := StartScripted(t, h.Handle)
			start := time.Now()
			done := make(chan string, 1)
			go func() { done <- probe(t, srv.Addr) }()
			var msg string
			select {
			case msg = <-done:
			case <-time.After(limit):
				srv.Close()
				t.Fatalf("the probe did not return within %s", limit)
			}
			took := time.Since(start)
			runtime.ReadMemStats(&m1)
			srv.Close()
			if msg == "" {
				t.Errorf("no error or finding reported")
			}
			if strings.ContainsAny(msg, "\x00\x1b\r\n") {
				t.Errorf("unsanitized error text %q", msg)
			}
			if got := m1.TotalAlloc - m0.TotalAlloc; got > maxAlloc {
				t.Errorf("allocated %d bytes, more than %d", got, maxAlloc)
			}
			srv.Log.AssertNoData(t)
			if n := settle(limit, before); n > before {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines after the probe, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
			t.Logf("%s: returned after %s, %d KiB allocated: %s", h.Name, took.Round(time.Millisecond), (m1.TotalAlloc-m0.TotalAlloc)>>10, msg)
		})
	}
}

// settle waits up to limit for the goroutine count to drop to want and
// returns the last count.
func settle(limit time.Duration, want int) int {
	end := time.Now().Add(limit)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(end) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}
