package dnsx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// TestHostileServer is the hostile-DNS suite (issue 23.9 and 23.12): a reply
// with the wrong ID or for another question is never taken as the answer, on
// UDP or on TCP, and a TCP port that accepts and hangs costs one timeout.
// Each case is bounded by the client's timeout, so the suite runs in well
// under a few seconds.
func TestHostileServer(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name string
		b    dnstest.Behavior
	}{
		{"wrong ID over UDP", dnstest.Behavior{WrongID: true}},
		{"wrong question over UDP", dnstest.Behavior{WrongName: "other.example.com"}},
		{"wrong ID over TCP", dnstest.Behavior{WrongID: true, Truncate: true}},
		{"wrong question over TCP", dnstest.Behavior{WrongName: "other.example.com", Truncate: true}},
		{"TC=1, TCP accepts and hangs", dnstest.Behavior{Truncate: true, DropTCP: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // a server and a client of its own
			srv := dnstest.Start(t, testZone+"other.example.com. 300 IN TXT \"v=spf1 +all\"\n")
			srv.Set("example.com", tc.b)
			c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: timeout, Retries: -1})
			// A hang guard, not a speed limit: the client's timeout, not
			// this context, must end the question.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := c.Lookup(ctx, "example.com", dns.TypeTXT)
			if err == nil {
				t.Fatalf("accepted a hostile reply: %v", res.TXT())
			}
			if !dnsx.IsTemporary(err) {
				t.Errorf("err = %v, want a temporary failure", err)
			}
			if ctx.Err() != nil {
				t.Fatalf("ran into the test's hang guard: the %v timeout did not end it", timeout)
			}
			// One timeout, no retry: the hostile replies were waited past
			// once, not taken as an answer nor as a reason to ask again.
			if st := c.Stats().Servers[0]; st.TimedOut != 1 || st.Retried != 0 {
				t.Errorf("stats %+v, want one timeout and no retry", st)
			}
		})
	}
}

// TestTCPPipelinedAndReused: after truncation, questions share one TCP
// connection (pipelined, matched by ID), not one connection each.
func TestTCPPipelinedAndReused(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("example.com", dnstest.Behavior{Truncate: true})
	srv.Set("mx.example.com", dnstest.Behavior{Truncate: true})
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: time.Second})
	ctx := context.Background()
	for _, q := range []struct {
		name string
		t    uint16
	}{{"example.com", dns.TypeTXT}, {"example.com", dns.TypeMX}, {"mx.example.com", dns.TypeA}} {
		res, err := c.Lookup(ctx, q.name, q.t)
		if err != nil || !res.Exists() || res.Source != srv.Addr()+"/tcp" {
			t.Fatalf("%s: res=%+v err=%v", q.name, res, err)
		}
	}
	if n := srv.TCPConns(); n != 1 {
		t.Errorf("%d TCP connections, want 1 reused", n)
	}
}

// TestCNAMELoopIsPermanent: a loop is its own outcome, not a temporary
// failure (issue 23.11).
func TestCNAMELoopIsPermanent(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("loop1.example.com", dnstest.Behavior{}) // served by the zone
	c := srv.Client(t)
	// The test server answers a loop the way BIND does: the chain, NOERROR.
	_, err := c.Lookup(context.Background(), "loop1.example.com", dns.TypeA)
	if !errors.Is(err, dnsx.ErrCNAMELoop) || dnsx.IsTemporary(err) {
		t.Fatalf("err = %v", err)
	}
}
