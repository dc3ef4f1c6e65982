package receive

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// TestClientIPChecksAgreeWithCheck: what receive says about the connecting
// IP's reverse DNS and blocklisting is what "check IP --checks ptr,rbl
// --dnsbl ..." says about the same address.
func TestClientIPChecksAgreeWithCheck(t *testing.T) {
	fx := newFixture(t)
	view := func(cs []findings.CheckResult) map[string][]string {
		v := map[string][]string{}
		for _, c := range cs {
			if c.Name != "ptr" && c.Name != "rbl" {
				continue
			}
			v[c.Name] = append(v[c.Name], "status "+string(c.Status))
			for _, f := range c.Findings {
				v[c.Name] = append(v[c.Name], fmt.Sprintf("%s %s %q %v", f.ID, f.Severity, f.Title, f.BounceCodes))
			}
		}
		return v
	}
	for _, ip := range []string{"192.0.2.25", "192.0.2.27", "198.51.100.7", "198.51.100.99"} {
		rep := fx.eval(t, header("example.com")+textBody, Envelope{ClientIP: ip, MailFrom: "ada@example.com", RcptTo: []string{"grace@mx.test.example"}})
		a := netip.MustParseAddr(ip)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		runner := &check.Runner{Resolver: fx.dns.Client(t), Options: check.Options{Only: []string{"ptr", "rbl"},
			DNSBL: []string{"ip:bl.test", "domain:dbl.test"}, RBLTimeout: 2 * time.Second}}
		want := runner.Run(ctx, target.Target{Kind: target.KindIP, Name: ip, IP: a})
		cancel()
		if got, want := view(rep.Checks), view(want.Checks); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: receive says %v\ncheck says %v", ip, got, want)
		}
	}
}
