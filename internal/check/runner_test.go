package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

func init() {
	// Checks that exist only in this test binary, selected with Only.
	Register(Checker{Name: "zz-panic", Applies: onlyWhenAsked("zz-panic"), Run: func(context.Context, target.Target, *Env) findings.CheckResult {
		var m map[string]int
		//lint:ignore SA5000 the nil-map write is the bug this test plants
		m["boom"]++
		return findings.CheckResult{}
	}})
	Register(Checker{Name: "zz-slow", Applies: onlyWhenAsked("zz-slow"), Run: func(ctx context.Context, _ target.Target, _ *Env) findings.CheckResult {
		<-ctx.Done()
		return findings.CheckResult{Status: findings.StatusError, Summary: "deadline"}
	}})
}

func onlyWhenAsked(name string) func(target.Target, *Options) bool {
	return func(_ target.Target, o *Options) bool {
		for _, n := range o.Only {
			if n == name {
				return true
			}
		}
		return false
	}
}

func TestPanicBecomesError(t *testing.T) {
	srv := dnstest.Start(t, "a.example 300 IN MX 10 mx.a.example\nmx.a.example 300 IN A 203.0.114.1\n")
	r := &Runner{Resolver: srv.Client(t), Options: Options{Only: []string{"mx", "zz-panic"}}}
	tg, _ := target.Parse("a.example")
	rep := r.Run(context.Background(), tg)
	if len(rep.Checks) != 2 {
		t.Fatalf("checks %+v", rep.Checks)
	}
	var pan findings.CheckResult
	for _, c := range rep.Checks {
		if c.Name == "zz-panic" {
			pan = c
		}
	}
	if pan.Status != findings.StatusError || rep.Findings[0].ID != "zz-panic.internal-error" {
		t.Errorf("panic result %+v", pan)
	}
	if rep.Status != findings.StatusError {
		t.Errorf("status %s", rep.Status)
	}
}

func TestDeadline(t *testing.T) {
	r := &Runner{Resolver: dnstest.Start(t, "").Client(t), Options: Options{Only: []string{"zz-slow"}}, Deadline: 100 * time.Millisecond}
	tg, _ := target.Parse("a.example")
	// zz-slow returns only when its context ends. The test's context is a
	// hang guard, not a speed limit: if Runner.Deadline is not applied,
	// only the guard ends the check, and the test says so.
	const guard = 30 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	rep := r.Run(ctx, tg)
	if ctx.Err() != nil {
		t.Fatalf("deadline not applied: the check ran until the test's %s hang guard", guard)
	}
	if rep.Status != findings.StatusError {
		t.Errorf("status %s, want error", rep.Status)
	}
}

func TestOnlyAndOrder(t *testing.T) {
	names := strings.Join(Names(), ",")
	if !strings.HasPrefix(names, "mx,") || !strings.HasSuffix(names, ",profile") {
		t.Errorf("names %s", names)
	}
	srv := dnstest.Start(t, "")
	r := &Runner{Resolver: srv.Client(t), Options: Options{Only: []string{"mx"}, Profile: "gmail"}}
	tg, _ := target.Parse("missing.example")
	rep := r.Run(context.Background(), tg)
	if len(rep.Checks) != 1 || rep.Checks[0].Name != "mx" {
		t.Errorf("--checks mx ran %+v", rep.Checks)
	}
	r.Options.Only = []string{"mx", "profile"}
	rep = r.Run(context.Background(), tg)
	if len(rep.Checks) != 2 || rep.Checks[1].Name != "profile" {
		t.Fatalf("profile not run after mx: %+v", rep.Checks)
	}
}
