package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/dane"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The dane check (RFC 7672) for every domain: TLSA records at
// _25._tcp.MXHOST. With --smtp, each MX host that publishes TLSA records
// is probed on Options.SMTPPort (EHLO, STARTTLS, QUIT; never MAIL or DATA)
// and its certificate compared with them. Like the smtp check, --offline
// does not stop a probe the user asked for.
var daneCheck = Checker{
	Name:    "dane",
	Applies: forDomains,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		var o dane.Options
		if env.Options.SMTP {
			o.Probe = dane.SMTPProbe(env.Resolver, env.Options.SMTPPort, smtpprobe.Options{Timeout: env.Options.ProbeTimeout, Dial: env.Options.Dial})
		}
		return dane.Check(ctx, env.Resolver, t.Name, o).CheckResult()
	},
}
