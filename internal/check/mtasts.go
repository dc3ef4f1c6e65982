package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mtasts"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The mta-sts check (RFC 8461) for every domain: the _mta-sts record
// always (one cached TXT query), the policy over HTTPS unless --offline,
// from Options.MTASTSURL when set (tests; the certificate must still name
// mta-sts.DOMAIN).
var mtastsCheck = Checker{
	Name:    "mta-sts",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		return mtasts.Check(ctx, env.Resolver, t.Name, mtasts.Options{
			Offline: env.Options.Offline,
			URL:     env.Options.MTASTSURL,
			Timeout: env.Options.ProbeTimeout,
			Policy:  env.Options.MTASTSPolicy,

			PolicySource: env.Options.MTASTSPolicySource,
			Dial:         env.Options.Dial,
		}).CheckResult()
	},
}
