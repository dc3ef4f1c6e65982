package tlsrpt

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		in      string
		rua     []string
		ext     []Extension
		wantErr string
	}{
		// RFC 8460 3's examples.
		{in: "v=TLSRPTv1; rua=mailto:reports@example.com", rua: []string{"mailto:reports@example.com"}},
		{in: "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", rua: []string{"https://reporting.example.com/v1/tlsrpt"}},
		{in: "v=TLSRPTv1;rua=mailto:a@example.com , https://r.example/x;", rua: []string{"mailto:a@example.com", "https://r.example/x"}},
		{in: "v=TLSRPTv1 ; rua=mailto:a@example.com; x-ext=1", rua: []string{"mailto:a@example.com"}, ext: []Extension{{"x-ext", "1"}}},
		{in: "v=TLSRPTv1", wantErr: "rua= is missing"},
		{in: "v=TLSRPTv1;", wantErr: "rua= is missing"},
		{in: "v=TLSRPTv1; ruf=mailto:a@example.com", wantErr: "rua= is missing"},
		{in: "v=TLSRPTv1; rua=", wantErr: "empty URI"},
		{in: "v=TLSRPTv1; rua=mailto:a@example.com,", wantErr: "empty URI"},
		{in: "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", wantErr: "appears twice"},
		{in: "v=TLSRPTv1 rua=mailto:a@example.com", wantErr: "expected \";\""},
		{in: "v=TLSRPTv2; rua=mailto:a@example.com", wantErr: "must start with"},
		{in: "v=tlsrptv1; rua=mailto:a@example.com", wantErr: "must start with"},
		{in: "v=TLSRPTv1; rua=mailto:a b@example.com", wantErr: "contains a space"},
		{in: "v=TLSRPTv1; rua=mailto:a@example.com; x", wantErr: "has no \"=\""},
	}
	for _, tc := range tests {
		r, err := ParseRecord(tc.in)
		if tc.wantErr != "" {
			if err == nil || !errors.Is(err, ErrRecordSyntax) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRecord(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRecord(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(r.RUA, tc.rua) || !reflect.DeepEqual(r.Extensions, tc.ext) {
			t.Errorf("ParseRecord(%q) = %+v", tc.in, r)
		}
		if r2, err := ParseRecord(r.String()); err != nil || !reflect.DeepEqual(r2, r) {
			t.Errorf("round trip via %q: %+v %v", r.String(), r2, err)
		}
	}
}

func TestCheckURI(t *testing.T) {
	for u, wantErr := range map[string]string{
		"mailto:tlsrpt@example.com":           "",
		"mailto:tls%2Brpt@example.com":        "",
		"MAILTO:tlsrpt@example.com":           "",
		"mailto:tlsrpt@example.com?subject=x": "",
		"https://reports.example.com/tlsrpt":  "",
		"mailto:tlsrpt":                       "not an e-mail address",
		"mailto:tlsrpt@localhost":             "not a domain name",
		"mailto:<a@example.com>":              "not an e-mail address",
		"http://reports.example.com/":         "over https",
		"https:///path":                       "not a valid https URL",
		"ftp://example.com/":                  "only mailto: and https:",
		"tlsrpt@example.com":                  "no scheme",
	} {
		err := CheckURI(u)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("CheckURI(%q) = %v, want %q", u, err, wantErr)
		}
	}
}

const zone = `
good.example.         300 IN TXT "v=spf1 -all"
_smtp._tls.good.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@good.example"
_smtp._tls.good.example. 300 IN TXT "unrelated"
split.example.        300 IN TXT "x"
_smtp._tls.split.example. 300 IN TXT "v=TLSRPTv1;" " rua=https://r.example/tlsrpt"
multi.example.        300 IN TXT "x"
_smtp._tls.multi.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:a@multi.example"
_smtp._tls.multi.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:b@multi.example"
bad.example.          300 IN TXT "x"
_smtp._tls.bad.example. 300 IN TXT "v=TLSRPTv1; rua=mailto:a@bad.example; rua=mailto:b@bad.example"
baduri.example.       300 IN TXT "x"
_smtp._tls.baduri.example. 300 IN TXT "v=TLSRPTv1; rua=http://r.example/,mailto:ok@baduri.example"
allbad.example.       300 IN TXT "x"
_smtp._tls.allbad.example. 300 IN TXT "v=TLSRPTv1; rua=tlsrpt@allbad.example"
none.example.         300 IN TXT "v=spf1 -all"
`

func TestCheck(t *testing.T) {
	srv := dnstest.Start(t, zone)
	srv.Set("_smtp._tls.fail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)
	tests := []struct {
		domain   string
		policies []string
		status   findings.Status
		ids      string
		summary  string
	}{
		{domain: "good.example", status: findings.StatusPass, summary: "reports to mailto:tlsrpt@good.example"},
		{domain: "split.example", status: findings.StatusPass, summary: "reports to https://r.example/tlsrpt"},
		{domain: "multi.example", status: findings.StatusWarn, ids: "tls-rpt.multiple-records"},
		{domain: "bad.example", status: findings.StatusWarn, ids: "tls-rpt.record-syntax"},
		{domain: "baduri.example", status: findings.StatusWarn, ids: "tls-rpt.bad-uri"},
		{domain: "allbad.example", status: findings.StatusWarn, ids: "tls-rpt.bad-uri"},
		{domain: "none.example", status: findings.StatusPass, ids: "tls-rpt.none", summary: "no TLS-RPT record"},
		{domain: "none.example", policies: []string{"MTA-STS"}, status: findings.StatusWarn, ids: "tls-rpt.none"},
		{domain: "nxdomain.example", status: findings.StatusPass, ids: "tls-rpt.none"},
		{domain: "fail.example", status: findings.StatusError, ids: "tls-rpt.dns-error"},
	}
	for _, tc := range tests {
		r := Check(context.Background(), c, tc.domain, Options{Policies: tc.policies})
		cr := r.CheckResult()
		var ids []string
		for _, f := range cr.Findings {
			ids = append(ids, f.ID)
		}
		if cr.Status != tc.status || strings.Join(ids, ",") != tc.ids || (tc.summary != "" && cr.Summary != tc.summary) {
			t.Errorf("%s %v: got %s %v %q", tc.domain, tc.policies, cr.Status, ids, cr.Summary)
		}
	}
	// The warning names the policy that makes reports matter.
	r := Check(context.Background(), c, "none.example", Options{Policies: []string{"MTA-STS", "DANE"}})
	if !strings.Contains(r.Findings[0].Title, "MTA-STS and DANE") {
		t.Errorf("title: %s", r.Findings[0].Title)
	}
	if f := Check(context.Background(), c, "allbad.example", Options{}).Findings[0]; !strings.Contains(f.Title, "no TLS-RPT report URI") {
		t.Errorf("title: %s", f.Title)
	}
}

func TestCheckOffline(t *testing.T) {
	c, err := dnsx.New(dnsx.Config{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if cr := Check(context.Background(), c, "example.org", Options{}).CheckResult(); cr.Status != findings.StatusSkip || len(cr.Findings) != 0 {
		t.Fatalf("got %s %q %v", cr.Status, cr.Summary, cr.Findings)
	}
}

func FuzzParseTLSRPT(f *testing.F) {
	for _, s := range []string{
		"v=TLSRPTv1; rua=mailto:reports@example.com",
		"v=TLSRPTv1;rua=mailto:a@example.com , https://r.example/x;",
		"v=TLSRPTv1; rua=,", "v=TLSRPTv1; rua=a; rua=b", "v=TLSRPTv1 ;;", "v=TLSRPTv1; x=y; rua=z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		if len(r.RUA) == 0 {
			t.Fatalf("accepted %q without rua", s)
		}
		for _, u := range r.RUA {
			_ = CheckURI(u) // must not panic
		}
		r2, err := ParseRecord(r.String())
		if err != nil || r2.String() != r.String() {
			t.Fatalf("round trip of %q via %q: %v", s, r.String(), err)
		}
	})
}
