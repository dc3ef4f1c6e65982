package check

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

const spfCheckZone = `
spfcheck.example.      300 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.spfcheck.example -all"
_spf.spfcheck.example. 300 IN TXT "v=spf1 a:mail.spfcheck.example ~all"
mail.spfcheck.example. 300 IN A 198.51.100.9
open.example.          300 IN TXT "v=spf1 +all"
`

func runSPFCheck(t *testing.T, domain string, o Options) (findings.CheckResult, map[string]any) {
	t.Helper()
	srv := dnstest.Start(t, spfCheckZone)
	o.Only = []string{"spf"}
	r := &Runner{Resolver: srv.Client(t), Options: o}
	tg, err := target.Parse(domain)
	if err != nil {
		t.Fatal(err)
	}
	rep := r.Run(context.Background(), tg)
	if len(rep.Checks) != 1 || rep.Checks[0].Name != "spf" {
		t.Fatalf("checks %+v", rep.Checks)
	}
	b, err := json.Marshal(rep.Checks[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatalf("data is not a JSON object: %s", b)
	}
	return rep.Checks[0], data
}

func TestSPFCheckLint(t *testing.T) {
	cr, data := runSPFCheck(t, "spfcheck.example", Options{})
	if cr.Status != findings.StatusPass || data["lookups"] != float64(2) || data["evaluation"] != nil {
		t.Errorf("status %s data %v", cr.Status, data)
	}
	cr, _ = runSPFCheck(t, "open.example", Options{})
	if cr.Status != findings.StatusFail || len(cr.Findings) == 0 || cr.Findings[0].ID != "spf.pass-all" {
		t.Errorf("+all: %s %+v", cr.Status, cr.Findings)
	}
}

func TestSPFCheckWithIP(t *testing.T) {
	for _, tt := range []struct {
		ip, result, id string
		st             findings.Status
	}{
		{"192.0.2.10", "pass", "spf.pass", findings.StatusPass},
		{"198.51.100.9", "pass", "spf.pass", findings.StatusPass},
		{"203.0.113.1", "fail", "spf.fail", findings.StatusFail},
	} {
		cr, data := runSPFCheck(t, "spfcheck.example", Options{SenderIP: netip.MustParseAddr(tt.ip)})
		ev, _ := data["evaluation"].(map[string]any)
		if ev == nil || ev["result"] != tt.result || ev["ip"] != tt.ip || ev["sender"] != "postmaster@spfcheck.example" {
			t.Errorf("%s: evaluation %v", tt.ip, ev)
		}
		found := false
		for _, f := range cr.Findings {
			found = found || f.ID == tt.id
		}
		if !found || cr.Status != tt.st || !strings.HasPrefix(cr.Summary, tt.result+" for "+tt.ip) {
			t.Errorf("%s: status %s summary %q findings %+v", tt.ip, cr.Status, cr.Summary, cr.Findings)
		}
	}
}
