package bimi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/httpsfetch/fetchtest"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

// markCert makes a PEM mark certificate (leaf + CA) the way a VMC looks to
// CheckVMC: the BIMI EKU, a logotype extension, the domain as a SAN.
func markCert(t *testing.T, ca *testpki.CA, eku bool, notAfter time.Time, names ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(time.Now().UnixNano()),
		Subject:         pkix.Name{CommonName: "Example Brand", Organization: []string{"Example Inc."}},
		NotBefore:       time.Now().Add(-48 * time.Hour),
		NotAfter:        notAfter,
		DNSNames:        names,
		ExtraExtensions: []pkix.Extension{{Id: oidLogotype, Value: []byte{0x05, 0x00}}},
	}
	if eku {
		tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidBIMIEKU}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})...)
}

const zone = `
brand.example.                300 IN TXT "v=spf1 -all"
_dmarc.brand.example.         300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@brand.example"
default._bimi.brand.example.  300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg; a=https://logo.brand.example/vmc.pem"
logo.brand.example.           300 IN A 192.0.2.1
sub.brand.example.            300 IN TXT "v=spf1 -all"

none.example.                 300 IN TXT "v=spf1 -all"
_dmarc.none.example.          300 IN TXT "v=DMARC1; p=none"

weak.example.                 300 IN TXT "v=spf1 -all"
_dmarc.weak.example.          300 IN TXT "v=DMARC1; p=none; rua=mailto:d@weak.example"
default._bimi.weak.example.   300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg"

pct.example.                  300 IN TXT "v=spf1 -all"
_dmarc.pct.example.           300 IN TXT "v=DMARC1; p=quarantine; pct=50"
default._bimi.pct.example.    300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg"

spnone.example.               300 IN TXT "v=spf1 -all"
_dmarc.spnone.example.        300 IN TXT "v=DMARC1; p=reject; sp=none"
default._bimi.spnone.example. 300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg"

nodmarc.example.              300 IN TXT "v=spf1 -all"
default._bimi.nodmarc.example. 300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg"

declined.example.             300 IN TXT "v=spf1 -all"
_dmarc.declined.example.      300 IN TXT "v=DMARC1; p=reject"
default._bimi.declined.example. 300 IN TXT "v=BIMI1; l=; a=;"

multi.example.                300 IN TXT "v=spf1 -all"
_dmarc.multi.example.         300 IN TXT "v=DMARC1; p=reject"
default._bimi.multi.example.  300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg"
default._bimi.multi.example.  300 IN TXT "v=BIMI1; l=https://logo.brand.example/other.svg"

badsyntax.example.            300 IN TXT "v=spf1 -all"
_dmarc.badsyntax.example.     300 IN TXT "v=DMARC1; p=reject"
default._bimi.badsyntax.example. 300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg; l=https://x.example/y.svg"

http.example.                 300 IN TXT "v=spf1 -all"
_dmarc.http.example.          300 IN TXT "v=DMARC1; p=reject"
default._bimi.http.example.   300 IN TXT "v=BIMI1; l=http://logo.brand.example/logo.svg; a=https://logo.brand.example/vmc.pem"

badlogo.example.              300 IN TXT "v=spf1 -all"
_dmarc.badlogo.example.       300 IN TXT "v=DMARC1; p=reject"
default._bimi.badlogo.example. 300 IN TXT "v=BIMI1; l=https://logo.brand.example/page.svg"

notps.example.                300 IN TXT "v=spf1 -all"
_dmarc.notps.example.         300 IN TXT "v=DMARC1; p=reject"
default._bimi.notps.example.  300 IN TXT "v=BIMI1; l=https://logo.brand.example/plain.svg"

badvmc.example.               300 IN TXT "v=spf1 -all"
_dmarc.badvmc.example.        300 IN TXT "v=DMARC1; p=reject"
default._bimi.badvmc.example. 300 IN TXT "v=BIMI1; l=https://logo.brand.example/logo.svg; a=https://logo.brand.example/expired.pem"

missing.example.              300 IN TXT "v=spf1 -all"
_dmarc.missing.example.       300 IN TXT "v=DMARC1; p=reject"
default._bimi.missing.example. 300 IN TXT "v=BIMI1; l=https://logo.brand.example/missing.svg"

fail.example.                 300 IN TXT "v=spf1 -all"
_dmarc.fail.example.          300 IN TXT "v=DMARC1; p=reject"
`

