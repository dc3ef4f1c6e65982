package check

import (
	"context"
	"slices"

	"github.com/deliverdoctor/deliverdoctor/internal/address"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// The address check judges a mailbox, not a sender: the e-mail address's
// syntax, whether its domain receives mail and, with Options.SMTP, what
// its mail server says to RCPT TO (never DATA). It runs only when asked
// for by name (the address command, check ADDRESS --checks address):
// a plain "check bob@example.com" checks the domain as a sender.
var addressCheck = Checker{
	Name: "address",
	Applies: func(t target.Target, o *Options) bool {
		return t.Email != "" && slices.Contains(o.Only, "address")
	},
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		o := env.Options
		res := address.Check(ctx, env.Resolver, t.Input, address.Options{
			SMTP: o.SMTP, Port: o.SMTPPort, MailFrom: o.MailFrom,
			Probe: smtpprobe.Options{Timeout: o.ProbeTimeout, Dial: o.Dial},
		})
		// The report's copy of the findings is the address check's; the
		// address document (Data) keeps each finding's own check (mx).
		return findings.CheckResult{Name: "address", Status: res.Status, Summary: res.Summary,
			Findings: slices.Clone(res.Findings), Data: res}
	},
}

// AddressTarget is the target of the address check for what the user
// typed: the address as a target, even when it is not a valid address
// (the check then says why).
func AddressTarget(input string) target.Target {
	t, err := target.Parse(input)
	if err != nil || t.Email == "" {
		return target.Target{Input: input, Kind: target.KindDomain, Name: input, Email: input}
	}
	return t
}
