package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The ptr check: reverse DNS and forward-confirmed reverse DNS of an IP
// target itself, or, for a domain, of its MX hosts' addresses (they are
// often the outbound servers too) and of --ip when given.
var ptrCheck = Checker{
	Name:    "ptr",
	Applies: always,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		if t.Kind == target.KindIP {
			return mx.PTRsForIP(ctx, env.Resolver, t.IP).CheckResult()
		}
		// The MX lookups are shared with the mx check through the
		// resolver's cache.
		an := mx.Analyze(ctx, env.Resolver, t.Name)
		return mx.PTRsForDomain(ctx, env.Resolver, an, env.Options.SenderIP).CheckResult()
	},
}
