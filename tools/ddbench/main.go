// Command ddbench measures deliverdoctor against the physical limit of DNS.
// It builds the deliverdoctor binary, serves a deterministic reference zone
// set from an in-process DNS server on 127.0.0.1 with injected latency, runs
// the binary against it, and prints one table:
//
//   - single check: wall time / critical-path lower bound (the longest chain
//     of data-dependent questions × latency), total and duplicate questions,
//     for SPF include trees of growing depth;
//   - batches: domains per second and peak RSS for growing batch sizes and -j.
//
// Run it as scripts/bench (see README). No timing is asserted: machines are
// noisy; the numbers are for reading.
//
// With -serve N it only serves the reference zone set for N domains and
// writes their names to a file, for profiling a batch by hand:
//
//	scripts/bench -serve 10000 &
//	DELIVERDOCTOR_CPUPROFILE=cpu.prof deliverdoctor check --input <file> --resolver <addr> --format jsonl >/dev/null
//	go tool pprof -top deliverdoctor cpu.prof
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/bench"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

func main() {
	short := flag.Bool("short", false, "a quick run (CI): small batches, one repetition")
	latency := flag.Duration("latency", 50*time.Millisecond, "DNS latency for the single-check rows")
	batchLatency := flag.Duration("batch-latency", 20*time.Millisecond, "DNS latency for the batch rows")
	jitter := flag.Duration("jitter", 0, "extra uniformly random latency (0 keeps the lower bound exact)")
	sizes := flag.String("domains", "1000,10000", "batch sizes")
	jobs := flag.String("jobs", "50,200,1000", "-j values for batches")
	depths := flag.String("depths", "1,2,3,4", "SPF include depths for single checks")
	reps := flag.Int("reps", 3, "repetitions of each single check (median reported)")
	checks := flag.String("checks", "", "pass --checks to deliverdoctor (default: all checks that run offline of SMTP)")
	args := flag.String("args", "", "more deliverdoctor arguments, space-separated (e.g. \"--selector s1\")")
	batchDepths := flag.String("batch-depths", "2", "SPF include depths for batches")
	dnsbls := flag.Int("dnsbls", 20, "blocklist zones in the reference set; single checks ask all of them (--dnsbl)")
	batchDNSBLs := flag.Bool("batch-dnsbls", false, "batches ask the reference blocklists too (default: the built-in major lists, which answer not listed)")
	faults := flag.String("faults", "", "LOSS,SERVFAIL shares (e.g. 0.02,0.03): run each batch also through a proxy that loses and SERVFAILs that share of UDP questions, and compare (with -serve: also serve behind such a proxy)")
	dot := flag.Bool("dot", true, "also run each single check over DNS over TLS, through a relay that delays every chunk by half the latency each way (the handshakes pay round trips as on a real path)")
	prebuilt := flag.String("bin", "", "use this deliverdoctor binary instead of building ./cmd/deliverdoctor (e.g. an older build, to compare)")
	env := flag.String("env", "", "environment for deliverdoctor in batch rows, space-separated (e.g. \"GOMEMLIMIT=off\" to compare without the batch's soft memory limit)")
	serve := flag.Int("serve", 0, "only serve the reference zone set for this many domains (until interrupted)")
	flag.Parse()
	if *serve > 0 {
		serveOnly(*serve, *dnsbls, *batchLatency, *jitter, *faults)
		return
	}
	if *short {
		*sizes, *jobs, *depths, *reps = "200", "50,200", "1,3", 1
	}
	dir, err := os.MkdirTemp("", "ddbench")
	must(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "deliverdoctor")
	if *prebuilt != "" {
		bin = *prebuilt
		fmt.Printf("deliverdoctor binary: %s\n", bin)
	} else {
		build := exec.Command("go", "build", "-o", bin, "./cmd/deliverdoctor")
		build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as released (docs/startup.md)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		must(build.Run())
	}

	extra := []string{}
	if *checks != "" {
		extra = append(extra, "--checks", *checks)
	}
	extra = append(extra, strings.Fields(*args)...)
	if len(extra) > 0 {
		fmt.Printf("deliverdoctor arguments: %s\n", strings.Join(extra, " "))
	}
	batchEnv = strings.Fields(*env)
	if len(batchEnv) > 0 {
		fmt.Printf("batch environment: %s\n", *env)
	}
	var blocklists []string
	for _, z := range bench.DNSBLZones(*dnsbls) {
		blocklists = append(blocklists, "--dnsbl", z)
	}
	batchExtra := extra
	if *batchDNSBLs {
		batchExtra = append(append([]string(nil), extra...), blocklists...)
	}
	// Process start-up is not DNS work: measure it so the ratio can be read
	// with and without it.
	var starts []time.Duration
	for r := 0; r < 5; r++ {
		start := time.Now()
		must(exec.Command(bin, "--version").Run())
		starts = append(starts, time.Since(start))
	}
	startup := median(starts)
	fmt.Printf("deliverdoctor benchmark — %s, %d CPUs, process start-up %v\n\n", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), startup.Round(time.Millisecond))
	fmt.Printf("Single check (latency %v per DNS question, median of %d; %d blocklist zones asked)\n\n", *latency, *reps, *dnsbls)
	fmt.Println("| include depth | wall | lower bound (depth × latency) | ratio | ratio without start-up | questions | duplicates | critical path |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	type dotRow struct {
		depth       int
		udp, wall   time.Duration
		udpBound    time.Duration
		bound       time.Duration
		path        bench.Path
		conns       int64
		handshakeRT int
	}
	var dotRows []dotRow
	for _, d := range ints(*depths) {
		srv, err := dnstest.New(bench.ReferenceZone(bench.ZoneOptions{Domains: 1, IncludeDepth: d, DNSBLs: *dnsbls}))
		must(err)
		srv.SetLatency(*latency, *jitter)
		wall, path := singleCheck(bin, srv, srv.Addr(), *reps, *latency, append(extra, blocklists...))
		srv.Close()
		bound := time.Duration(path.Depth) * *latency
		fmt.Printf("| %d | %v | %v (%d) | %.2f | %.2f | %d | %d | %s |\n", d, wall.Round(time.Millisecond), bound, path.Depth,
			float64(wall)/float64(bound), float64(wall-startup)/float64(bound), path.Total, path.Duplicates, strings.Join(path.Chain, " → "))
		if *dot {
			row := dotRow{depth: d, udp: wall, udpBound: bound}
			row.wall, row.path, row.conns = dotCheck(bin, dir, d, *dnsbls, *reps, *latency, append(extra, blocklists...))
			// TCP's handshake and TLS 1.3's each cost one round trip
			// before the first question can be sent.
			row.handshakeRT = 2
			row.bound = time.Duration(row.path.Depth+row.handshakeRT) * *latency
			dotRows = append(dotRows, row)
		}
	}
	if len(dotRows) > 0 {
		fmt.Printf("\nSingle check over DNS over TLS (RTT %v: a relay delays every chunk by %v each way, the client's first by one RTT more for the TCP handshake; the server answers at once)\n\n", *latency, *latency/2)
		fmt.Println("| include depth | UDP wall | UDP ratio | DoT wall | DoT lower bound ((2 handshake + chain) × RTT) | DoT ratio | DoT ratio without start-up | DoT connections | questions |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|")
		for _, r := range dotRows {
			fmt.Printf("| %d | %v | %.2f | %v | %v (2 + %d) | %.2f | %.2f | %d | %d |\n", r.depth, r.udp.Round(time.Millisecond), float64(r.udp)/float64(r.udpBound),
				r.wall.Round(time.Millisecond), r.bound, r.path.Depth, float64(r.wall)/float64(r.bound), float64(r.wall-startup)/float64(r.bound), r.conns, r.path.Total)
		}
	}

	which := "the built-in major blocklists"
	if *batchDNSBLs {
		which = fmt.Sprintf("%d blocklist zones", *dnsbls)
	}
	fmt.Printf("\nBatches (latency %v per DNS question; %s asked)\n\n", *batchLatency, which)
	fmt.Println("| domains | include depth | -j | wall | domains/s | peak RSS | questions | unique | duplicates |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, n := range ints(*sizes) {
		for _, depth := range ints(*batchDepths) {
			batchRows(bin, dir, n, depth, ints(*jobs), *dnsbls, *batchLatency, *jitter, batchExtra)
		}
	}
	if *faults != "" {
		loss, servfail := faultShares(*faults)
		fmt.Printf("\nBatches with faults (latency %v; %.1f%% of UDP questions lost, %.1f%% answered SERVFAIL, drawn afresh for each packet)\n\n", *batchLatency, loss*100, servfail*100)
		fmt.Println("| domains | -j | wall without faults | wall with faults | ratio | questions lost | SERVFAIL | verdicts differ |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
		for _, n := range ints(*sizes) {
			faultRows(bin, dir, n, ints(*jobs), *dnsbls, *batchLatency, *jitter, batchExtra, loss, servfail)
		}
	}
}

