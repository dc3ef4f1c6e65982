package dnstest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

func TestBarrier(t *testing.T) {
	t.Parallel()
	srv := Start(t, "a.example 300 IN TXT \"a\"\nb.example 300 IN TXT \"b\"\nc.example 300 IN TXT \"c\"\n")
	names := []string{"a.example", "b.example", "c.example"}
	isTXT := func(_ string, qt uint16) bool { return qt == dns.TypeTXT }

	// Asked at once: all three wait together, then all are answered.
	bar := srv.SetBarrier(3, 10*time.Second, isTXT)
	c := srv.Client(t)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := dnsx.LookupTXT(context.Background(), c, n); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if !bar.Reached() || bar.Most() != 3 {
		t.Errorf("concurrent questions: reached %v, most %d", bar.Reached(), bar.Most())
	}
	if srv.MaxInFlight() < 3 {
		t.Errorf("MaxInFlight %d", srv.MaxInFlight())
	}

	// Asked one after another: the barrier is never reached; its timeout
	// only lets the test finish.
	bar = srv.SetBarrier(3, 200*time.Millisecond, isTXT)
	c = srv.Client(t)
	for _, n := range names {
		if _, _, err := dnsx.LookupTXT(context.Background(), c, n); err != nil {
			t.Fatal(err)
		}
	}
	if bar.Reached() || bar.Most() != 1 {
		t.Errorf("sequential questions: reached %v, most %d", bar.Reached(), bar.Most())
	}
}
