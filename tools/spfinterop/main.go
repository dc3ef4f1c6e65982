// Command spfinterop serves SPF test cases from real DNS servers on
// 127.0.0.1 for the differential test against pyspf
// (scripts/interop.d/10-spf-pyspf.sh): every scenario of the openspf RFC
// 7208 suite from its own server (their zone data overlap), plus N
// generated records over a shared generated zone. It writes the cases as
// JSON lines (with the port to ask), prints READY, and serves until its
// standard input closes or -lifetime passes.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/spf/spfsuite"
)

// Case is one evaluation to run with both implementations.
type Case struct {
	Name     string   `json:"name"`
	Port     string   `json:"port"`
	IP       string   `json:"ip"`
	MailFrom string   `json:"mailfrom"`
	HELO     string   `json:"helo"`
	Domain   string   `json:"domain"`
	Record   string   `json:"record,omitempty"`
	Expected []string `json:"expected,omitempty"` // the suite's results
	Timeouts bool     `json:"timeouts,omitempty"` // the scenario has TIMEOUT entries
}

func main() {
	suite := flag.String("suite", "internal/spf/testdata/rfc7208-tests.yml", "suite `FILE`")
	n := flag.Int("generated", 200, "number of generated records")
	seed := flag.Uint64("seed", 7208, "seed of the generator")
	out := flag.String("cases", "", "write the cases to this `FILE` (JSON lines)")
	lifetime := flag.Duration("lifetime", 5*time.Minute, "stop serving after this long")
	flag.Parse()
	if err := run(*suite, *n, *seed, *out, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "spfinterop:", err)
		os.Exit(1)
	}
}

func port(srv *dnstest.Server) string {
	return srv.Addr()[strings.LastIndexByte(srv.Addr(), ':')+1:]
}

func run(suite string, n int, seed uint64, outFile string, lifetime time.Duration) error {
	scs, err := spfsuite.Load(suite)
	if err != nil {
		return err
	}
	var cases []Case
	var servers []*dnstest.Server
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	for _, sc := range scs {
		srv, err := sc.Serve()
		if err != nil {
			return err
		}
		servers = append(servers, srv)
		for _, c := range sc.Cases {
			domain := c.Helo
			if at := strings.LastIndexByte(c.MailFrom, '@'); at >= 0 {
				domain = c.MailFrom[at+1:]
			} else if c.MailFrom != "" {
				domain = c.MailFrom
			}
			cases = append(cases, Case{Name: "suite/" + c.Name, Port: port(srv), IP: c.Host, MailFrom: c.MailFrom,
				HELO: c.Helo, Domain: domain, Expected: c.Results, Timeouts: sc.HasTimeout()})
		}
	}
	zone, gen := generate(n, seed)
	srv, err := dnstest.New(zone)
	if err != nil {
		return fmt.Errorf("generated zone: %w", err)
	}
	servers = append(servers, srv)
	for i := range gen {
		gen[i].Port = port(srv)
	}
	cases = append(cases, gen...)

	w := io.Writer(os.Stdout)
	if outFile != "" {
		f, err := os.Create(outFile)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	fmt.Println("READY", len(cases))
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(lifetime):
	}
	return nil
}

// The generated zone: hosts, MX sets, PTRs, includes and a blocklist that
// the random records refer to.
const baseZone = `
h1.gen.example. 300 IN A 192.0.2.1
h1.gen.example. 300 IN AAAA 2001:db8::1
h2.gen.example. 300 IN A 192.0.2.2
h3.gen.example. 300 IN AAAA 2001:db8::3
mxa.gen.example. 300 IN MX 10 h1.gen.example.
mxa.gen.example. 300 IN MX 20 h2.gen.example.
mxb.gen.example. 300 IN MX 10 h3.gen.example.
mxc.gen.example. 300 IN MX 10 h2.gen.example.
mxc.gen.example. 300 IN MX 20 nohost.gen.example.
1.2.0.192.in-addr.arpa. 300 IN PTR h1.gen.example.
2.2.0.192.in-addr.arpa. 300 IN PTR h2.gen.example.
2.2.0.192.in-addr.arpa. 300 IN PTR other.example.org.
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR h1.gen.example.
inc1.gen.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
inc2.gen.example. 300 IN TXT "v=spf1 a:h2.gen.example ?all"
inc3.gen.example. 300 IN TXT "v=spf1 ~all"
inc4.gen.example. 300 IN TXT "v=spf1 include:inc1.gen.example -all"
inc5.gen.example. 300 IN TXT "v=spf1 ip6:2001:db8::/64 mx:mxa.gen.example -all"
inc6.gen.example. 300 IN TXT "v=spf1 exists:%{ir}.%{v}.bl.gen.example -all"
perm.gen.example. 300 IN TXT "v=spf1 moo"
twice.gen.example. 300 IN TXT "v=spf1 -all"
twice.gen.example. 300 IN TXT "v=spf1 +all"
none.gen.example. 300 IN TXT "hello"
9.2.0.192.bl.gen.example. 300 IN A 127.0.0.2
9.2.0.192.in-addr.bl.gen.example. 300 IN A 127.0.0.2
192.0.2.9.bl.gen.example. 300 IN A 127.0.0.2
alice.users.gen.example. 300 IN A 127.0.0.2
exp.gen.example. 300 IN TXT "%{i} may not send for %{d} (%{l})"
`

