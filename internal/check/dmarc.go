package check

import (
	"context"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dmarc"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

var dmarcCheck = Checker{
	Name:    "dmarc",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		o := env.Options
		var se *dmarc.SenderEvaluation
		var wg sync.WaitGroup
		if o.SenderIP.IsValid() {
			// With --ip: would a message from that address pass DMARC?
			// Runs beside the lint; both share the resolver's cache.
			wg.Add(1)
			go func() {
				defer wg.Done()
				se = dmarc.EvaluateSender(ctx, env.Resolver, dmarc.SenderArgs{
					From: t.Name, IP: o.SenderIP, MailFrom: o.MailFrom, HELO: o.HELO, DKIMDomains: o.DKIMDomains,
				})
			}()
		}
		// Whether DKIM can align: the dkim check's selector discovery,
		// answered from the resolver's cache when that check runs too.
		var keys *dkim.Discovery
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys = dkim.Discover(ctx, env.Resolver, t.Name, o.Selectors)
		}()
		a := dmarc.Analyze(ctx, env.Resolver, t.Name)
		wg.Wait()
		if keys != nil && !keys.Offline {
			var ok []string
			for _, k := range keys.Keys {
				if k.Status == dkim.KeyStatusOK {
					ok = append(ok, k.Selector)
				}
			}
			a.AddDKIMKeys(ok, keys.Checked)
		}
		if se != nil && !a.Offline {
			a.AddSender(se)
		}
		return a.CheckResult()
	},
}
