package serve

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

const zone = `
$ORIGIN example.com.
@      300 IN MX 10 mx1
mx1    300 IN A 198.51.100.25
@      300 IN TXT "v=spf1 mx -all"
_dmarc 300 IN TXT "v=DMARC1; p=reject"
$ORIGIN hostile.example.
@      300 IN MX 10 mx1.example.com.
@      300 IN TXT "v=spf1 <script>alert(1)</script> -all"
@      300 IN TXT "\"><img src=x onerror=alert(2)>"
_dmarc 300 IN TXT "v=DMARC1; p=none; rua=mailto:<script>x</script>@hostile.example"
$ORIGIN local.example.
@      300 IN MX 10 mx
mx     300 IN A 127.0.0.1
`

func newServer(t *testing.T, mod func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	dns := dnstest.Start(t, zone)
	cfg := Config{
		NewResolver: func(trace io.Writer) (*dnsx.Client, error) {
			return dnsx.New(dnsx.Config{Servers: []string{dns.Addr()}, Trace: trace})
		},
		RatePerMinute: -1,
		Deadline:      20 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func fetch(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func getURL(t *testing.T, u string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", u, nil)
	return fetch(t, req)
}

func TestCheckPage(t *testing.T) {
	_, ts := newServer(t, nil)
	resp, body := getURL(t, ts.URL+"/check/example.com?checks=spf,dmarc,mx")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{"<h1>Check of <span class=\"target\">example.com</span></h1>", `id="check-spf"`, `id="check-dmarc"`,
		`id="result-title"`, "DNS questions", "<tr><td>TXT</td><td><code>_dmarc.example.com.</code></td><td>NOERROR</td><td>1</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	if strings.Contains(body, "<script>") || strings.Contains(strings.ToLower(body), "<script>") {
		t.Error("inline script on the page")
	}
}

// A TXT record carrying markup shows as text and runs nothing.
func TestHostileZoneEscaped(t *testing.T) {
	_, ts := newServer(t, nil)
	_, body := getURL(t, ts.URL+"/check/hostile.example?checks=spf,dmarc")
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, "<script>x") {
		t.Fatalf("hostile markup reached the page unescaped:\n%s", body)
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the hostile record is not visible as text:\n%s", body)
	}
	// Every <script> on the page is ours, by src.
	for _, s := range strings.Split(body, "<script")[1:] {
		if !strings.HasPrefix(s, ` src="/assets/app.js"`) {
			t.Errorf("unexpected script: <script%s", s[:min(len(s), 60)])
		}
	}
}

func TestHostileTargets(t *testing.T) {
	_, ts := newServer(t, nil)
	for _, target := range []string{"%3Cscript%3Ealert(1)%3C%2Fscript%3E", strings.Repeat("a", 400), "exa%20mple.com", "%00", "..%2F..%2Fetc%2Fpasswd"} {
		resp, body := getURL(t, ts.URL+"/check/"+target)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", target, resp.StatusCode)
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("%s: reflected unescaped", target)
		}
		resp, body = getURL(t, ts.URL+"/api/v1/check?target="+target)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("api %s: %d %s", target, resp.StatusCode, body)
		}
	}
	resp, _ := getURL(t, ts.URL+"/api/v1/check?target=example.com&checks=nosuch")
	if resp.StatusCode != 400 {
		t.Errorf("unknown check: %d", resp.StatusCode)
	}
}

func TestCheckFormRedirects(t *testing.T) {
	_, ts := newServer(t, nil)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(ts.URL + "/check?target=example.com&selector=s1&bogus=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/check/example.com?selector=s1" {
		t.Errorf("Location = %q", loc)
	}
}

func TestAuth(t *testing.T) {
	_, ts := newServer(t, func(c *Config) { c.AuthToken = "s3cret"; c.BasicUser, c.BasicPass = "desk", "pw" })
	for _, tc := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"none", func(*http.Request) {}, 401},
		{"bad token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, 200},
		{"basic", func(r *http.Request) { r.SetBasicAuth("desk", "pw") }, 200},
		{"bad basic", func(r *http.Request) { r.SetBasicAuth("desk", "pw2") }, 401},
	} {
		for _, path := range []string{"/", "/metrics", "/api/v1/explain?input=x"} {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			tc.set(req)
			resp, _ := fetch(t, req)
			got := resp.StatusCode
			if got == 400 || got == 404 {
				got = 200 // past auth: the handler answered
			}
			if got != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.name, path, resp.StatusCode, tc.want)
			}
		}
	}
}

