package bench

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

func TestFaultProxy(t *testing.T) {
	srv := dnstest.Start(t, "a.example 300 IN A 192.0.2.1\n")
	ask := func(p *FaultProxy, net string) (*dns.Msg, error) {
		c := &dns.Client{Net: net, Timeout: 300 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion("a.example.", dns.TypeA)
		r, _, err := c.Exchange(m, p.Addr())
		return r, err
	}
	for _, tc := range []struct {
		loss, servfail float64
		want           string
	}{{0, 0, "answer"}, {0, 1, "servfail"}, {1, 0, "lost"}} {
		// The proxy takes a random UDP port and the same TCP port, which
		// another process on the machine may hold: try a few ports.
		p, err := NewFaultProxy(srv.Addr(), tc.loss, tc.servfail)
		for try := 0; try < 10 && errors.Is(err, syscall.EADDRINUSE); try++ {
			p, err = NewFaultProxy(srv.Addr(), tc.loss, tc.servfail)
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := ask(p, "udp")
		got := "answer"
		switch {
		case err != nil:
			got = "lost"
		case r.Rcode == dns.RcodeServerFailure:
			got = "servfail"
		case len(r.Answer) != 1:
			got = "empty"
		}
		if got != tc.want {
			t.Errorf("loss %v servfail %v: got %s", tc.loss, tc.servfail, got)
		}
		// TCP passes through whatever the UDP knobs say.
		if r, err := ask(p, "tcp"); err != nil || len(r.Answer) != 1 {
			t.Errorf("tcp through the proxy: %v", err)
		}
		p.Close()
	}
}
