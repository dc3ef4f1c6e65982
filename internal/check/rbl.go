package check

import (
	"context"
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

var rblCheck = Checker{
	Name: "rbl",
	// An IP target is checked on the IP lists; a domain on the domain
	// lists, and its MX and SPF addresses on the IP lists.
	Applies: always,
	Run: func(ctx context.Context, t target.Target, env *Env) findings.CheckResult {
		lists, err := RBLLists(env.Options)
		if err != nil {
			return findings.CheckResult{Name: "rbl", Status: findings.StatusError, Summary: "no blocklists to ask",
				Findings: []findings.Finding{{ID: "rbl.invalid-list", Check: "rbl", Severity: findings.SeverityError,
					Title: err.Error(), Fix: "Give --dnsbl a DNS zone such as zen.spamhaus.org, and --lists major or all."}}}
		}
		opts := rbl.Options{Lists: lists, Timeout: env.Options.RBLTimeout, Health: env.Options.RBLHealth}
		if t.Kind == target.KindIP {
			return rbl.CheckIP(ctx, env.Resolver, t.IP, opts).CheckResult()
		}
		return rbl.CheckDomain(ctx, env.Resolver, t.Name, opts).CheckResult()
	},
}

// RBLLists returns the blocklists the options select: Blocklists when
// set, else the --dnsbl zones
// when given (they replace the defaults), else the catalogue's major or
// all lists (--lists).
func RBLLists(o *Options) ([]rbl.List, error) {
	if len(o.Blocklists) > 0 {
		return o.Blocklists, nil
	}
	cat := rbl.Default()
	if len(o.DNSBL) > 0 {
		return cat.Resolve(o.DNSBL)
	}
	ls, err := cat.Select(o.Lists)
	if err == nil && len(ls) == 0 {
		err = fmt.Errorf("no blocklists selected")
	}
	return ls, err
}