func TestRateLimit(t *testing.T) {
	_, ts := newServer(t, func(c *Config) { c.RatePerMinute, c.RateBurst = 1, 2 })
	codes := map[int]int{}
	for i := 0; i < 4; i++ {
		resp, _ := getURL(t, ts.URL+"/api/v1/check?target=example.com&checks=spf")
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[200] != 2 || codes[429] != 2 {
		t.Errorf("codes = %v, want 2×200 then 2×429", codes)
	}
}

func TestRateLimiterRefills(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRateLimiter(60, 1)
	l.now = func() time.Time { return now }
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("first denied")
	}
	if ok, wait := l.allow("a"); ok || wait <= 0 {
		t.Fatalf("second allowed (wait %v)", wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("other client denied")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("not refilled after a second at 60/min")
	}
}

func TestUploadLimit(t *testing.T) {
	_, ts := newServer(t, func(c *Config) {
		c.MaxUpload = 1000
		c.Headers = func(context.Context, dnsx.Resolver, []byte, string) (*report.Report, error) {
			return &report.Report{Target: "x", Kind: "message"}, nil
		}
	})
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/headers", strings.NewReader(strings.Repeat("X-A: b\r\n", 1000)))
	resp, body := fetch(t, req)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("POST", ts.URL+"/api/v1/headers", strings.NewReader("Subject: x\r\n\r\nhi\r\n"))
	if resp, body := fetch(t, req); resp.StatusCode != 200 || !strings.Contains(body, `"schema": "deliverdoctor.report/v1"`) {
		t.Errorf("small message: %d %s", resp.StatusCode, body)
	}
}

func TestExplainPage(t *testing.T) {
	_, ts := newServer(t, func(c *Config) {
		c.Explain = func(_ context.Context, text string, upload []byte) (any, *ExplainView, error) {
			if strings.TrimSpace(text) == "bad" {
				return nil, nil, errors.New("\"bad\" is not a status code")
			}
			return map[string]string{"schema": "deliverdoctor.explain/v1"}, &ExplainView{Head: "5.7.26", Title: "<b>t</b>", SenderDomain: "example.com"}, nil
		}
	})
	resp, body := getURL(t, ts.URL+"/explain?input=5.7.26")
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/check/example.com"`) || !strings.Contains(body, "&lt;b&gt;t&lt;/b&gt;") {
		t.Errorf("explain page: %d\n%s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/explain", strings.NewReader("input=bad"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := fetch(t, req); resp.StatusCode != 400 || !strings.Contains(body, "is not a status code") {
		t.Errorf("bad input: %d\n%s", resp.StatusCode, body)
	}
	resp, body = getURL(t, ts.URL+"/api/v1/explain?input=5.7.26")
	if resp.StatusCode != 200 || !strings.Contains(body, "deliverdoctor.explain/v1") || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("api: %d %s", resp.StatusCode, body)
	}
}

func TestProbesOffByDefault(t *testing.T) {
	_, ts := newServer(t, nil)
	for _, q := range []string{"smtp=1", "relay=1"} {
		resp, body := getURL(t, ts.URL+"/api/v1/check?target=example.com&"+q)
		if resp.StatusCode != 403 || !strings.Contains(body, "--allow-probes") {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true}, {"2a00:1450:4001::1", true}, {"198.51.99.1", true},
		{"127.0.0.1", false}, {"127.8.9.10", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"100.64.0.1", false}, {"0.0.0.0", false}, {"255.255.255.255", false}, {"224.0.0.1", false},
		{"192.0.2.1", false}, {"::1", false}, {"::", false}, {"fe80::1", false}, {"fd00::1", false}, {"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false}, {"64:ff9b::a00:1", false}, {"64:ff9b::808:808", true}, {"2001:db8::1", false}, {"ff02::1", false},
		{"2002:7f00:1::1", false},
	} {
		if got := PublicAddr(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("PublicAddr(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// The guard sees the address actually dialled, after name resolution.
func TestGuardedDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, addr := range []string{ln.Addr().String(), net.JoinHostPort("localhost", port)} {
		_, err := guardedDial(false, time.Second)(context.Background(), "tcp", addr)
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("%s: err = %v, want ErrPrivateAddress", addr, err)
		}
	}
	c, err := guardedDial(true, time.Second)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("--allow-private: %v", err)
	}
	c.Close()
}

// With probes on, an IP target on the operator's network is refused, and a
// domain whose MX is on loopback is probed through the guard: the SMTP
// check reports the refusal instead of connecting.
func TestSSRFGuard(t *testing.T) {
	hits := make(chan struct{}, 10)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits <- struct{}{}
			c.Close()
		}
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	port := 0
	for _, ch := range p {
		port = port*10 + int(ch-'0')
	}
	_, ts := newServer(t, func(c *Config) {
		c.AllowProbes = true
		c.Options.SMTPPort = port
		c.Options.ProbeTimeout = 2 * time.Second
	})
	resp, body := getURL(t, ts.URL+"/api/v1/check?target=127.0.0.1&relay=1")
	if resp.StatusCode != 403 {
		t.Errorf("IP target on loopback: %d %s", resp.StatusCode, body)
	}
	resp, body = getURL(t, ts.URL+"/api/v1/check?target=local.example&smtp=1&relay=1&checks=smtp,relay")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, "allow-private") {
		t.Errorf("the report does not say the address was refused:\n%s", body)
	}
	select {
	case <-hits:
		t.Error("a probe connected to loopback")
	default:
	}
}

func TestProbeEndpoint(t *testing.T) {
	_, ts := newServer(t, nil)
	resp, body := getURL(t, ts.URL+"/probe?target=example.com&checks=spf,dmarc")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	find := func(name string, labels map[string]string) (float64, bool) {
		for _, m := range mfs[name].GetMetric() {
			ok := true
			for k, v := range labels {
				found := false
				for _, lp := range m.Label {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				ok = ok && found
			}
			if ok {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	if v, ok := find("deliverdoctor_spf_lookups", nil); !ok || v != 1 {
		t.Errorf("spf lookups = %v %v", v, ok)
	}
	if v, ok := find("deliverdoctor_dmarc_policy", map[string]string{"policy": "reject"}); !ok || v != 1 {
		t.Errorf("dmarc reject = %v %v", v, ok)
	}
	if v, ok := find("deliverdoctor_check_status", map[string]string{"check": "spf"}); !ok || v != 0 {
		t.Errorf("spf status = %v %v", v, ok)
	}
	if _, ok := find("deliverdoctor_check_status", map[string]string{"check": "mx"}); ok {
		t.Error("mx ran though checks=spf,dmarc")
	}
	// The server's own metrics count the probe.
	_, m := getURL(t, ts.URL+"/metrics")
	p2 := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p2.TextToMetricFamilies(strings.NewReader(m)); err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	if !strings.Contains(m, `deliverdoctor_http_requests_total{code="200",route="GET /probe"} 1`) {
		t.Errorf("/metrics lacks the probe request:\n%s", m)
	}
}

// When every slot is taken and the queue is full, requests get 503, not a
// pile of goroutines.
func TestBusy(t *testing.T) {
	s, ts := newServer(t, func(c *Config) { c.MaxInFlight, c.MaxQueue = 1, 1 })
	s.slots <- struct{}{} // a check is running
	s.waiting <- struct{}{}
	resp, body := getURL(t, ts.URL+"/api/v1/check?target=example.com&checks=spf")
	if resp.StatusCode != 503 {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
	<-s.waiting
	<-s.slots
	if resp, _ := getURL(t, ts.URL+"/api/v1/check?target=example.com&checks=spf"); resp.StatusCode != 200 {
		t.Errorf("after release: %d", resp.StatusCode)
	}
}

// Shutdown cancels a running check: its request ends promptly.
func TestShutdownCancels(t *testing.T) {
	dns := dnstest.Start(t, zone)
	dns.Set("slow.example", dnstest.Behavior{Drop: true})
	s, err := New(Config{NewResolver: func(trace io.Writer) (*dnsx.Client, error) {
		return dnsx.New(dnsx.Config{Servers: []string{dns.Addr()}, Timeout: 10 * time.Second, Retries: -1})
	}, RatePerMinute: -1, Deadline: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(ts.URL + "/api/v1/check?target=slow.example&checks=spf")
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for i := 0; i < 200 && len(s.slots) == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	s.Shutdown()
	select {
	case <-done:
	case <-time.After(8 * time.Second):
		t.Fatal("a running check outlived Shutdown")
	}
}

// 200 concurrent checks against the test DNS: all answered, memory bounded
// by the in-flight cap rather than the number of requests.
func TestLoad200(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	_, ts := newServer(t, func(c *Config) { c.MaxInFlight = 16 })
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Sample the heap while the requests run: its peak is bounded by the
	// checks in flight, not by the number of requests.
	var peak uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(ts.URL + "/api/v1/check?target=example.com&checks=mx,spf,dmarc,rbl")
			if err != nil {
				codes <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	close(codes)
	n := 0
	for c := range codes {
		if c == 200 {
			n++
		}
	}
	if n != 200 {
		t.Errorf("%d of 200 answered 200", n)
	}
	var after runtime.MemStats
	tr.CloseIdleConnections()
	runtime.GC()
	runtime.GC() // the second collection frees sync.Pool victims
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap: %d MiB before, peak %d MiB, %+d KiB after 200 checks", before.HeapAlloc>>20, peak>>20, grown/1024)
	if peak > before.HeapAlloc+256<<20 {
		t.Errorf("heap peaked at %d MiB", peak>>20)
	}
	if grown > 64<<20 {
		t.Errorf("heap grew by %d MiB after the requests ended", grown>>20)
	}
}

// A client that never finishes its headers is disconnected.
func TestSlowClientDropped(t *testing.T) {
	s, err := New(Config{NewResolver: func(io.Writer) (*dnsx.Client, error) { return nil, errors.New("unused") },
		ReadHeaderTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.HTTPServer(ln.Addr().String())
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil { // headers never end
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still holds a client that never sent its headers (read %q)", b)
	}
}

func TestHeadersPageUpload(t *testing.T) {
	_, ts := newServer(t, func(c *Config) {
		c.Headers = func(_ context.Context, _ dnsx.Resolver, msg []byte, name string) (*report.Report, error) {
			if !strings.Contains(string(msg), "Subject:") {
				return nil, errors.New("no header section")
			}
			return &report.Report{Target: name, Kind: "message", Checks: []findings.CheckResult{{Name: "spf", Status: findings.StatusFail,
				Summary: "<script>alert(1)</script>", Findings: []findings.Finding{{ID: "spf.fail", Severity: findings.SeverityFail, Title: "SPF fails", BounceCodes: []string{"5.7.23"}}}}}}, nil
		}
	})
	var body strings.Builder
	mw := multipartWriter(&body, "file", "m.eml", "Subject: hi\r\n\r\nbody\r\n")
	req, _ := http.NewRequest("POST", ts.URL+"/headers", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", mw)
	resp, page := fetch(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{"Failures", "SPF fails", `href="/explain?input=5.7.23"`, "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	req, _ = http.NewRequest("POST", ts.URL+"/headers", strings.NewReader("input=just+text"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, page := fetch(t, req); resp.StatusCode != 400 || !strings.Contains(page, "no header section") {
		t.Errorf("bad message: %d\n%s", resp.StatusCode, page)
	}
}

func multipartWriter(w io.Writer, field, name, content string) string {
	mw := multipart.NewWriter(w)
	fw, _ := mw.CreateFormFile(field, name)
	_, _ = io.WriteString(fw, content)
	_ = mw.Close()
	return mw.FormDataContentType()
}

// FuzzParseCheck: any target and query is a request or a 4xx, never a
// panic, and an accepted target is one the check command would accept.
func FuzzParseCheck(f *testing.F) {
	for _, s := range []string{"example.com", "bob@example.com", "192.0.2.1", "[::1]", "<script>", "exa mple.com", "xn--bcher-kva.example", "a..b", ""} {
		f.Add(s, "spf,dmarc", "192.0.2.1")
	}
	s, err := New(Config{NewResolver: func(io.Writer) (*dnsx.Client, error) { return nil, errors.New("unused") }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target, checks, ip string) {
		cr, err := s.parseCheck(target, map[string][]string{"checks": {checks}, "ip": {ip}, "selector": {checks}})
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.code < 400 || he.code >= 500 {
				t.Fatalf("error %v is not a 4xx", err)
			}
			return
		}
		if cr.Target.Name == "" || cr.Opts.SMTP || cr.Opts.Relay {
			t.Fatalf("accepted %q as %+v", target, cr)
		}
	})
}

func TestParseTraceLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want traceLine
	}{
		{"TXT   example.com.                             NOERROR   answers=1    3ms server=127.0.0.1:53",
			traceLine{Type: "TXT", Name: "example.com.", Rcode: "NOERROR", Answers: "1", MS: "3", Server: "127.0.0.1:53"}},
		{"A     mx.example.com.                          NXDOMAIN  answers=0    0ms server=zone ad (from file)",
			traceLine{Type: "A", Name: "mx.example.com.", Rcode: "NXDOMAIN", Answers: "0", MS: "0", Server: "zone", Note: "ad (from file)"}},
		{"something else entirely", traceLine{Name: "something else entirely"}},
		{"", traceLine{}},
	} {
		if got := parseTraceLine(tc.in); got != tc.want {
			t.Errorf("parseTraceLine(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// Results reach the browser as each check finishes: the spf result is on
// the wire while the dmarc check still waits for an answer that never
// comes.
func TestCheckPageStreams(t *testing.T) {
	dns := dnstest.Start(t, zone+"\n$ORIGIN slow.example.\n@ 300 IN TXT \"v=spf1 -all\"\n")
	dns.Set("_dmarc.slow.example", dnstest.Behavior{Drop: true})
	s, err := New(Config{NewResolver: func(trace io.Writer) (*dnsx.Client, error) {
		return dnsx.New(dnsx.Config{Servers: []string{dns.Addr()}, Timeout: 30 * time.Second, Retries: -1, Trace: trace})
	}, RatePerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/check/slow.example?checks=spf,dmarc", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), `id="check-spf"`) {
		n, err := resp.Body.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("stream ended before the spf result: %v\n%s", err, seen.String())
		}
	}
	if strings.Contains(seen.String(), `id="check-dmarc"`) || strings.Contains(seen.String(), `id="result-title"`) {
		t.Fatalf("dmarc cannot have finished:\n%s", seen.String())
	}
}
