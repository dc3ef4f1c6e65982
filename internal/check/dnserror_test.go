package check_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// TestDNSErrorFindingsAreOne: every check says "the DNS did not answer" the
// same way (findings.DNSError): a *.dns-error finding is an error, titled
// "could not look up WHAT: the DNS did not answer", says that a failure is
// not a missing record, and has a fix. The zone answers SERVFAIL to every
// name a check asks about, including an SPF include, a DKIM selector and
// the DNSSEC question.
func TestDNSErrorFindingsAreOne(t *testing.T) {
	srv := dnstest.Start(t, `
part.example.  300 IN MX 10 mx.part.example.
part.example.  300 IN TXT "v=spf1 include:broken.example -all"
mx.part.example. 300 IN A 192.0.2.1
`)
	for _, n := range []string{"down.example", "_dmarc.down.example", "s1._domainkey.down.example", "s1._domainkey.part.example",
		"broken.example", "_dmarc.part.example", "_mta-sts.down.example", "_smtp._tls.down.example", "default._bimi.down.example"} {
		srv.Set(n, dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	}
	title := regexp.MustCompile(`^(.+: )?could not look up .+: the DNS did not answer$`)
	seen := map[string]bool{}
	for _, d := range []string{"down.example", "part.example"} {
		r := &check.Runner{Resolver: srv.Client(t), Options: check.Options{Selectors: []string{"s1"}, Only: []string{"spf", "dkim", "dmarc", "dnssec", "mx"}}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rep := r.Run(ctx, target.Target{Kind: target.KindDomain, Name: d, Input: d})
		cancel()
		for _, f := range rep.Findings {
			if !strings.HasSuffix(f.ID, ".dns-error") {
				continue
			}
			seen[f.Check] = true
			if f.Severity != findings.SeverityError || !title.MatchString(f.Title) ||
				!strings.Contains(f.Detail, "A DNS failure is not the same as no record") || f.Fix == "" {
				t.Errorf("%s: %s is not the shared DNS-error finding: %+v", d, f.ID, f)
			}
		}
	}
	// relay HOST whose address lookup fails (the relay command's mode).
	r := &check.Runner{Resolver: srv.Client(t), Options: check.Options{Only: []string{"relay"}, Relay: true, RelayServer: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	rep := r.Run(ctx, target.Target{Kind: target.KindDomain, Name: "down.example", Input: "down.example"})
	cancel()
	for _, f := range rep.Findings {
		seen[f.Check] = seen[f.Check] || f.ID == "relay.dns-error"
		if f.ID == "relay.dns-error" && (!title.MatchString(f.Title) || !strings.Contains(f.Detail, "A DNS failure is not the same as no record")) {
			t.Errorf("relay: %s is not the shared DNS-error finding: %+v", f.ID, f)
		}
	}
	for _, c := range []string{"spf", "dkim", "dmarc", "dnssec", "mx", "relay"} {
		if !seen[c] {
			t.Errorf("no %s.dns-error: the zone no longer makes that check's lookups fail", c)
		}
	}
}
