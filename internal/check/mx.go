package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

var mxCheck = Checker{
	Name:    "mx",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		return mx.Analyze(ctx, env.Resolver, t.Name).CheckResult()
	},
}
