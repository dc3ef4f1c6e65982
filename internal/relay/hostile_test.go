package relay

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

// TestHostileServers: against each of smtptest's hostile servers the
// relay probe gives an unknown verdict with a reason, within a few of its
// per-step timeouts, in bounded memory, without DATA and without leaving
// a goroutine behind.
func TestHostileServers(t *testing.T) {
	const timeout = 500 * time.Millisecond
	// A hostile server ends the session by its greeting or EHLO reply:
	// dial, greeting, EHLO, HELO fallback, QUIT, each bounded by timeout.
	limit := 5*timeout + 5*time.Second
	smtptest.CheckHostile(t, limit, 4<<20, func(t *testing.T, ap netip.AddrPort) string {
		r := Probe(context.Background(), Options{Host: "mx.test", Addrs: []netip.Addr{ap.Addr()}, Port: int(ap.Port()),
			HELO: "probe.example", Timeout: timeout})
		if r.Verdict != VerdictUnknown || r.Failure == "" || r.Reason == "" {
			t.Errorf("verdict %q failure %q reason %q", r.Verdict, r.Failure, r.Reason)
		}
		for _, a := range r.Attempts {
			if a.Accepted {
				t.Errorf("accepted attempt from a hostile server: %+v", a)
			}
		}
		return r.Reason
	})
}
