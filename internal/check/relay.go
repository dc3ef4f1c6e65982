package check

import (
	"context"
	"net/netip"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/relay"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The relay check runs only when asked (--relay): it connects to the
// target's mail servers and tries to relay through them (never DATA).
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
	base := relay.Options{Port: o.SMTPPort, External: o.External, Timeout: o.ProbeTimeout, Dial: o.Dial}
	var hosts []relay.Host
	var extra []findings.Finding
	if t.Kind == target.KindIP {
		hosts = []relay.Host{{Name: t.Name, Addrs: []netip.Addr{t.IP}}}
	} else {
		var skip string
		hosts, skip, extra = relay.MailHosts(ctx, env.Resolver, t.Name)
		if skip != "" {
			return SkipResult("relay", skip)
		}
		// The MX's own domain is where %-hack and friends point.
		base.LocalDomain = t.Name
	}
	return relay.CheckResult(relay.ProbeHosts(ctx, hosts, base), extra)
}
