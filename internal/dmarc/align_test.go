package dmarc

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

func mustParse(t *testing.T, s string) *Record {
	t.Helper()
	rec, err := ParseRecord(s)
	if rec == nil {
		t.Fatalf("%q: %v", s, err)
	}
	return rec
}

func TestAlign(t *testing.T) {
	orgs := map[string]string{
		"example.com": "example.com", "child.example.com": "example.com", "news.example.com": "example.com",
		"foo.example.com": "example.com", "mail.example.com": "example.com", "signing.example.com": "example.com",
		"example.net": "example.net", "foo.example.net": "example.net",
		"giant.bank.example": "giant.bank.example", "mail.giant.bank.example": "giant.bank.example",
		"mail.mega.bank.example": "mega.bank.example",
	}
	org := func(s string) string { return orgs[s] }
	relaxed := "v=DMARC1; p=reject"
	strict := "v=DMARC1; p=reject; adkim=s; aspf=s"
	tests := []struct {
		name      string
		from      string
		spf       string
		spfPass   bool
		dkim      []string
		rec       string
		orgFn     func(string) string
		spfAlign  bool
		dkimAlign []bool
		result    Result
	}{
		// RFC 9989 B.1.1 and Table 1.
		{"B.1.1 ex1 SPF strict", "example.com", "example.com", true, nil, strict, org, true, nil, ResultPass},
		{"B.1.1 ex2 SPF relaxed", "example.com", "child.example.com", true, nil, relaxed, org, true, nil, ResultPass},
		{"B.1.1 ex2 under aspf=s", "example.com", "child.example.com", true, nil, strict, org, false, nil, ResultFail},
		{"B.1.1 ex3 no alignment", "child.example.com", "example.net", true, nil, relaxed, org, false, nil, ResultFail},
		// RFC 9989 B.1.2.
		{"B.1.2 ex1 DKIM strict", "example.com", "", false, []string{"example.com"}, strict, org, false, []bool{true}, ResultPass},
		{"B.1.2 ex2 DKIM relaxed", "child.example.com", "", false, []string{"example.com"}, relaxed, org, false, []bool{true}, ResultPass},
		{"B.1.2 ex2 under adkim=s", "child.example.com", "", false, []string{"example.com"}, strict, org, false, []bool{false}, ResultFail},
		{"B.1.2 ex3 DKIM other org", "child.example.com", "", false, []string{"example.net"}, relaxed, org, false, []bool{false}, ResultFail},
		// Table 1: sibling subdomains share the org domain.
		{"Table 1 siblings", "news.example.com", "foo.example.com", true, nil, relaxed, org, true, nil, ResultPass},
		// SPF aligned by domain but not passing: no alignment.
		{"SPF fail aligned domain", "example.com", "example.com", false, nil, relaxed, org, false, nil, ResultFail},
		// B.3.1: both align.
		{"B.3.1", "example.com", "mail.example.com", true, []string{"example.com"}, "v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com", org, true, []bool{true}, ResultPass},
		// B.4.3: SPF aligns through the psd=y org domain, DKIM does not.
		{"B.4.3", "giant.bank.example", "mail.giant.bank.example", true, []string{"mail.mega.bank.example"}, relaxed, org, true, []bool{false}, ResultPass},
		// One aligned DKIM signature among several is enough.
		{"several signatures", "example.com", "bounce.esp.test", true, []string{"esp.test", "signing.example.com"}, relaxed, org, false, []bool{false, true}, ResultPass},
		// Without org domains, only identical names align.
		{"no org func", "example.com", "child.example.com", true, []string{"example.com"}, relaxed, nil, false, []bool{true}, ResultPass},
		{"no org func, no match", "example.com", "child.example.com", true, nil, relaxed, nil, false, nil, ResultFail},
		// Case and trailing dots do not matter.
		{"case", "Example.COM.", "EXAMPLE.com", true, nil, strict, org, true, nil, ResultPass},
		// No record: result none, alignment still computed.
		{"no record", "example.com", "example.com", true, nil, "", org, true, nil, ResultNone},
		// A record receivers ignore (no p, no rua) is no record.
		{"ignored record", "example.com", "example.net", true, nil, "v=DMARC1; p=bogus", org, false, nil, ResultNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec *Record
			if tt.rec != "" {
				rec = mustParse(t, tt.rec)
			}
			a := alignIdentifiers(tt.from, tt.spf, tt.spfPass, tt.dkim, rec, tt.orgFn)
			if a.Result != tt.result {
				t.Errorf("result %s, want %s (%+v)", a.Result, tt.result, a)
			}
			if tt.spf != "" && a.SPF.Aligned != tt.spfAlign {
				t.Errorf("SPF aligned %v: %s", a.SPF.Aligned, a.SPF.Reason)
			}
			var got []bool
			for _, k := range a.DKIM {
				got = append(got, k.Aligned)
				if k.Reason == "" {
					t.Error("no reason")
				}
			}
			if !reflect.DeepEqual(got, tt.dkimAlign) {
				t.Errorf("DKIM aligned %v, want %v: %+v", got, tt.dkimAlign, a.DKIM)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	disc := func(rec string, policy Policy) *Discovery {
		r := mustParse(t, rec)
		return &Discovery{Domain: "example.com", Record: r, Policy: policy, PolicyTag: "p", Testing: r.TestMode(), Applies: r.Applies()}
	}
	tests := []struct {
		name        string
		d           *Discovery
		result      Result
		applied     Policy
		disposition Disposition
		codes       []string
	}{
		{"reject", disc("v=DMARC1; p=reject", PolicyReject), ResultFail, PolicyReject, DispositionReject, []string{"5.7.509", "5.7.26", "5.7.9"}},
		{"reject t=y", disc("v=DMARC1; p=reject; t=y", PolicyReject), ResultFail, PolicyQuarantine, DispositionQuarantine, []string{}},
		{"quarantine", disc("v=DMARC1; p=quarantine", PolicyQuarantine), ResultFail, PolicyQuarantine, DispositionQuarantine, []string{}},
		{"quarantine t=y", disc("v=DMARC1; p=quarantine; t=y", PolicyQuarantine), ResultFail, PolicyNone, DispositionDeliver, []string{"5.7.515", "5.7.26", "5.7.9"}},
		{"none", disc("v=DMARC1; p=none", PolicyNone), ResultFail, PolicyNone, DispositionDeliver, []string{"5.7.515", "5.7.26", "5.7.9"}},
		{"pass", disc("v=DMARC1; p=reject", PolicyReject), ResultPass, PolicyReject, DispositionDeliver, []string{}},
		{"no record", &Discovery{Domain: "example.com"}, ResultNone, "", DispositionDeliver, []string{"5.7.515", "5.7.26", "5.7.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := decideVerdict(tt.d, &Alignment{Result: tt.result})
			if v.AppliedPolicy != tt.applied || v.Disposition != tt.disposition || !reflect.DeepEqual(v.BounceCodes, tt.codes) {
				t.Errorf("applied %s disposition %s codes %v", v.AppliedPolicy, v.Disposition, v.BounceCodes)
			}
			if len(v.Receivers) != 3 || v.Explanation == "" {
				t.Errorf("receivers %+v", v.Receivers)
			}
		})
	}
	v := decideVerdict(disc("v=DMARC1; p=reject", PolicyReject), &Alignment{Result: ResultFail})
	if v.Receivers[0].Receiver != "Microsoft" || v.Receivers[0].Code != "5.7.509" || v.Receivers[0].Reply == "" ||
		!strings.Contains(v.Receivers[0].Reply, "example.com") {
		t.Errorf("Microsoft outcome %+v", v.Receivers[0])
	}
}

// TestEvaluate runs RFC 9989 B.4.3 end to end over DNS.
func TestEvaluate(t *testing.T) {
	srv := dnstest.Start(t, walkZone)
	c := srv.Client(t)
	ev, err := Evaluate(context.Background(), c, "giant.bank.example", "mail.giant.bank.example", true, []string{"mail.mega.bank.example"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Alignment.Result != ResultPass || !ev.Alignment.SPF.Aligned || ev.Alignment.DKIM[0].Aligned {
		t.Errorf("alignment %+v", ev.Alignment)
	}
	if ev.Alignment.DKIM[0].OrgDomain != "mega.bank.example" || ev.Alignment.FromOrgDomain != "giant.bank.example" {
		t.Errorf("org domains %+v", ev.Alignment)
	}
	// The same message with SPF failing: DMARC fails, quarantine → spam.
	ev, err = Evaluate(context.Background(), c, "giant.bank.example", "mail.giant.bank.example", false, []string{"mail.mega.bank.example"})
	if err != nil || ev.Verdict.Result != ResultFail || ev.Verdict.Disposition != DispositionQuarantine {
		t.Errorf("err %v verdict %+v", err, ev.Verdict)
	}
	// Mail from a non-existent name under example.com gets np=reject.
	ev, _ = Evaluate(context.Background(), c, "ghost.example.com", "other.test", true, nil)
	if ev.Verdict.Disposition != DispositionReject || ev.Verdict.PolicyTag != "np" {
		t.Errorf("verdict %+v", ev.Verdict)
	}
}
