package check

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// TestDeadlineWithLookupsInFlight is issue 23.2 as a batch meets it: targets
// whose --deadline ends while their DMARC walks and other lookups are in
// flight, many at once. It crashed the process ("assignment to entry in
// nil map" in dnsx.(*Client).hold); now every target ends with a report.
func TestDeadlineWithLookupsInFlight(t *testing.T) {
	srv := dnstest.Start(t, "")
	srv.SetLatency(20*time.Millisecond, 10*time.Millisecond)
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: time.Second})
	r := &Runner{Resolver: c, Deadline: 30 * time.Millisecond, Options: Options{Only: []string{"dmarc", "spf", "mx"}}}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg, err := target.Parse(fmt.Sprintf("a.b.c.d%d.example", i))
			if err != nil {
				t.Error(err)
				return
			}
			if rep := r.Run(context.Background(), tg); rep == nil || len(rep.Checks) == 0 {
				t.Errorf("target %d: no report", i)
			}
		}()
	}
	wg.Wait()
}
