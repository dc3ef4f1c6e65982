package dnstest

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// AskedOnce: one lookup (cached afterwards) is once; a second lookup that
// the client did not count as a retransmission is not.
func TestAskedOnce(t *testing.T) {
	t.Parallel()
	srv := Start(t, "a.example 300 IN TXT \"a\"\n")
	c := srv.Client(t)
	for range 3 {
		if _, err := c.Lookup(context.Background(), "a.example", dns.TypeTXT); err != nil {
			t.Fatal(err)
		}
	}
	if n, once := srv.AskedOnce(c, "a.example", dns.TypeTXT); !once {
		t.Errorf("cached lookups: asked %d times, not once", n)
	}
	if n, once := srv.AskedOnce(c, "b.example", dns.TypeTXT); once || n != 0 {
		t.Errorf("never asked: %d, once %v", n, once)
	}
	// Another client (no cache shared, no retransmission counted by c).
	if _, err := srv.Client(t).Lookup(context.Background(), "a.example", dns.TypeTXT); err != nil {
		t.Fatal(err)
	}
	if n, once := srv.AskedOnce(c, "a.example", dns.TypeTXT); once || n < 2 {
		t.Errorf("asked again: %d, once %v", n, once)
	}
}
