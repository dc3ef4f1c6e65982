package check

import (
	"context"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/profile"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The profile rules are embedded; a test loads them, so a failure here
// is a broken build.
var profileRules = sync.OnceValue(func() *profile.Rules {
	rules, err := profile.Load()
	if err != nil {
		panic(err)
	}
	return rules
})

var profileCheck = PostChecker{
	Name:    "profile",
	Applies: func(t target.Target, o *Options) bool { return o.Profile != "" && t.Kind == target.KindDomain },
	Run: func(_ context.Context, _ target.Target, env *Env, results []findings.CheckResult) findings.CheckResult {
		res, found := profile.Evaluate(profileRules(), env.Options.Profile, results)
		return profile.CheckResult(res, found)
	},
}
