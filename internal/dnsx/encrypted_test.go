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
