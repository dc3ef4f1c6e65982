package check

import (
	"context"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dane"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mtasts"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
	"github.com/deliverdoctor/deliverdoctor/internal/tlsrpt"
)

// The tls-rpt check (RFC 8460) for every domain. Whether the domain uses
// MTA-STS or DANE decides how much a missing record matters; the lookups
// that tell are the ones the mta-sts and dane checks make, so the shared
// resolver answers them once.
var tlsrptCheck = Checker{
	Name:    "tls-rpt",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		return tlsrpt.Check(ctx, env.Resolver, t.Name, tlsrpt.Options{
			Policies: transportPolicies(ctx, env, t.Name),
		}).CheckResult()
	},
}

// transportPolicies names the TLS policies domain publishes ("MTA-STS",
// "DANE"); lookup failures count as not published (their own checks
// report them).
func transportPolicies(ctx context.Context, env *Env, domain string) []string {
	var sts, tlsa bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		rec, _, _, err := mtasts.LookupRecord(ctx, env.Resolver, domain)
		sts = err == nil && rec != nil
	}()
	go func() {
		defer wg.Done()
		for _, h := range dane.Check(ctx, env.Resolver, domain, dane.Options{}).Hosts {
			if len(h.TLSA) > 0 {
				tlsa = true
			}
		}
	}()
	wg.Wait()
	var ps []string
	if sts {
		ps = append(ps, "MTA-STS")
	}
	if tlsa {
		ps = append(ps, "DANE")
	}
	return ps
}
