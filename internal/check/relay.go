package check

import (
	"context"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/relay"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The relay check runs only when asked (--relay, or the relay command): it
// connects to the target's mail servers, or with Options.RelayServer to
// the target itself, and tries to relay through them (never DATA).
var relayCheck = Checker{
	Name:    "relay",
	Applies: func(_ target.Target, o *Options) bool { return o.Relay },
	Run:     runRelay,
}

func runRelay(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
	o := env.Options
	if o.Offline {
		return SkipResult("relay", "not probed: --offline sends no network traffic")
	}
	base := relay.Options{Port: o.SMTPPort, External: o.External, Timeout: o.ProbeTimeout, Dial: o.Dial,
		HELO: o.RelayHELO, AllVariants: o.RelayAllVariants, Trace: o.SMTPTrace, LocalDomain: o.RelayLocalDomain}
	if t.Kind == target.KindDomain && !o.RelayServer {
		// The MX's own domain is where %-hack and friends point.
		base.LocalDomain = t.Name
	}
	rt := relay.Target{Name: t.Name, Server: o.RelayServer}
	if t.Kind == target.KindIP {
		rt.IP = t.IP
	}
	results, skip, extra := relay.ProbeTarget(ctx, env.Resolver, rt, base)
	if skip != "" {
		return SkipResult("relay", skip)
	}
	return relay.CheckResult(results, extra)
}
