package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The smtp check (only with --smtp): connect to each MX host on
// Options.SMTPPort (25), read the banner, EHLO, STARTTLS and judge the
// certificate; RSET and QUIT, never DATA. --offline limits DNS to the
// --zone files but does not stop a probe the user asked for: the
// addresses come from the zones.
var smtpCheck = Checker{
	Name: "smtp",
	Applies: func(t target.Target, o *Options) bool {
		return o.SMTP && t.Kind == target.KindDomain
	},
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		an := mx.Analyze(ctx, env.Resolver, t.Name)
		return mx.ProbeMX(ctx, an, mx.SMTPOptions{
			Port:  env.Options.SMTPPort,
			Probe: smtpprobe.Options{Timeout: env.Options.ProbeTimeout, Dial: env.Options.Dial},
		}).CheckResult()
	},
}
