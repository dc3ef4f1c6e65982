package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

var dkimCheck = Checker{
	Name:    "dkim",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		return dkim.Discover(ctx, env.Resolver, t.Name, env.Options.Selectors).CheckResult()
	},
}
