package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/profile"
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
		Run: func(_ context.Context, _ target.Target, env *Env, results []findings.CheckResult) findings.CheckResult {
			res, found := profile.Evaluate(rules, env.Options.Profile, results)
			return profile.CheckResult(res, found)
		},
	})
}
