package smtpprobe

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

// TestHostileServers: against each of smtptest's hostile servers the
// STARTTLS probe (with an RCPT step, as the address check runs it) ends
// with a failure within a few of its per-step timeouts, in bounded
// memory, without DATA and without leaving a goroutine behind.
func TestHostileServers(t *testing.T) {
	const timeout = 500 * time.Millisecond
	opts := Options{Timeout: timeout, HELO: "probe.deliverdoctor.test", Recipients: []string{"alice@test.example"}}
	// connect, greeting, EHLO, STARTTLS, handshake, EHLO, MAIL, RCPT, QUIT:
	// at most nine steps, each bounded by timeout.
	limit := 9*timeout + 5*time.Second
	smtptest.CheckHostile(t, limit, 4<<20, func(t *testing.T, ap netip.AddrPort) string {
		res := Probe(context.Background(), "mx.test.example", ap.Addr(), int(ap.Port()), opts)
		if res.Failure == "" || res.Err == nil {
			t.Errorf("no failure: %+v", res)
		}
		if len(res.Recipients) > 0 {
			t.Errorf("recipient results from a hostile server: %+v", res.Recipients)
		}
		return res.Error
	})
}