var terms = []string{
	"ip4:192.0.2.0/24", "ip4:192.0.2.1", "ip4:198.51.100.0/25", "ip4:203.0.113.0/24", "ip4:192.0.2.0/31",
	"ip6:2001:db8::/32", "ip6:2001:db8::3", "ip6:2001:db8::/126",
	"a", "a/24", "a:h1.gen.example", "a:h2.gen.example/24", "a:h3.gen.example", "a:h1.gen.example//64", "a:h3.gen.example/24//120",
	"mx", "mx:mxa.gen.example", "mx:mxb.gen.example", "mx:mxc.gen.example", "mx:mxa.gen.example/30",
	"include:inc1.gen.example", "include:inc2.gen.example", "include:inc3.gen.example", "include:inc4.gen.example",
	"include:inc5.gen.example", "include:inc6.gen.example", "include:none.gen.example", "include:perm.gen.example",
	"include:twice.gen.example", "include:nx.gen.example",
	"exists:%{i}.bl.gen.example", "exists:%{ir}.bl.gen.example", "exists:%{l}.users.gen.example", "exists:%{l1r-}.users.gen.example",
	"ptr", "ptr:gen.example", "ptr:example.org",
	"a:nx1.gen.example", "a:nx2.gen.example", "mx:nx3.gen.example",
	"a:%{d}", "a:h%{d1}.gen.example", "exists:%{p}.gen.example",
}

var endings = []string{"-all", "~all", "?all", "+all", "all", "redirect=inc1.gen.example", "redirect=inc3.gen.example",
	"redirect=nx.gen.example", "", "-all exp=exp.gen.example", "-all exp=%{d2}.nx.gen.example", "~all redirect=inc2.gen.example"}

var clients = []string{"192.0.2.1", "192.0.2.2", "192.0.2.9", "198.51.100.7", "203.0.113.5",
	"2001:db8::1", "2001:db8::3", "2001:db8:ffff::1", "::ffff:192.0.2.1"}

var locals = []string{"alice", "bob", "a-b+c", "postmaster"}

// generate makes n records g0.gen.example ... with random terms, and one
// case for each (a random client and sender).
func generate(n int, seed uint64) (string, []Case) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var b strings.Builder
	b.WriteString(baseZone)
	var cases []Case
	quals := []string{"", "", "", "+", "-", "~", "?"}
	for i := range n {
		d := fmt.Sprintf("g%d.gen.example", i)
		var parts []string
		k := 1 + rng.IntN(6)
		for range k {
			parts = append(parts, quals[rng.IntN(len(quals))]+terms[rng.IntN(len(terms))])
		}
		if e := endings[rng.IntN(len(endings))]; e != "" {
			parts = append(parts, e)
		}
		rec := "v=spf1 " + strings.Join(parts, " ")
		fmt.Fprintf(&b, "%s. 300 IN TXT %s\n", d, spfsuite.TXTData([]string{rec}))
		if rng.IntN(2) == 0 {
			fmt.Fprintf(&b, "%s. 300 IN A 192.0.2.%d\n", d, 1+rng.IntN(3))
		}
		if rng.IntN(3) == 0 {
			fmt.Fprintf(&b, "%s. 300 IN MX 10 h%d.gen.example.\n", d, 1+rng.IntN(3))
		}
		local := locals[rng.IntN(len(locals))]
		cases = append(cases, Case{Name: fmt.Sprintf("gen/%03d", i), IP: clients[rng.IntN(len(clients))],
			MailFrom: local + "@" + d, HELO: "helo.gen.example", Domain: d, Record: rec})
	}
	return b.String(), cases
}