func TestCheck(t *testing.T) {
	ca := testpki.NewCA(t)
	vmc := markCert(t, ca, true, time.Now().Add(365*24*time.Hour), "brand.example")
	expired := markCert(t, ca, false, time.Now().Add(-time.Hour), "other.example")
	mux := http.NewServeMux()
	mux.HandleFunc("/logo.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write([]byte(goodSVG))
	})
	mux.HandleFunc("/plain.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 100 50"><script>x()</script></svg>`))
	})
	mux.HandleFunc("/page.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!doctype html><html><body>hello</body></html>"))
	})
	mux.HandleFunc("/vmc.pem", func(w http.ResponseWriter, r *http.Request) { w.Write(vmc) })
	mux.HandleFunc("/expired.pem", func(w http.ResponseWriter, r *http.Request) { w.Write(expired) })
	srv := fetchtest.StartTLS(t, ca.Issue(t, testpki.Leaf{Names: []string{"logo.brand.example"}}), mux)

	dsrv := dnstest.Start(t, zone)
	dsrv.Set("default._bimi.fail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := dsrv.Client(t)
	opts := Options{RootCAs: ca.Pool(), Dial: fetchtest.DialTo(srv.Port), Timeout: 5 * time.Second}

	tests := []struct {
		domain  string
		opts    *Options
		status  findings.Status
		ids     string
		summary string
		check   func(t *testing.T, r *Result)
	}{
		{domain: "brand.example", status: findings.StatusPass, summary: "logo https://logo.brand.example/logo.svg with a mark certificate",
			check: func(t *testing.T, r *Result) {
				if r.Logo == nil || r.Logo.Title != "Example Inc." || r.VMC == nil || !r.VMC.BIMIEKU || !r.VMC.Logotype || len(r.DMARC) != 1 || !r.DMARC[0].Enforced {
					t.Errorf("%+v %+v %+v", r.Logo, r.VMC, r.DMARC)
				}
			}},
		{domain: "sub.brand.example", status: findings.StatusPass,
			check: func(t *testing.T, r *Result) {
				if r.Name != "default._bimi.brand.example" || r.OrgDomain != "brand.example" {
					t.Errorf("fallback to the Organizational Domain: %q %q", r.Name, r.OrgDomain)
				}
			}},
		{domain: "none.example", status: findings.StatusPass, ids: "bimi.none", summary: "no BIMI record (optional)",
			check: func(t *testing.T, r *Result) {
				if !strings.Contains(r.Findings[0].Detail, "p=none for none.example") {
					t.Errorf("detail: %s", r.Findings[0].Detail)
				}
			}},
		{domain: "weak.example", status: findings.StatusWarn, ids: "bimi.dmarc-not-enforced,bimi.no-authority",
			check: func(t *testing.T, r *Result) {
				f := r.Findings[0]
				if f.Refs[0] != "dmarc.policy-none" || !strings.Contains(f.Title, "p=none for weak.example") || !strings.Contains(f.Detail, "dmarc.policy-none") {
					t.Errorf("the DMARC link: %+v", f)
				}
			}},
		{domain: "pct.example", status: findings.StatusWarn, ids: "bimi.dmarc-not-enforced,bimi.no-authority",
			check: func(t *testing.T, r *Result) {
				if f := r.Findings[0]; f.Refs[0] != "dmarc.legacy-tag" || !strings.Contains(f.Title, "pct=50") {
					t.Errorf("%+v", f)
				}
			}},
		{domain: "spnone.example", status: findings.StatusWarn, ids: "bimi.dmarc-not-enforced,bimi.no-authority",
			check: func(t *testing.T, r *Result) {
				if f := r.Findings[0]; f.Refs[0] != "dmarc.weak-subdomain-policy" {
					t.Errorf("%+v", f)
				}
			}},
		{domain: "nodmarc.example", status: findings.StatusWarn, ids: "bimi.dmarc-not-enforced,bimi.no-authority",
			check: func(t *testing.T, r *Result) {
				if f := r.Findings[0]; f.Refs[0] != "dmarc.no-record" {
					t.Errorf("%+v", f)
				}
			}},
		{domain: "declined.example", status: findings.StatusPass, ids: "bimi.declined", summary: "BIMI declined"},
		{domain: "multi.example", status: findings.StatusWarn, ids: "bimi.multiple-records"},
		{domain: "badsyntax.example", status: findings.StatusWarn, ids: "bimi.record-syntax"},
		{domain: "http.example", status: findings.StatusWarn, ids: "bimi.bad-location,bimi.vmc-invalid", summary: "BIMI record found, but receivers will not show the logo (see findings)"},
		{domain: "badlogo.example", status: findings.StatusWarn, ids: "bimi.no-authority,bimi.logo-not-svg"},
		{domain: "notps.example", status: findings.StatusWarn, ids: "bimi.no-authority,bimi.logo-not-tiny-ps",
			check: func(t *testing.T, r *Result) {
				ev := strings.Join(r.Findings[1].Evidence, "\n")
				for _, want := range []string{"profile:", "version:", "not-square:", "forbidden-element: <script>", "no-title:"} {
					if !strings.Contains(ev, want) {
						t.Errorf("evidence lacks %q:\n%s", want, ev)
					}
				}
			}},
		{domain: "badvmc.example", status: findings.StatusWarn, ids: "bimi.vmc-invalid",
			check: func(t *testing.T, r *Result) {
				title := r.Findings[0].Title
				for _, want := range []string{"BIMI extended key usage", "expired on", "names other.example, not badvmc.example"} {
					if !strings.Contains(title, want) {
						t.Errorf("title lacks %q: %s", want, title)
					}
				}
			}},
		{domain: "missing.example", status: findings.StatusWarn, ids: "bimi.no-authority,bimi.logo-unreachable"},
		{domain: "fail.example", status: findings.StatusError, ids: "bimi.dns-error"},
		{domain: "brand.example", opts: &Options{Offline: true}, status: findings.StatusSkip, summary: "record ok; logo and certificate not fetched: --offline"},
	}
	for _, tc := range tests {
		t.Run(tc.domain, func(t *testing.T) {
			o := opts
			if tc.opts != nil {
				o = *tc.opts
			}
			r := Check(context.Background(), c, tc.domain, o)
			cr := r.CheckResult()
			var ids []string
			for _, f := range cr.Findings {
				ids = append(ids, f.ID)
				if len(f.BounceCodes) > 0 {
					t.Errorf("%s: BIMI causes no bounces", f.ID)
				}
			}
			if cr.Status != tc.status || strings.Join(ids, ",") != tc.ids {
				t.Fatalf("got %s %v %q; want %s %s\n%+v", cr.Status, ids, cr.Summary, tc.status, tc.ids, cr.Findings)
			}
			if tc.summary != "" && cr.Summary != tc.summary {
				t.Errorf("summary %q, want %q", cr.Summary, tc.summary)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestCheckOffline(t *testing.T) {
	c, err := dnsx.New(dnsx.Config{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if cr := Check(context.Background(), c, "example.org", Options{Offline: true}).CheckResult(); cr.Status != findings.StatusSkip || len(cr.Findings) != 0 {
		t.Fatalf("got %s %q %v", cr.Status, cr.Summary, cr.Findings)
	}
}
