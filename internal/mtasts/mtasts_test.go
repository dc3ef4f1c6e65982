package mtasts_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/httpsfetch/fetchtest"
	"github.com/deliverdoctor/deliverdoctor/internal/mtasts"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

// Every domain's policy host points at a documentation address; the test
// dialer connects it to the in-process HTTPS server instead, so the URL
// the check builds is the real one.
const zone = `
good.example.            300 IN MX 10 mx1.good.example.
good.example.            300 IN MX 20 mx2.good.example.
_mta-sts.good.example.   300 IN TXT "v=STSv1; id=20240101T000000;"
_mta-sts.good.example.   300 IN TXT "v=spf1 -all"
mta-sts.good.example.    300 IN A 192.0.2.1

testing.example.          300 IN MX 10 mx.testing.example.
_mta-sts.testing.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.testing.example.  300 IN CNAME good.mta-sts.host.example.
good.mta-sts.host.example. 300 IN A 192.0.2.1

none.example.            300 IN MX 10 mx.none.example.
_mta-sts.none.example.   300 IN TXT "v=STSv1; id=1"
mta-sts.none.example.    300 IN A 192.0.2.1

mismatch.example.          300 IN MX 10 mx.mismatch.example.
_mta-sts.mismatch.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.mismatch.example.  300 IN A 192.0.2.1

partial.example.          300 IN MX 10 mx1.partial.example.
partial.example.          300 IN MX 20 backup.elsewhere.example.
_mta-sts.partial.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.partial.example.  300 IN A 192.0.2.1

redirect.example.          300 IN MX 10 mx.redirect.example.
_mta-sts.redirect.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.redirect.example.  300 IN A 192.0.2.1

big.example.          300 IN MX 10 mx.big.example.
_mta-sts.big.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.big.example.  300 IN A 192.0.2.1

syntax.example.          300 IN MX 10 mx.syntax.example.
_mta-sts.syntax.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.syntax.example.  300 IN A 192.0.2.1

html.example.          300 IN MX 10 mx.html.example.
_mta-sts.html.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.html.example.  300 IN A 192.0.2.1

notfound.example.          300 IN MX 10 mx.notfound.example.
_mta-sts.notfound.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.notfound.example.  300 IN A 192.0.2.1

cert.example.          300 IN MX 10 mx.cert.example.
_mta-sts.cert.example. 300 IN TXT "v=STSv1; id=1"
mta-sts.cert.example.  300 IN A 192.0.2.1

nohost.example.          300 IN MX 10 mx.nohost.example.
_mta-sts.nohost.example. 300 IN TXT "v=STSv1; id=1"

multi.example.          300 IN MX 10 mx.multi.example.
_mta-sts.multi.example. 300 IN TXT "v=STSv1; id=1"
_mta-sts.multi.example. 300 IN TXT "v=STSv1; id=2"

badrec.example.          300 IN MX 10 mx.badrec.example.
_mta-sts.badrec.example. 300 IN TXT "v=STSv1; id=2024-01-01"

split.example.          300 IN MX 10 mx.split.example.
_mta-sts.split.example. 300 IN TXT "v=STSv1; " "id=20240101;"
mta-sts.split.example.  300 IN A 192.0.2.1

plain.example.           300 IN MX 10 mx.plain.example.
plain.example.           300 IN TXT "v=spf1 -all"

servfail.example.        300 IN MX 10 mx.servfail.example.
`

var policies = map[string]string{
	"good.example":     "version: STSv1\r\nmode: enforce\r\nmx: *.good.example\r\nmax_age: 604800\r\n",
	"testing.example":  "version: STSv1\nmode: testing\nmx: mx.other.example\nmax_age: 86400\n",
	"none.example":     "version: STSv1\nmode: none\nmax_age: 86400\n",
	"mismatch.example": "version: STSv1\nmode: enforce\nmx: mx.old-provider.example\nmx: *.mismatch.example.net\nmax_age: 604800\n",
	"partial.example":  "version: STSv1\nmode: enforce\nmx: mx1.partial.example\nmax_age: 604800\n",
	"syntax.example":   "version: STSv1\nmode: enforce\nmx: mx.syntax.example\nmax-age: 604800\n",
	"html.example":     "version: STSv1\nmode: enforce\nmx: mx.html.example\nmax_age: 60\n",
	"split.example":    "version: STSv1\nmode: enforce\nmx: mx.split.example\nmax_age: 31557601\n",
}

func policyHandler(w http.ResponseWriter, r *http.Request) {
	domain := strings.TrimPrefix(r.Host, "mta-sts.")
	if r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	switch domain {
	case "redirect.example":
		w.Header().Set("Location", "https://www.redirect.example/mta-sts.txt")
		w.WriteHeader(http.StatusMovedPermanently)
		return
	case "big.example":
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(strings.Repeat("x: y\n", 20000)))
		return
	case "html.example":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(policies[domain]))
		return
	}
	p, ok := policies[domain]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(p))
}

