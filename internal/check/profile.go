package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/profile"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

func init() {
	rules, err := profile.Load()
	if err != nil {
		panic(err) // the embedded rules are part of the build; a test loads them
	}
	RegisterPost(PostChecker{
		Name:    "profile",
		Applies: func(t target.Target, o *Options) bool { return o.Profile != "" && t.Kind == target.KindDomain },
		Run: func(_ context.Context, _ target.Target, env *Env, results []report.CheckResult) report.CheckResult {
			res, findings := profile.Evaluate(rules, env.Options.Profile, results)
			return profile.CheckResult(res, findings)
		},
	})
}
