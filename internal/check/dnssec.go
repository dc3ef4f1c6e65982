package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/dnssec"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The dnssec check for every domain: the AD bit on its MX, DNSKEY and DS
// answers and on its MX hosts' addresses. Meaningful only through a
// validating resolver (--resolver); --zone answers are never validated.
var dnssecCheck = Checker{
	Name:    "dnssec",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		return dnssec.Check(ctx, env.Resolver, t.Name).CheckResult()
	},
}