// singleCheck runs one check of the reference domain against addr reps
// times and returns the median wall time and the critical path of the last
// run.
func singleCheck(bin string, srv *dnstest.Server, addr string, reps int, latency time.Duration, args []string) (time.Duration, bench.Path) {
	var walls []time.Duration
	var path bench.Path
	for r := 0; r < reps; r++ {
		srv.ResetLog()
		start := time.Now()
		out, err := exec.Command(bin, append([]string{"check", bench.DomainName(0), "--resolver", addr, "--format", "json", "--timeout", "5s"}, args...)...).Output()
		walls = append(walls, time.Since(start))
		if err != nil && len(out) == 0 {
			fail("single check: %v", err)
		}
		path = bench.CriticalPath(queriesOf(srv), latency)
	}
	return median(walls), path
}

// dotCheck is singleCheck over DNS over TLS: a test CA, the reference zone
// served over TLS with no delay of its own, and a DelayRelay with RTT
// latency in front. It returns the median wall time, the critical path and
// how many connections the last run opened.
func dotCheck(bin, dir string, depth, dnsbls, reps int, latency time.Duration, args []string) (time.Duration, bench.Path, int64) {
	cert, caPEM, err := bench.TestCertificate()
	must(err)
	caFile := filepath.Join(dir, "ca.pem")
	must(os.WriteFile(caFile, caPEM, 0o644))
	srv, err := dnstest.New(bench.ReferenceZone(bench.ZoneOptions{Domains: 1, IncludeDepth: depth, DNSBLs: dnsbls}))
	must(err)
	defer srv.Close()
	url, err := srv.StartTLS(cert)
	must(err)
	relay, err := bench.NewDelayRelay(strings.TrimPrefix(url, "tls://"), latency)
	must(err)
	defer relay.Close()
	before := relay.Conns.Load()
	wall, path := singleCheck(bin, srv, "tls://"+relay.Addr(), reps, latency, append([]string{"--resolver-ca", caFile}, args...))
	return wall, path, (relay.Conns.Load() - before) / int64(max(reps, 1))
}

