package dnsx

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDownServerIsProbedBack: three failures in a row put a server last;
// when its time is up a background probe (not a user's question) finds it
// answering and it is preferred again.
func TestDownServerIsProbedBack(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})}
	go srv.ActivateAndServe() //nolint:errcheck
	defer srv.Shutdown()      //nolint:errcheck
	c, err := New(Config{Servers: []string{pc.LocalAddr().String(), "127.0.0.1:9"}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first := c.servers[0]
	now := time.Now()
	for i := 0; i < downAfter; i++ {
		first.failed(now)
	}
	if got := c.order(); got[0] == first {
		t.Fatal("a down server is still first")
	}
	first.mu.Lock()
	first.downUntil = time.Now().Add(-time.Millisecond) // its time is up
	first.mu.Unlock()
	c.order() // starts the probe
	deadline := time.Now().Add(5 * time.Second)
	for first.rank(time.Now()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the probe did not bring the server back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.order(); got[0] != first {
		t.Error("a healthy first server is not preferred again")
	}
}
