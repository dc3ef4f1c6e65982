package serve

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// What `deliverdoctor check example.com --format json` does per run: a
// fresh resolver (one CLI process) and the orchestrator.
func BenchmarkCLICheck(b *testing.B) {
	dns := dnstest.Start(b, zone)
	t, _ := target.Parse("example.com")
	for b.Loop() {
		c, err := dnsx.New(dnsx.Config{Servers: []string{dns.Addr()}})
		if err != nil {
			b.Fatal(err)
		}
		r := &check.Runner{Resolver: c, Options: check.Options{Lists: "major", SMTPPort: 25}, Stats: c.Stats}
		rep := r.Run(context.Background(), t)
		if err := rep.Status; err == "" {
			b.Fatal("no status")
		}
	}
}

// The same check through /api/v1/check, HTTP and JSON included.
func BenchmarkAPICheck(b *testing.B) {
	dns := dnstest.Start(b, zone)
	s, err := New(Config{NewResolver: func(trace io.Writer) (*dnsx.Client, error) {
		return dnsx.New(dnsx.Config{Servers: []string{dns.Addr()}, Trace: trace})
	}, RatePerMinute: -1})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	for b.Loop() {
		resp, err := http.Get(ts.URL + "/api/v1/check?target=example.com")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode)
		}
	}
}
