package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/bimi"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The bimi check for every domain: the default._bimi record and the DMARC
// enforcement it depends on always (DNS only, answered from the shared
// cache where the dmarc check asked the same); the logo and the mark
// certificate over HTTPS unless --offline.
var bimiCheck = Checker{
	Name:    "bimi",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		return bimi.Check(ctx, env.Resolver, t.Name, bimi.Options{
			Offline: env.Options.Offline,
			Timeout: env.Options.ProbeTimeout,
			Dial:    env.Options.Dial,
		}).CheckResult()
	},
}
