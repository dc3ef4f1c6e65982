package check

import (
	"context"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/spf"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

var spfCheck = Checker{
	Name:    "spf",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		o := env.Options
		var ev *spf.Evaluation
		var wg sync.WaitGroup
		if o.SenderIP.IsValid() {
			// With --ip, run check_host() too, alongside the lint (both
			// share the resolver's cache).
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev = spf.CheckHost(ctx, env.Resolver, SPFArgs(t.Name, o))
			}()
		}
		lr := spf.Lint(ctx, env.Resolver, t.Name)
		wg.Wait()
		ip := ""
		if ev != nil {
			ip = o.SenderIP.String()
		}
		return spf.CheckResult(lr, ev, ip)
	},
}

// SPFArgs are the check_host() inputs for domain from the options: the
// envelope sender defaults to postmaster@domain, the HELO name to domain.
func SPFArgs(domain string, o *Options) spf.Args {
	a := spf.Args{IP: o.SenderIP, Domain: domain, Sender: o.MailFrom, HELO: o.HELO}
	if a.Sender == "" {
		a.Sender = "postmaster@" + domain
	}
	if a.HELO == "" {
		a.HELO = domain
	}
	return a
}
