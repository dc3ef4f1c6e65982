package check

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

const rblZone = `
shop.example.            300 IN MX  10 mx.shop.example.
shop.example.            300 IN TXT "v=spf1 ip4:192.0.2.20 ip4:192.0.2.21/32 ip4:198.51.100.0/24 include:spf.esp.example -all"
mx.shop.example.         300 IN A   192.0.2.30
20.2.0.192.zen.spamhaus.org.  60 IN A 127.0.0.2
30.2.0.192.zen.spamhaus.org.  60 IN A 127.0.0.4
shop.example.dbl.spamhaus.org. 60 IN A 127.0.1.2
`

func runRBL(t *testing.T, srv *dnstest.Server, in string, o Options) (*report.Report, rbl.Report) {
	t.Helper()
	o.Only = []string{"rbl"}
	r := &Runner{Resolver: srv.Client(t), Options: o}
	tg, err := target.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	rep := r.Run(context.Background(), tg)
	if len(rep.Checks) != 1 || rep.Checks[0].Name != "rbl" {
		t.Fatalf("checks %+v", rep.Checks)
	}
	// The data must be a JSON object and round-trip into rbl.Report.
	b, err := json.Marshal(rep.Checks[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	var data rbl.Report
	if err := json.Unmarshal(b, &data); err != nil || !strings.HasPrefix(string(b), "{") {
		t.Fatalf("data %s: %v", b, err)
	}
	return rep, data
}

// TestRBLCheckDomain: a domain is checked on the domain lists, and the
// addresses that send for it (MX hosts, single SPF ip4 addresses) on the IP
// lists, each labelled with where it came from.
func TestRBLCheckDomain(t *testing.T) {
	srv := dnstest.Start(t, rblZone)
	rep, data := runRBL(t, srv, "shop.example", Options{DNSBL: []string{"zen.spamhaus.org", "dbl.spamhaus.org"}})
	if rep.Status != findings.StatusFail {
		t.Errorf("status %s", rep.Status)
	}
	sources := map[string]string{}
	for _, s := range data.Checked {
		sources[s.Value] = strings.Join(s.Sources, "; ")
	}
	want := map[string]string{
		"shop.example": "the domain checked",
		"192.0.2.30":   "MX mx.shop.example (preference 10)",
		"192.0.2.20":   "SPF ip4:192.0.2.20",
		"192.0.2.21":   "SPF ip4:192.0.2.21/32",
	}
	for v, src := range want {
		if sources[v] != src {
			t.Errorf("%s: sources %q, want %q", v, sources[v], src)
		}
	}
	if len(sources) != len(want) {
		t.Errorf("checked %v", sources)
	}
	listed := map[string]bool{}
	for _, r := range data.Results {
		if r.Status == rbl.StatusListed {
			listed[r.Checked+" "+r.ListID] = true
		}
	}
	for _, k := range []string{"192.0.2.20 spamhaus-zen", "192.0.2.30 spamhaus-zen", "shop.example spamhaus-dbl"} {
		if !listed[k] {
			t.Errorf("%s not listed; listed: %v", k, listed)
		}
	}
	if len(rep.Findings) != 3 {
		t.Errorf("findings %+v", rep.Findings)
	}
	for _, f := range rep.Findings {
		if f.Check != "rbl" || f.ID != "rbl.listed" || len(f.BounceCodes) == 0 {
			t.Errorf("finding %+v", f)
		}
	}
}

func TestRBLCheckIPAndDefaults(t *testing.T) {
	srv := dnstest.Start(t, rblZone)
	rep, data := runRBL(t, srv, "192.0.2.99", Options{Lists: "all"})
	if rep.Status != findings.StatusPass || data.Counts.Listed != 0 || data.Counts.Clean == 0 {
		t.Errorf("status %s counts %+v", rep.Status, data.Counts)
	}
	all, _ := rbl.Default().Select("all")
	if len(data.Lists) != len(all) {
		t.Errorf("--lists all asked %d lists, want %d", len(data.Lists), len(all))
	}
	_, data = runRBL(t, srv, "192.0.2.99", Options{})
	major, _ := rbl.Default().Select("major")
	if len(data.Lists) != len(major) {
		t.Errorf("default asked %d lists, want the %d major ones", len(data.Lists), len(major))
	}
	rep, _ = runRBL(t, srv, "192.0.2.99", Options{DNSBL: []string{"not a zone"}})
	if rep.Status != findings.StatusError || rep.Findings[0].ID != "rbl.invalid-list" {
		t.Errorf("bad zone: %s %+v", rep.Status, rep.Findings)
	}
}
