package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/serve"
)

const serveZone = `
$ORIGIN example.com.
@      300 IN MX 10 mx1
mx1    300 IN A 198.51.100.25
@      300 IN TXT "v=spf1 mx include:_spf.example.com ~all"
_spf   300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:d@example.com"
`

// stripDurations removes what differs between two runs of the same check:
// timings and the resolver's counters.
func stripDurations(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k := range x {
			if k == "duration_ms" || k == "dns" {
				delete(x, k)
				continue
			}
			x[k] = stripDurations(x[k])
		}
	case []any:
		for i := range x {
			x[i] = stripDurations(x[i])
		}
	}
	return v
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return stripDurations(v)
}

// newTestServe builds serve's handler from the CLI's own flags, as the
// serve command does.
func newTestServe(t *testing.T, args ...string) *httptest.Server {
	t.Helper()
	app := &App{IO: &IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Env: func(string) string { return "" }}}
	root := newRootCmd(app)
	if err := root.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	f := &serveFlags{lists: "major", probeTimeout: 0, rate: -1}
	cfg, err := serveConfig(app, f)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// The API returns exactly what the CLI prints for the same target and zone.
func TestServeAPIMatchesCLI(t *testing.T) {
	dns := dnstest.Start(t, serveZone)
	for _, tc := range []struct {
		name    string
		cliArgs []string
		apiPath string
	}{
		{"check", []string{"check", "example.com", "--selector", "s1"}, "/api/v1/check?target=example.com&selector=s1"},
		{"check only", []string{"check", "example.com", "--checks", "spf,dmarc"}, "/api/v1/check?target=example.com&checks=spf,dmarc"},
		{"check ip", []string{"check", "example.com", "--ip", "198.51.100.25", "--checks", "spf,dmarc"}, "/api/v1/check?target=example.com&checks=spf,dmarc&ip=198.51.100.25"},
		{"explain code", []string{"explain", "5.7.26"}, "/api/v1/explain?input=5.7.26"},
		{"explain reply", []string{"explain", "550 5.7.26 Unauthenticated email from example.com is not accepted"},
			"/api/v1/explain?input=" + url.QueryEscape("550 5.7.26 Unauthenticated email from example.com is not accepted")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			global := []string{"--resolver", dns.Addr(), "--format", "json"}
			out, errOut, code := runCLI(t, append(tc.cliArgs, global...)...)
			if code > 1 {
				t.Fatalf("cli exit %d: %s", code, errOut)
			}
			ts := newTestServe(t, "--resolver", dns.Addr())
			api := get(t, ts.URL+tc.apiPath)
			if c, a := decode(t, out), decode(t, api); !reflect.DeepEqual(c, a) {
				t.Errorf("API differs from the CLI\nCLI: %s\nAPI: %s", out, api)
			}
		})
	}
}

func TestServeHeadersMatchesCLI(t *testing.T) {
	dns := dnstest.Start(t, serveZone)
	msg := "Return-Path: <bob@example.com>\r\nReceived: from mx1.example.com (mx1.example.com [198.51.100.25]) by mx.receiver.test; Fri, 4 Dec 2026 10:00:00 +0000\r\n" +
		"From: Bob <bob@example.com>\r\nTo: a@receiver.test\r\nSubject: hi\r\nDate: Fri, 4 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nhello\r\n"
	var out, errb strings.Builder
	code := run([]string{"headers", "-", "--resolver", dns.Addr(), "--format", "json"}, &IO{In: strings.NewReader(msg), Out: &out, Err: &errb})
	if code > 1 {
		t.Fatalf("cli exit %d: %s", code, errb.String())
	}
	ts := newTestServe(t, "--resolver", dns.Addr())
	resp, err := http.Post(ts.URL+"/api/v1/headers", "message/rfc822", strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c, a := decode(t, out.String()).(map[string]any), decode(t, string(b)).(map[string]any)
	// The CLI names the message by its file ("stdin"), serve by how it came.
	delete(c, "target")
	delete(a, "target")
	if !reflect.DeepEqual(c, a) {
		t.Errorf("API differs from the CLI\nCLI: %s\nAPI: %s", out.String(), b)
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--basic-auth", "nopassword", "--offline"},
		{"serve", "--auth-token-file", "/nonexistent/token", "--offline"},
		{"serve", "--listen", "not-an-address", "--offline"},
		{"serve", "--lists", "some", "--offline"},
		{"serve", "extra-arg"},
	} {
		if _, errOut, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	out, _, code := runCLI(t, "serve", "--help")
	if code != 0 || !strings.Contains(out, "deliverdoctor serve --listen") || !strings.Contains(out, "--allow-probes") {
		t.Errorf("help: %d\n%s", code, out)
	}
}

// stripFiles removes the file names (the CLI shows the path, serve the
// uploaded name) and durations.
func stripFiles(v any) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "file")
		for k := range x {
			x[k] = stripFiles(x[k])
		}
	case []any:
		for i := range x {
			x[i] = stripFiles(x[i])
		}
	}
	return v
}

func TestServeReportsMatchesCLI(t *testing.T) {
	dns := dnstest.Start(t, serveZone)
	file := "../../internal/dmarcreport/testdata/dmarc-reports/aggregate/usssa.com!example.com!1538784000!1538870399.xml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "reports", file, "--resolver", dns.Addr(), "--format", "json")
	if code > 1 {
		t.Fatalf("cli exit %d: %s", code, errOut)
	}
	ts := newTestServe(t, "--resolver", dns.Addr())
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "report.xml")
	_, _ = fw.Write(data)
	_ = mw.Close()
	resp, err := http.Post(ts.URL+"/api/v1/reports", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if c, a := stripFiles(decode(t, out)), stripFiles(decode(t, string(b))); !reflect.DeepEqual(c, a) {
		t.Errorf("API differs from the CLI\nCLI: %s\nAPI: %s", out, b)
	}
	// The page shows the same document.
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ = mw.CreateFormFile("file", "report.xml")
	_, _ = fw.Write(data)
	_ = mw.Close()
	resp2, err := http.Post(ts.URL+"/reports", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	page, _ := io.ReadAll(resp2.Body)
	if resp2.StatusCode != 200 || !strings.Contains(string(page), "Sending sources") {
		t.Errorf("reports page: %d\n%s", resp2.StatusCode, page)
	}
}
