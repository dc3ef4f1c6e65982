package address

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

// TestHostileServers: the RCPT probe of the address check, against each
// of smtptest's hostile servers, reports an SMTP error and no verdict on
// the mailbox, within a few of its per-step timeouts, in bounded memory,
// without DATA and without leaving a goroutine behind.
func TestHostileServers(t *testing.T) {
	const timeout = 500 * time.Millisecond
	dns := dnstest.Start(t, addrZone)
	client := dns.Client(t)
	// Ask once before: the client's UDP socket (and its reader goroutine,
	// which idles out after a few seconds) then predates the first hostile
	// server, so CheckHostile's goroutine count does not wait for it.
	if _, err := client.Lookup(context.Background(), "test.example.", 15 /* MX */); err != nil {
		t.Fatal(err)
	}
	// One probe of at most nine steps, and a plaintext retry after a
	// TLS failure: eighteen steps, each bounded by timeout.
	limit := 18*timeout + 5*time.Second
	smtptest.CheckHostile(t, limit, 4<<20, func(t *testing.T, ap netip.AddrPort) string {
		r := Check(context.Background(), client, "alice@test.example", Options{
			SMTP: true, Port: int(ap.Port()), MaxHosts: 1,
			Probe: smtpprobe.Options{Timeout: timeout, HELO: "probe.deliverdoctor.test"},
		})
		if r.SMTP == nil {
			t.Errorf("no SMTP summary")
			return ""
		}
		if r.SMTP.Accepted || r.SMTP.CatchAll != nil {
			t.Errorf("a verdict from a hostile server: %+v", r.SMTP)
		}
		if strings.HasPrefix(r.SMTP.Error, "could not connect") {
			t.Errorf("TCP connected, yet: %s", r.SMTP.Error)
		}
		return r.SMTP.Error
	})
}