func ids(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func find(fs []findings.Finding, id string) *findings.Finding {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
}

func TestCheck(t *testing.T) {
	ca := testpki.NewCA(t)
	var names []string
	for _, d := range []string{"good", "none", "mismatch", "partial", "redirect", "big", "syntax", "html", "notfound", "split"} {
		names = append(names, "mta-sts."+d+".example")
	}
	names = append(names, "mta-sts.testing.example")
	srv := fetchtest.StartTLS(t, ca.Issue(t, testpki.Leaf{Names: names}), http.HandlerFunc(policyHandler))
	// The cert domain's host serves a certificate for another name.
	wrong := fetchtest.StartTLS(t, ca.Issue(t, testpki.Leaf{Names: []string{"www.cert.example"}}), http.HandlerFunc(policyHandler))
	expired := fetchtest.StartTLS(t, ca.Issue(t, testpki.Leaf{Names: []string{"mta-sts.cert.example"},
		NotBefore: time.Now().Add(-60 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}), http.HandlerFunc(policyHandler))
	untrusted := fetchtest.StartTLS(t, testpki.NewCA(t).Issue(t, testpki.Leaf{Names: []string{"mta-sts.cert.example"}}), http.HandlerFunc(policyHandler))

	dsrv := dnstest.Start(t, zone)
	dsrv.Set("_mta-sts.servfail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	res := dsrv.Client(t)

	opts := func(s *fetchtest.Server) mtasts.Options {
		return mtasts.Options{RootCAs: ca.Pool(), Dial: fetchtest.DialTo(s.Port), Timeout: 5 * time.Second}
	}
	tests := []struct {
		domain  string
		opts    mtasts.Options
		status  findings.Status
		want    []string // finding IDs, in order
		summary string
		check   func(t *testing.T, r *mtasts.Result)
	}{
		{domain: "good.example", opts: opts(srv), status: findings.StatusPass, summary: "mode enforce, max_age 604800, 2/2 MX hosts match",
			check: func(t *testing.T, r *mtasts.Result) {
				if r.Record.ID != "20240101T000000" || len(r.TXT) != 1 || r.HTTP.StatusCode != 200 || len(r.MX) != 2 || !r.MX[1].Matches || r.MX[1].Pattern != "*.good.example" {
					t.Errorf("data: %+v", r)
				}
			}},
		{domain: "testing.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.mode-testing", "mta-sts.mx-mismatch"}},
		{domain: "none.example", opts: opts(srv), status: findings.StatusPass, want: []string{"mta-sts.mode-none"}},
		{domain: "mismatch.example", opts: opts(srv), status: findings.StatusFail, want: []string{"mta-sts.mx-mismatch"},
			check: func(t *testing.T, r *mtasts.Result) {
				f := find(r.Findings, "mta-sts.mx-mismatch")
				if f.Severity != findings.SeverityFail || len(f.BounceCodes) == 0 || f.BounceCodes[0] != "4.7.5" || !strings.Contains(f.Fix, "mx.mismatch.example") {
					t.Errorf("finding: %+v", f)
				}
			}},
		{domain: "partial.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.mx-mismatch"},
			check: func(t *testing.T, r *mtasts.Result) {
				if f := find(r.Findings, "mta-sts.mx-mismatch"); !strings.Contains(f.Title, "1 of 2") || !strings.Contains(f.Title, "backup.elsewhere.example") {
					t.Errorf("title: %s", f.Title)
				}
			}},
		{domain: "redirect.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.policy-redirect"}},
		{domain: "big.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.policy-too-large"}},
		{domain: "syntax.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.policy-syntax"},
			check: func(t *testing.T, r *mtasts.Result) {
				if f := find(r.Findings, "mta-sts.policy-syntax"); !strings.Contains(f.Title, "max_age field is missing") {
					t.Errorf("title: %s", f.Title)
				}
			}},
		{domain: "html.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.policy-content-type", "mta-sts.max-age-short"}},
		{domain: "notfound.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.policy-unreachable"}},
		{domain: "split.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.max-age-too-large"}},
		{domain: "cert.example", opts: opts(wrong), status: findings.StatusWarn, want: []string{"mta-sts.policy-certificate"},
			check: func(t *testing.T, r *mtasts.Result) {
				f := find(r.Findings, "mta-sts.policy-certificate")
				if !strings.Contains(f.Title, "not valid for mta-sts.cert.example (it names www.cert.example)") || len(f.Evidence) < 3 {
					t.Errorf("finding: %+v", f)
				}
			}},
		{domain: "cert.example", opts: opts(expired), status: findings.StatusWarn, want: []string{"mta-sts.policy-certificate"},
			check: func(t *testing.T, r *mtasts.Result) {
				if f := find(r.Findings, "mta-sts.policy-certificate"); !strings.Contains(f.Title, "expired on") {
					t.Errorf("title: %s", f.Title)
				}
			}},
		{domain: "cert.example", opts: opts(untrusted), status: findings.StatusWarn, want: []string{"mta-sts.policy-certificate"},
			check: func(t *testing.T, r *mtasts.Result) {
				if f := find(r.Findings, "mta-sts.policy-certificate"); !strings.Contains(f.Title, "trusted authority") {
					t.Errorf("title: %s", f.Title)
				}
			}},
		{domain: "nohost.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.policy-host-missing"}},
		{domain: "multi.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.multiple-records"}},
		{domain: "badrec.example", opts: opts(srv), status: findings.StatusWarn, want: []string{"mta-sts.record-syntax"}},
		{domain: "plain.example", opts: opts(srv), status: findings.StatusPass, want: []string{"mta-sts.none"}, summary: "no MTA-STS policy (optional; protects mail to the domain)"},
		{domain: "nxdomain.example", opts: opts(srv), status: findings.StatusPass, want: []string{"mta-sts.none"}},
		{domain: "servfail.example", opts: opts(srv), status: findings.StatusError, want: []string{"mta-sts.dns-error"}},
		// --offline: the record is checked, the policy is not fetched and
		// that is a skip, not a failure.
		{domain: "good.example", opts: mtasts.Options{Offline: true}, status: findings.StatusSkip, summary: "record ok (id 20240101T000000); policy not fetched: --offline"},
		// URL override: fetch from the test server's address while still
		// requiring a certificate for mta-sts.good.example.
		{domain: "good.example", opts: mtasts.Options{RootCAs: ca.Pool(), URL: "https://127.0.0.1:" + srv.Port + "/.well-known/mta-sts.txt"},
			status: findings.StatusWarn, want: []string{"mta-sts.policy-unreachable"}, // Host is 127.0.0.1, so the handler has no policy for it
			check: func(t *testing.T, r *mtasts.Result) {
				if !strings.HasPrefix(r.PolicyURL, "https://127.0.0.1:") || r.HTTP == nil || r.HTTP.StatusCode != 404 {
					t.Errorf("override not used: %+v", r)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			r := mtasts.Check(context.Background(), res, tc.domain, tc.opts)
			cr := r.CheckResult()
			if got := ids(r.Findings); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("findings = %v, want %v\n%+v", got, tc.want, r.Findings)
			}
			if cr.Status != tc.status {
				t.Errorf("status = %s, want %s (%s)", cr.Status, tc.status, cr.Summary)
			}
			if tc.summary != "" && cr.Summary != tc.summary {
				t.Errorf("summary = %q, want %q", cr.Summary, tc.summary)
			}
			for _, f := range r.Findings {
				if f.Title == "" || !strings.HasPrefix(f.ID, "mta-sts.") {
					t.Errorf("bad finding %+v", f)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// With --offline and no zone for the domain nothing is asked: skip.
func TestCheckOffline(t *testing.T) {
	c, err := dnsx.New(dnsx.Config{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	cr := mtasts.Check(context.Background(), c, "example.org", mtasts.Options{Offline: true}).CheckResult()
	if cr.Status != findings.StatusSkip || len(cr.Findings) != 0 {
		t.Fatalf("got %s %q %v", cr.Status, cr.Summary, cr.Findings)
	}
}

// A policy file judged before it is published: no fetch, the real MX set.
func TestCheckGivenPolicy(t *testing.T) {
	c := dnstest.Start(t, zone).Client(t)
	for _, tc := range []struct {
		domain, policy string
		status         findings.Status
		ids            string
	}{
		{"good.example", "version: STSv1\nmode: enforce\nmx: mx1.good.example\nmx: mx2.good.example\nmax_age: 604800\n", findings.StatusPass, ""},
		{"plain.example", "version: STSv1\nmode: enforce\nmx: mx.other.example\nmax_age: 604800\n", findings.StatusFail, "mta-sts.none,mta-sts.mx-mismatch"},
		{"plain.example", "version: STSv1\nmode: enforced\n", findings.StatusWarn, "mta-sts.none,mta-sts.policy-syntax"},
	} {
		r := mtasts.Check(context.Background(), c, tc.domain, mtasts.Options{Policy: tc.policy, PolicySource: "mta-sts.txt", Offline: true})
		cr := r.CheckResult()
		if got := strings.Join(ids(r.Findings), ","); got != tc.ids || cr.Status != tc.status || r.Fetched || r.PolicySource != "mta-sts.txt" {
			t.Errorf("%s: %s %s %q fetched=%v", tc.domain, cr.Status, got, cr.Summary, r.Fetched)
		}
	}
}
