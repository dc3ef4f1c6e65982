package httpsfetch_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/httpsfetch"
	"github.com/deliverdoctor/deliverdoctor/internal/httpsfetch/fetchtest"
	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

const zone = `
www.example.com.  300 IN A 127.0.0.1
nowhere.example.com. 300 IN TXT "no address here"
broken.example.com. 300 IN A 127.0.0.1
`

func TestGet(t *testing.T) {
	ca := testpki.NewCA(t)
	other := testpki.NewCA(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 100)))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://elsewhere.example/")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	good := fetchtest.StartTLS(t, ca.Issue(t, testpki.Leaf{Names: []string{"www.example.com"}}), mux)
	wrongName := fetchtest.StartTLS(t, ca.Issue(t, testpki.Leaf{Names: []string{"other.example.net"}}), mux)
	expired := fetchtest.StartTLS(t, ca.Issue(t, testpki.Leaf{Names: []string{"www.example.com"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}), mux)
	untrusted := fetchtest.StartTLS(t, other.Issue(t, testpki.Leaf{Names: []string{"www.example.com"}}), mux)

	srv := dnstest.Start(t, zone)
	srv.Set("broken.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	res := srv.Client(t)
	// A port with nothing listening: listen, note the port, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(l.Addr().String())
	l.Close()

	base := func(s *fetchtest.Server) string { return "https://www.example.com:" + s.Port }
	tests := []struct {
		name     string
		url      string
		opts     httpsfetch.Options
		kind     httpsfetch.Kind // "" = success
		problem  string          // substring of CertificateProblem
		status   int
		body     string
		trunc    bool
		location string
	}{
		{name: "ok", url: base(good) + "/ok", status: 200, body: "hello"},
		{name: "server name override", url: "https://127.0.0.1:" + good.Port + "/ok", opts: httpsfetch.Options{ServerName: "www.example.com"}, status: 200, body: "hello"},
		{name: "ip without override fails name check", url: "https://127.0.0.1:" + good.Port + "/ok", kind: httpsfetch.KindCertificate, problem: "not valid for 127.0.0.1"},
		{name: "wrong name", url: base(wrongName) + "/ok", kind: httpsfetch.KindCertificate, problem: "not valid for www.example.com (it names other.example.net)"},
		{name: "expired", url: base(expired) + "/ok", kind: httpsfetch.KindCertificate, problem: "expired on"},
		{name: "unknown authority", url: base(untrusted) + "/ok", kind: httpsfetch.KindCertificate, problem: "not signed by a trusted authority (issuer"},
		{name: "redirect not followed", url: base(good) + "/redirect", status: 302, location: "https://elsewhere.example/"},
		{name: "too large", url: base(good) + "/big", opts: httpsfetch.Options{MaxBytes: 10}, status: 200, body: "xxxxxxxxxx", trunc: true},
		{name: "not https", url: "http://www.example.com/", kind: httpsfetch.KindBadURL},
		{name: "nxdomain", url: "https://missing.example.com/", kind: httpsfetch.KindNoAddress},
		{name: "nodata", url: "https://nowhere.example.com/", kind: httpsfetch.KindNoAddress},
		{name: "servfail", url: "https://broken.example.com/", kind: httpsfetch.KindDNS},
		{name: "refused", url: "https://www.example.com:" + closedPort + "/", kind: httpsfetch.KindConnect},
		{name: "timeout", url: base(good) + "/hang", opts: httpsfetch.Options{Timeout: 300 * time.Millisecond}, kind: httpsfetch.KindTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Resolver = res
			o.RootCAs = ca.Pool()
			r, err := httpsfetch.Get(context.Background(), tc.url, o)
			if tc.kind != "" {
				var fe *httpsfetch.Error
				if !errors.As(err, &fe) {
					t.Fatalf("want error of kind %s, got %v (resp %+v)", tc.kind, err, r)
				}
				if fe.Kind != tc.kind {
					t.Fatalf("kind = %s, want %s (%v)", fe.Kind, tc.kind, err)
				}
				if tc.problem != "" && !strings.Contains(fe.CertificateProblem(), tc.problem) {
					t.Fatalf("problem = %q, want it to contain %q", fe.CertificateProblem(), tc.problem)
				}
				if tc.kind == httpsfetch.KindCertificate && len(fe.Certificates) == 0 {
					t.Errorf("certificate failure without the presented certificates")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != tc.status || string(r.Body) != tc.body || r.Truncated != tc.trunc || r.Location != tc.location {
				t.Fatalf("got status %d body %q truncated %v location %q", r.StatusCode, r.Body, r.Truncated, r.Location)
			}
			if len(r.PeerCertificates) == 0 || r.TLSVersion == "" || !strings.HasPrefix(r.Addr, "127.0.0.1:") {
				t.Errorf("missing TLS details: %+v", r)
			}
		})
	}
}

func TestGetTemporary(t *testing.T) {
	for k, want := range map[httpsfetch.Kind]bool{
		httpsfetch.KindDNS: true, httpsfetch.KindTimeout: true, httpsfetch.KindConnect: true,
		httpsfetch.KindCertificate: false, httpsfetch.KindNoAddress: false, httpsfetch.KindHTTP: false,
	} {
		if got := (&httpsfetch.Error{Kind: k}).Temporary(); got != want {
			t.Errorf("%s: Temporary() = %v", k, got)
		}
	}
}
