package dnsx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

// TestEncryptedTransports asks the same questions over DNS over TLS and DNS
// over HTTPS, concurrently, and checks the answers, that one connection
// carried them all (no handshake per question), and that a certificate
// from an unknown CA is refused.
func TestEncryptedTransports(t *testing.T) {
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"127.0.0.1"}})
	for _, proto := range []string{"tls", "https"} {
		t.Run(proto, func(t *testing.T) {
			srv := dnstest.Start(t, testZone)
			var url string
			if proto == "tls" {
				var err error
				if url, err = srv.StartTLS(cert); err != nil {
					t.Fatal(err)
				}
			} else {
				url = srv.StartDoH(cert)
			}
			c, err := dnsx.New(dnsx.Config{Servers: []string{url}, RootCAs: ca.Pool(), Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// Warm the connection, then pipeline.
			if res, err := c.Lookup(ctx, "example.com", dns.TypeMX); err != nil || !res.Exists() || !strings.HasSuffix(res.Source, "/"+proto) {
				t.Fatalf("res=%+v err=%v", res, err)
			}
			var wg sync.WaitGroup
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := c.Lookup(ctx, fmt.Sprintf("n%d.example.com", i), dns.TypeA)
					if err != nil || res.Status != dnsx.StatusNXDomain {
						t.Errorf("%d: res=%+v err=%v", i, res, err)
					}
				}()
			}
			wg.Wait()
			res, err := c.Lookup(ctx, "www.example.com", dns.TypeA)
			if err != nil || len(res.IPs()) != 1 {
				t.Fatalf("CNAME over %s: res=%+v err=%v", proto, res, err)
			}
			if n := srv.TLSConns(); n != 1 {
				t.Errorf("%d connections for 52 questions, want 1", n)
			}
			if st := c.Stats().Servers[0]; st.Answered != 52 || st.Server != url {
				t.Errorf("stats %+v", st)
			}

			// The system roots do not know the test CA.
			// (The certificate error comes at once; the long timeout only
			// keeps a handshake on a loaded machine from ending as a timeout.)
			strict, _ := dnsx.New(dnsx.Config{Servers: []string{url}, Timeout: 20 * time.Second, Retries: -1})
			_, err = strict.Lookup(ctx, "example.com", dns.TypeMX)
			if !dnsx.IsTemporary(err) || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("unknown CA: err = %v", err)
			}
		})
	}
}

// TestEncryptedHostile: over DoT a reply for another question is refused
// like over TCP; a DoH server that never answers costs one timeout.
func TestEncryptedHostile(t *testing.T) {
	t.Parallel() // its own server and client; it waits on timers
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"127.0.0.1"}})
	srv := dnstest.Start(t, testZone+"other.example.com. 300 IN TXT \"v=spf1 +all\"\n")
	srv.Set("example.com", dnstest.Behavior{WrongName: "other.example.com"})
	srv.Set("mx.example.com", dnstest.Behavior{Drop: true})
	dot, err := srv.StartTLS(cert)
	if err != nil {
		t.Fatal(err)
	}
	doh := srv.StartDoH(cert)
	for _, url := range []string{dot, doh} {
		c, _ := dnsx.New(dnsx.Config{Servers: []string{url}, RootCAs: ca.Pool(), Timeout: 300 * time.Millisecond, Retries: -1})
		if res, err := c.Lookup(context.Background(), "example.com", dns.TypeTXT); err == nil {
			t.Errorf("%s: accepted a reply for another question: %v", url, res.TXT())
		}
		// A hang guard, not a speed limit: the client's timeout, not this
		// context, must end the question to a silent server.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.Lookup(ctx, "mx.example.com", dns.TypeA)
		var de *dnsx.Error
		if !errors.As(err, &de) || !dnsx.IsTemporary(err) || de.Reason != "timeout" {
			t.Errorf("%s: err = %v, want a timeout", url, err)
		}
		if ctx.Err() != nil {
			t.Errorf("%s: a silent server ran into the test's hang guard", url)
		}
		cancel()
		if st := c.Stats().Servers[0]; st.TimedOut != 1 {
			t.Errorf("%s: stats %+v, want one timeout", url, st)
		}
	}
}

// A DNS-over-TLS connection is opened when the client is made, before any
// question, and a single check's burst of questions (150 pending at once,
// as with 20 blocklist zones) is pipelined on that one connection: no
// second handshake on the critical path.
func TestDoTConnectsAheadAndCarriesABurst(t *testing.T) {
	t.Parallel() // its own server and client; it waits on timers
	srv, c := startDoT(t, false)
	for end := time.Now().Add(10 * time.Second); srv.TLSConns() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("no connection before the first question")
		}
	}
	// The test server answers one question of a connection at a time, so
	// with a delay per answer all 150 are pending together.
	srv.SetLatency(10*time.Millisecond, 0)
	var wg sync.WaitGroup
	for i := 0; i < 150; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Lookup(context.Background(), fmt.Sprintf("b%d.example.com", i), dns.TypeA); err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if n := srv.TLSConns(); n != 1 {
		t.Fatalf("%d TLS connections, want the one opened ahead", n)
	}
	if st := c.Stats(); st.Sent != 150 {
		t.Fatalf("%d questions sent, want 150", st.Sent)
	}
}

// NoWarm leaves the connection to the first question.
func TestDoTNoWarm(t *testing.T) {
	srv, c := startDoT(t, true)
	if n := srv.TLSConns(); n != 0 {
		t.Fatalf("%d connections before any question with NoWarm", n)
	}
	if _, err := c.Lookup(context.Background(), "example.com", dns.TypeMX); err != nil {
		t.Fatal(err)
	}
	if n := srv.TLSConns(); n != 1 {
		t.Fatalf("%d connections after one question, want 1", n)
	}
}

// startDoT starts a DNS-over-TLS test server with a certificate from a new
// private CA and a client of it that trusts that CA.
func startDoT(t *testing.T, noWarm bool) (*dnstest.Server, *dnsx.Client) {
	t.Helper()
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"127.0.0.1"}})
	srv := dnstest.Start(t, testZone)
	url, err := srv.StartTLS(cert)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dnsx.New(dnsx.Config{Servers: []string{url}, RootCAs: ca.Pool(), Timeout: 10 * time.Second, NoWarm: noWarm})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}
