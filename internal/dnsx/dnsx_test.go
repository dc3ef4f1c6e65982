package dnsx_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

const testZone = `
example.com.        300 IN MX 10 mx.example.com.
example.com.        300 IN TXT "v=spf1 " "-all"
mx.example.com.     300 IN A 192.0.2.10
www.example.com.    300 IN CNAME web.example.net.
web.example.net.    300 IN A 192.0.2.20
a.b.example.com.    300 IN A 192.0.2.30
loop1.example.com.  300 IN CNAME loop2.example.com.
loop2.example.com.  300 IN CNAME loop1.example.com.
*.wild.example.com. 300 IN TXT "wildcard"
`

func TestOutcomes(t *testing.T) {
	t.Parallel() // its own server and client; it waits on timers
	srv := dnstest.Start(t, testZone)
	srv.Set("servfail.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	srv.Set("refused.example.com", dnstest.Behavior{Rcode: dns.RcodeRefused})
	srv.Set("timeout.example.com", dnstest.Behavior{Drop: true})
	ctx := context.Background()

	tests := []struct {
		name    string
		qtype   uint16
		status  dnsx.Status
		n       int
		tempErr bool
	}{
		{"example.com", dns.TypeMX, dnsx.StatusOK, 1, false},
		{"EXAMPLE.com.", dns.TypeTXT, dnsx.StatusOK, 1, false},
		{"example.com", dns.TypeAAAA, dnsx.StatusNoData, 0, false},
		{"nope.example.com", dns.TypeTXT, dnsx.StatusNXDomain, 0, false},
		{"b.example.com", dns.TypeA, dnsx.StatusNoData, 0, false}, // empty non-terminal
		{"www.example.com", dns.TypeA, dnsx.StatusOK, 1, false},
		{"x.wild.example.com", dns.TypeTXT, dnsx.StatusOK, 1, false},
		{"servfail.example.com", dns.TypeTXT, "", 0, true},
		{"refused.example.com", dns.TypeTXT, "", 0, true},
		{"timeout.example.com", dns.TypeTXT, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dnsx.TypeString(tt.qtype), func(t *testing.T) {
			c := srv.Client(t)
			res, err := c.Lookup(ctx, tt.name, tt.qtype)
			if tt.tempErr {
				if !dnsx.IsTemporary(err) {
					t.Fatalf("want temporary error, got res=%v err=%v", res, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || len(res.Records) != tt.n {
				t.Fatalf("status=%s records=%d, want %s %d", res.Status, len(res.Records), tt.status, tt.n)
			}
		})
	}
}

func TestTXTJoined(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	txt, _, err := dnsx.LookupTXT(context.Background(), srv.Client(t), "example.com")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 -all" {
		t.Fatalf("got %q, %v", txt, err)
	}
}

func TestCNAMEChain(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	res, err := srv.Client(t).Lookup(context.Background(), "www.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.CNAMEs, ","); got != "web.example.net." {
		t.Errorf("chain = %q", got)
	}
	if ips := res.IPs(); len(ips) != 1 || ips[0].String() != "192.0.2.20" {
		t.Errorf("ips = %v", ips)
	}
	if _, err := srv.Client(t).Lookup(context.Background(), "loop1.example.com", dns.TypeA); err == nil {
		t.Error("CNAME loop: want error")
	}
}

func TestTimeoutIsTemporaryAndRetried(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("slow.example.com", dnstest.Behavior{Drop: true})
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 100 * time.Millisecond, Retries: 2})
	_, err := c.Lookup(context.Background(), "slow.example.com", dns.TypeTXT)
	var de *dnsx.Error
	if !errors.As(err, &de) || !dnsx.IsTemporary(err) || de.Reason != "timeout" {
		t.Fatalf("err = %v", err)
	}
	if n := srv.Count("slow.example.com", dns.TypeTXT); n != 3 {
		t.Errorf("sent %d packets, want 3 (1 + 2 retries)", n)
	}
	if st := c.Stats().Servers[0]; st.TimedOut != 3 || st.Retried != 2 {
		t.Errorf("stats %+v, want 3 timeouts and 2 retries", st)
	}
}

func TestContextDeadline(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("slow.example.com", dnstest.Behavior{Drop: true})
	// The client would wait 3×5 s; the context's deadline must end the
	// question first. Ignoring it ends in the client's own timeout, whose
	// reason is "timeout", not "deadline exceeded".
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: 5 * time.Second, Retries: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := c.Lookup(ctx, "slow.example.com", dns.TypeTXT)
	var de *dnsx.Error
	if !errors.As(err, &de) || !dnsx.IsTemporary(err) || de.Reason != "deadline exceeded" {
		t.Fatalf("err = %v, want a temporary failure for the deadline", err)
	}
	if st := c.Stats().Servers[0]; st.TimedOut != 0 {
		t.Errorf("stats %+v: a client timeout, not the deadline, ended the question", st)
	}
}

func TestTruncationRetriedOverTCP(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("example.com", dnstest.Behavior{Truncate: true})
	c := srv.Client(t)
	txt, _, err := dnsx.LookupTXT(context.Background(), c, "example.com")
	if err != nil || len(txt) != 1 {
		t.Fatalf("txt=%q err=%v", txt, err)
	}
	var protos []string
	for _, q := range srv.Queries() {
		protos = append(protos, q.Proto)
	}
	if strings.Join(protos, ",") != "udp,tcp" {
		t.Errorf("protocols = %v, want udp then tcp", protos)
	}
}

func TestOversizedTXTOverTCP(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("big.example.com", dnstest.Behavior{BigTXT: 30000})
	txt, _, err := dnsx.LookupTXT(context.Background(), srv.Client(t), "big.example.com")
	if err != nil || len(txt) != 1 || len(txt[0]) != 30000 {
		t.Fatalf("len=%d err=%v", len(txt), err)
	}
}

func TestCoalescing(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("example.com", dnstest.Behavior{Delay: 50 * time.Millisecond})
	c := srv.Client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := dnsx.LookupTXT(context.Background(), c, "example.com")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// (Retransmissions, which a loaded machine can cause, are no second
	// question; dnstest counts them since dnsx resends with a new ID.)
	st := c.Stats()
	if n := srv.Count("example.com", dns.TypeTXT) - int(st.Servers[0].Retried); n != 1 {
		t.Errorf("server saw %d queries, want 1", n)
	}
	if st.Sent-st.Servers[0].Retried != 1 || st.CacheHits != 49 {
		t.Errorf("stats = %+v", st)
	}
}

// TestFailuresAreNotShared: a SERVFAIL goes to the questions that waited
// on that exchange, never to a later asker (issue 21).
func TestFailuresAreNotShared(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("sf.example.com", dnstest.Behavior{Rcode: dns.RcodeServerFailure, Delay: 50 * time.Millisecond})
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: time.Second, Retries: -1})
	// Questions for the name, the client's retransmissions (which dnstest
	// counts, dnsx resending with a new ID; a loaded machine causes some)
	// set aside.
	asked := func() int { return srv.Count("sf.example.com", 0) - int(c.Stats().Servers[0].Retried) }
	// Ten at once share one exchange and its failure.
	var wg sync.WaitGroup
	var bad sync.Map
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Lookup(context.Background(), "sf.example.com", dns.TypeTXT); !dnsx.IsTemporary(err) {
				bad.Store(i, err)
			}
		}()
	}
	wg.Wait()
	bad.Range(func(k, v any) bool { t.Errorf("asker %v: err = %v", k, v); return true })
	if n := asked(); n != 1 {
		t.Errorf("ten concurrent askers sent %d, want 1", n)
	}
	// Later askers ask again.
	for i := 0; i < 2; i++ {
		if _, err := c.Lookup(context.Background(), "sf.example.com", dns.TypeTXT); !dnsx.IsTemporary(err) {
			t.Fatal(err)
		}
	}
	if n := asked(); n != 3 {
		t.Errorf("sent %d, want 3: a failure must not be cached", n)
	}
	// Once the name answers, the answer is shared again.
	srv.Set("sf.example.com", dnstest.Behavior{})
	for i := 0; i < 2; i++ {
		if _, err := c.Lookup(context.Background(), "sf.example.com", dns.TypeTXT); err != nil {
			t.Fatal(err)
		}
	}
	if n := asked(); n != 4 {
		t.Errorf("sent %d, want 4: answers are cached", n)
	}
	if st := c.Stats(); st.Failures != 3 || st.Servers[0].ServFail != 3 || st.Servers[0].Answered != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestZoneFirstAndOffline(t *testing.T) {
	store := zone.NewStore(false)
	if err := store.LoadString("$ORIGIN example.org.\n@ 300 IN MX 0 .\n@ 300 IN TXT \"v=spf1 -all\"\nalias 300 IN CNAME www.example.net.\n", ""); err != nil {
		t.Fatal(err)
	}
	// No server at all: the zone must answer alone.
	c, err := dnsx.New(dnsx.Config{Zones: store, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := c.Lookup(ctx, "example.org", dns.TypeMX)
	if err != nil || !res.Exists() || res.Source != "zone" {
		t.Fatalf("res=%+v err=%v", res, err)
	}
	res, err = c.Lookup(ctx, "missing.example.org", dns.TypeTXT)
	if err != nil || res.Status != dnsx.StatusNXDomain || res.Offline {
		t.Fatalf("in-zone NXDOMAIN: res=%+v err=%v", res, err)
	}
	res, err = c.Lookup(ctx, "zen.spamhaus.org", dns.TypeA)
	if err != nil || res.Status != dnsx.StatusNXDomain || !res.Offline {
		t.Fatalf("outside zone offline: res=%+v err=%v", res, err)
	}
	// A CNAME out of the zone is chased; offline, its target is unknown.
	res, err = c.Lookup(ctx, "alias.example.org", dns.TypeA)
	if err != nil || !res.Offline || len(res.CNAMEs) != 1 {
		t.Fatalf("alias: res=%+v err=%v", res, err)
	}
	if st := c.Stats(); st.Sent != 0 {
		t.Errorf("sent %d packets offline", st.Sent)
	}
}

func TestZoneThenServer(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	store := zone.NewStore(false)
	if err := store.LoadString("$ORIGIN example.com.\n@ 300 IN TXT \"v=spf1 ip4:198.51.100.1 -all\"\nalias 300 IN CNAME web.example.net.\n", ""); err != nil {
		t.Fatal(err)
	}
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Zones: store, Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	txt, _, err := dnsx.LookupTXT(ctx, c, "example.com")
	if err != nil || len(txt) != 1 || !strings.Contains(txt[0], "198.51.100.1") {
		t.Fatalf("zone should override the server: %q %v", txt, err)
	}
	// MX is not in the file: laid over the live DNS, the file replaces only
	// what it holds, so MX comes from the server (issue 22.1).
	if res, err := c.Lookup(ctx, "example.com", dns.TypeMX); err != nil || !res.Exists() || res.Source == "zone" {
		t.Errorf("MX res=%+v err=%v", res, err)
	}
	res, err := c.Lookup(ctx, "alias.example.com", dns.TypeA)
	if err != nil || len(res.IPs()) != 1 {
		t.Fatalf("zone CNAME chased to the server: %+v %v", res, err)
	}
	if srv.Total() != 2 {
		t.Errorf("server saw %d queries, want 2 (example.com MX, web.example.net A)", srv.Total())
	}
}

func TestTrace(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	var buf strings.Builder
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Trace: &buf})
	_, _ = c.Lookup(context.Background(), "example.com", dns.TypeMX)
	line := buf.String()
	for _, want := range []string{"MX", "example.com.", "NOERROR", "answers=1", srv.Addr(), "ms"} {
		if !strings.Contains(line, want) {
			t.Errorf("trace %q lacks %q", line, want)
		}
	}
}