// batchEnv is -env: added to deliverdoctor's environment in batch rows.
var batchEnv []string

func faultShares(s string) (float64, float64) {
	a, b, ok := strings.Cut(s, ",")
	loss, err1 := strconv.ParseFloat(a, 64)
	servfail, err2 := strconv.ParseFloat(b, 64)
	if !ok || err1 != nil || err2 != nil || loss < 0 || servfail < 0 || loss+servfail >= 1 {
		fail("-faults %q: want LOSS,SERVFAIL shares, e.g. 0.02,0.03", s)
	}
	return loss, servfail
}

// faultRows runs the batch of n reference domains twice for each -j, once
// straight to the server and once through a FaultProxy, one after the
// other, and compares the verdicts (each target's status per check).
func faultRows(bin, dir string, n int, jobs []int, dnsbls int, latency, jitter time.Duration, extra []string, loss, servfail float64) {
	srv, err := dnstest.New(bench.ReferenceZone(bench.ZoneOptions{Domains: n, IncludeDepth: 2, DNSBLs: dnsbls}))
	must(err)
	defer srv.Close()
	srv.SetLatency(latency, jitter)
	input := writeList(dir, n)
	for _, j := range jobs {
		proxy, err := bench.NewFaultProxy(srv.Addr(), loss, servfail)
		must(err)
		var walls [2]time.Duration
		var verdicts [2]map[string]string
		for k, addr := range []string{srv.Addr(), proxy.Addr()} {
			out := filepath.Join(dir, fmt.Sprintf("faults-%d.jsonl", k))
			cmd := exec.Command(bin, append([]string{"check", "--input", input, "-j", strconv.Itoa(j), "--resolver", addr, "--output", out, "--timeout", "2s"}, extra...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			walls[k] = time.Since(start)
			if err != nil && cmd.ProcessState == nil {
				fail("batch: %v: %s", err, stderr.String())
			}
			verdicts[k] = readVerdicts(out)
		}
		differ := 0
		byCheck := map[string]int{} // "dkim pass→error": how the verdicts differ
		for target, v := range verdicts[0] {
			if w := verdicts[1][target]; w != v {
				differ++
				a, b := strings.Fields(v), strings.Fields(w)
				for i := range min(len(a), len(b)) {
					if a[i] != b[i] {
						name, from, _ := strings.Cut(a[i], "=")
						_, to, _ := strings.Cut(b[i], "=")
						byCheck[name+" "+from+"→"+to]++
					}
				}
			}
		}
		defer func() {
			if len(byCheck) > 0 {
				var parts []string
				for k, n := range byCheck {
					parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
				}
				sort.Strings(parts)
				fmt.Printf("\n(-j %d) verdicts that differ, by check: %s\n\n", j, strings.Join(parts, ", "))
			}
		}()
		differ += max(0, len(verdicts[1])-len(verdicts[0]))
		fmt.Printf("| %d | %d | %v | %v | %.2f | %d | %d | %d of %d (%.2f%%) |\n", n, j, walls[0].Round(time.Millisecond), walls[1].Round(time.Millisecond),
			float64(walls[1])/float64(walls[0]), proxy.Lost.Load(), proxy.Failed.Load(), differ, len(verdicts[0]), 100*float64(differ)/float64(max(1, len(verdicts[0]))))
		proxy.Close()
	}
}

// readVerdicts reads a jsonl output into target → "check=status ..." .
func readVerdicts(path string) map[string]string {
	f, err := os.Open(path)
	must(err)
	defer f.Close()
	out := map[string]string{}
	dec := json.NewDecoder(f)
	for {
		var r report.Report
		if err := dec.Decode(&r); err != nil {
			break
		}
		var b strings.Builder
		for _, c := range r.Checks {
			fmt.Fprintf(&b, "%s=%s ", c.Name, c.Status)
		}
		out[r.Target] = b.String()
	}
	return out
}

func writeList(dir string, n int) string {
	input := filepath.Join(dir, fmt.Sprintf("domains-%d.txt", n))
	var list bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintln(&list, bench.DomainName(i))
	}
	must(os.WriteFile(input, list.Bytes(), 0o644))
	return input
}

// batchRows runs the batch of n reference domains (SPF include depth depth)
// once for each -j in jobs and prints a table row for each.
func batchRows(bin, dir string, n, depth int, jobs []int, dnsbls int, latency, jitter time.Duration, extra []string) {
	srv, err := dnstest.New(bench.ReferenceZone(bench.ZoneOptions{Domains: n, IncludeDepth: depth, DNSBLs: dnsbls}))
	must(err)
	defer srv.Close()
	srv.SetLatency(latency, jitter)
	input := writeList(dir, n)
	for _, j := range jobs {
		srv.ResetLog()
		cmd := exec.Command(bin, append([]string{"check", "--input", input, "-j", strconv.Itoa(j), "--resolver", srv.Addr(), "--format", "jsonl", "--timeout", "5s"}, extra...)...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = nil, &stderr
		cmd.Env = append(os.Environ(), batchEnv...)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			fail("batch: %v", err)
		}
		peak := watchPeakRSS(cmd.Process.Pid)
		err := cmd.Wait()
		wall := time.Since(start)
		if err != nil && cmd.ProcessState == nil {
			fail("batch: %v: %s", err, stderr.String())
		}
		rss := <-peak
		qs := srv.Queries()
		uniq := map[string]bool{}
		for _, q := range qs {
			uniq[q.Name+"/"+strconv.Itoa(int(q.Type))] = true
		}
		fmt.Printf("| %d | %d | %d | %v | %.0f | %.0f MiB | %d | %d | %d |\n", n, depth, j, wall.Round(time.Millisecond),
			float64(n)/wall.Seconds(), float64(rss)/1024, len(qs), len(uniq), len(qs)-len(uniq))
	}
}

// serveOnly serves the reference zone set for n domains until SIGINT or
// SIGTERM, and prints where and what to ask.
func serveOnly(n, dnsbls int, latency, jitter time.Duration, faults string) {
	srv, err := dnstest.New(bench.ReferenceZone(bench.ZoneOptions{Domains: n, IncludeDepth: 2, DNSBLs: dnsbls}))
	must(err)
	defer srv.Close()
	srv.SetLatency(latency, jitter)
	list, err := os.CreateTemp("", "ddbench-domains-*.txt")
	must(err)
	defer os.Remove(list.Name())
	for i := 0; i < n; i++ {
		fmt.Fprintln(list, bench.DomainName(i))
	}
	must(list.Close())
	fmt.Printf("serving %d domains (latency %v) on %s\n", n, latency, srv.Addr())
	fmt.Printf("deliverdoctor check --input %s --resolver %s --format jsonl\n", list.Name(), srv.Addr())
	var proxy *bench.FaultProxy
	if faults != "" {
		loss, servfail := faultShares(faults)
		proxy, err = bench.NewFaultProxy(srv.Addr(), loss, servfail)
		must(err)
		defer proxy.Close()
		fmt.Printf("with faults (%.1f%% lost, %.1f%% SERVFAIL): --resolver %s\n", loss*100, servfail*100, proxy.Addr())
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	if proxy != nil {
		fmt.Printf("proxy: %d lost, %d SERVFAIL, %d passed\n", proxy.Lost.Load(), proxy.Failed.Load(), proxy.Passed.Load())
	}
	fmt.Printf("%d questions answered\n", srv.Total())
}

// watchPeakRSS reads the process's own high-water mark (VmHWM, KiB) from
// /proc until it exits. rusage's Maxrss is no good here: on Linux, exec
// folds the parent's high-water mark into the child's, and this process
// holds the whole reference zone.
func watchPeakRSS(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			b, err := os.ReadFile(path)
			if err != nil {
				break
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil && kb > peak {
						peak = kb
					}
				}
			}
			if strings.Contains(string(b), "State:\tZ") {
				break // exited, not yet reaped
			}
			time.Sleep(20 * time.Millisecond)
		}
		out <- peak
	}()
	return out
}

func queriesOf(srv *dnstest.Server) []bench.Query {
	var out []bench.Query
	for _, q := range srv.Queries() {
		out = append(out, bench.Query{Name: q.Name, Type: q.Type, At: q.At, Answer: srv.Answer(q.Name, q.Type)})
	}
	return out
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fail("bad number %q", f)
		}
		out = append(out, n)
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func must(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "ddbench: "+format+"\n", a...)
	os.Exit(1)
}