func TestADBit(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	srv.Set("example.com", dnstest.Behavior{AD: true})
	res, err := srv.Client(t).Lookup(context.Background(), "example.com", dns.TypeMX)
	if err != nil || !res.AD {
		t.Fatalf("AD not recorded: %+v %v", res, err)
	}
	res, _ = srv.Client(t).Lookup(context.Background(), "mx.example.com", dns.TypeA)
	if res.AD {
		t.Error("AD set without the server setting it")
	}
}

func TestInvalidNames(t *testing.T) {
	c, _ := dnsx.New(dnsx.Config{Offline: true})
	for _, n := range []string{"", "exa mple.com", strings.Repeat("a", 64) + ".com", strings.Repeat("abcdefgh.", 40)} {
		if _, err := c.Lookup(context.Background(), n, dns.TypeA); !errors.Is(err, dnsx.ErrInvalidName) {
			t.Errorf("%q: err = %v", n, err)
		}
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{
		"1.1.1.1": "1.1.1.1:53", "127.0.0.1:5353": "127.0.0.1:5353", "::1": "[::1]:53", "[::1]:53": "[::1]:53", "localhost": "localhost:53",
		" 127.0.0.1#5399 ": "127.0.0.1:5399", "::1#5353": "[::1]:5353", // dig and unbound syntax
		"tls://127.0.0.1": "tls://127.0.0.1:853", "TLS://dns.example:8853": "tls://dns.example:8853", "tls://[::1]": "tls://[::1]:853",
		"https://dns.example/dns-query": "https://dns.example/dns-query", "https://127.0.0.1:8443": "https://127.0.0.1:8443/dns-query",
		"https://[::1]/q": "https://[::1]/q",
	} {
		if got, err := dnsx.NormalizeServer(in); err != nil || got != want {
			t.Errorf("%s: got %q %v want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "127.0.0.1#", "127.0.0.1#x", "1.2.3.4:abc", "1.2.3.4:0", "a b", "ftp://x", "tls://", "tls://a b",
		"https://", "https://u:p@dns.example/q", "https://dns.example/q?x=1", "1.2.3.4#53#53", "exa_mple/x"} {
		if got, err := dnsx.NormalizeServer(in); err == nil {
			t.Errorf("%q: accepted as %q", in, got)
		}
	}
}

// BenchmarkCacheConcurrent measures the cache under many goroutines asking
// a small set of names: after warm-up no packet is sent.
func BenchmarkCacheConcurrent(b *testing.B) {
	srv := dnstest.Start(b, testZone)
	c := srv.Client(b)
	names := []string{"example.com", "mx.example.com", "www.example.com", "nope.example.com"}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Lookup(ctx, names[i%len(names)], dns.TypeA); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.ReportMetric(float64(c.Stats().Sent), "packets")
}

func TestUnescapeTXT(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: "plain", `a\"b`: `a"b`, `back\\slash`: `back\slash`, `\027[31m`: "\x1b[31m", `\255x`: "\xffx", `semi\;`: "semi;",
	} {
		if got := dnsx.UnescapeTXT(in); got != want {
			t.Errorf("UnescapeTXT(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMuxIgnoresMismatchedReplies: a datagram with the right ID but another
// question (a spoofing attempt, or a late answer to something else) must
// not answer the question; the real reply that follows must.
func TestMuxIgnoresMismatchedReplies(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			fake := new(dns.Msg)
			fake.SetReply(req)
			fake.Question[0].Name = "attacker.example."
			fake.Answer = []dns.RR{rrOf(t, "attacker.example. 60 IN A 6.6.6.6")}
			b, _ := fake.Pack()
			pc.WriteTo(b, addr)
			garbage := []byte{byte(req.Id >> 8), byte(req.Id), 0xff}
			pc.WriteTo(garbage, addr)
			real := new(dns.Msg)
			real.SetReply(req)
			real.Answer = []dns.RR{rrOf(t, req.Question[0].Name+" 60 IN A 192.0.2.1")}
			b, _ = real.Pack()
			pc.WriteTo(b, addr)
		}
	}()
	c, _ := dnsx.New(dnsx.Config{Servers: []string{pc.LocalAddr().String()}, Timeout: time.Second})
	res, err := c.Lookup(context.Background(), "victim.example", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if ips := res.IPs(); len(ips) != 1 || ips[0].String() != "192.0.2.1" {
		t.Fatalf("answer %v: a mismatched reply was accepted", ips)
	}
}

func rrOf(t *testing.T, s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestCanonicalNameFastPath(t *testing.T) {
	for in, want := range map[string]string{
		"example.com.": "example.com.", "Example.COM": "example.com.", "_dmarc.example.com.": "_dmarc.example.com.",
		"a-b.c": "a-b.c.", "x..y.": "", ".x.": "", strings.Repeat("a", 64) + ".com.": "",
		// The slow path (no final dot): label lengths count an escape as one octet.
		strings.Repeat("a", 63) + ".Com":           strings.Repeat("a", 63) + ".com.",
		strings.Repeat("a", 64) + ".com":           "",
		`a\032b.` + strings.Repeat("c", 63) + ".x": `a\032b.` + strings.Repeat("c", 63) + ".x.",
		strings.Repeat(`\032`, 20) + ".x":          strings.Repeat(`\032`, 20) + ".x.", // 20 octets in 80 characters
	} {
		got, err := dnsx.CanonicalName(in)
		if (err != nil) != (want == "") || (err == nil && got != want) {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { dnsx.CanonicalName("mx1.example.com.") }); n != 0 {
		t.Errorf("canonical name allocates %v times", n)
	}
}

func TestScopesBoundTheCache(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	c, _ := dnsx.New(dnsx.Config{Servers: []string{srv.Addr()}, Timeout: time.Second, SharedCache: 2})
	ctx := context.Background()
	a, b := c.Scope(), c.Scope()
	for _, n := range []string{"example.com", "mx.example.com", "www.example.com", "nope.example.com"} {
		if _, err := a.Lookup(ctx, n, dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	b.Lookup(ctx, "example.com", dns.TypeA)
	a.Lookup(ctx, "mx.example.com", dns.TypeA) // again, in the same scope: cached
	if n, once := srv.AskedOnce(c, "mx.example.com", dns.TypeA); !once {
		t.Errorf("asked %d times within one scope", n)
	}
	a.Release()
	// b still holds example.com; of a's other 4 answers (www's CNAME target
	// too) only the 2 most recent may stay.
	if got := c.Cached(); got != 3 {
		t.Errorf("cache holds %d answers, want 3 (1 held + 2 shared)", got)
	}
	b.Lookup(ctx, "example.com", dns.TypeA)
	if n, once := srv.AskedOnce(c, "example.com", dns.TypeA); !once {
		t.Errorf("a held answer was dropped: asked %d times", n)
	}
	b.Release()
	if got := c.Cached(); got != 2 {
		t.Errorf("after all releases the cache holds %d, want 2", got)
	}
}

// TestReleasedScopeRefuses is the regression test for issue 23.2: a lookup
// through a released scope panicked ("assignment to entry in nil map").
func TestReleasedScopeRefuses(t *testing.T) {
	srv := dnstest.Start(t, testZone)
	c := srv.Client(t)
	sc := c.Scope()
	if _, err := sc.Lookup(context.Background(), "example.com", dns.TypeMX); err != nil {
		t.Fatal(err)
	}
	sc.Release()
	for _, name := range []string{"example.com", "mx.example.com"} {
		_, err := sc.Lookup(context.Background(), name, dns.TypeMX)
		if !errors.Is(err, dnsx.ErrReleased) {
			t.Errorf("%s after Release: err = %v", name, err)
		}
	}
}
