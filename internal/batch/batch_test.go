package batch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// drain is the names of the targets src gives until it ends.
func drain(t *testing.T, src *Source) []string {
	t.Helper()
	var got []string
	for {
		tg, ok, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got
		}
		got = append(got, tg.Name)
	}
}

func TestSourceStreams(t *testing.T) {
	in := "# list\n\na.example\nA.example. # again\nnot a domain!\nb.example\n"
	var warn strings.Builder
	src, err := NewSource([]string{"b.example"}, "-", strings.NewReader(in), Shard{0, 1}, Set{}, &warn)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, src)
	if strings.Join(got, ",") != "b.example,a.example" {
		t.Errorf("targets %v", got)
	}
	if src.Bad != 1 || src.Lines != 4 || !strings.Contains(warn.String(), "--input line 5") {
		t.Errorf("bad %d lines %d warn %q", src.Bad, src.Lines, warn.String())
	}
}

func TestSourceInputProblems(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewSource(nil, dir, nil, Shard{0, 1}, Set{}, nil); err == nil || strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := NewSource(nil, filepath.Join(dir, "missing"), nil, Shard{0, 1}, Set{}, nil); err == nil {
		t.Error("missing file accepted")
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing\n\n"), 0o644)
	src, err := NewSource(nil, empty, nil, Shard{0, 1}, Set{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := src.Next(); ok || !src.Empty(0) {
		t.Error("comments-only input is not empty")
	}
	long := filepath.Join(dir, "long")
	os.WriteFile(long, []byte(strings.Repeat("a", MaxInputLine+10)), 0o644)
	src, _ = NewSource(nil, long, nil, Shard{0, 1}, Set{}, nil)
	if _, _, err := src.Next(); err == nil {
		t.Error("an endless line was accepted")
	}
}

func TestSummaryBounded(t *testing.T) {
	s := NewSummary(3)
	for i := 0; i < 1000; i++ {
		st := []findings.Status{findings.StatusPass, findings.StatusFail, findings.StatusError, findings.StatusWarn}[i%4]
		s.Add(&report.Report{Target: fmt.Sprintf("d%d.example", i), Status: st, Checks: []findings.CheckResult{{Name: "mx", Status: st}}}, findings.StatusFail)
	}
	if len(s.Failing) != 6 || s.Unlisted != 494 || s.Total != 1000 || s.ExitCode() != 1 {
		t.Errorf("failing %d unlisted %d total %d exit %d", len(s.Failing), s.Unlisted, s.Total, s.ExitCode())
	}
	l := s.Listing()
	if l[0].Status != findings.StatusFail || l[5].Status != findings.StatusError || l[0].Checks[0] != "mx" {
		t.Errorf("listing %+v", l)
	}
}

// A stop starts no new target; a target that finishes in the grace period
// is written, one cut off after it is not.
func TestEngineStop(t *testing.T) {
	var names []string
	for i := 0; i < 100; i++ {
		names = append(names, fmt.Sprintf("d%d.example", i))
	}
	src, _ := NewSource(names, "", nil, Shard{0, 1}, Set{}, nil)
	ctx, stop := context.WithCancel(context.Background())
	var started, emitted atomic.Int32
	eng := &Engine{
		Jobs:  4,
		Grace: 50 * time.Millisecond,
		Check: func(ctx context.Context, tg target.Target) *report.Report {
			if started.Add(1) == 8 {
				stop()
			}
			select {
			case <-ctx.Done():
				return &report.Report{Target: tg.Name, Status: findings.StatusError}
			case <-time.After(10 * time.Millisecond):
			}
			if tg.Name == "d1.example" {
				<-ctx.Done() // never finishes on its own
				return &report.Report{Target: tg.Name, Status: findings.StatusError}
			}
			return &report.Report{Target: tg.Name, Status: findings.StatusPass}
		},
		Emit: func(r *report.Report) error {
			if r.Status == findings.StatusError {
				t.Errorf("%s emitted as error", r.Target)
			}
			emitted.Add(1)
			return nil
		},
	}
	sum, err := eng.Run(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.CutOff < 1 || int(emitted.Load()) != sum.Total || sum.Total >= 100 {
		t.Errorf("interrupted %v cut off %d total %d emitted %d started %d", sum.Interrupted, sum.CutOff, sum.Total, emitted.Load(), started.Load())
	}
}

// The set of targets done or seen is the one structure of a batch that
// grows with the list: it must stay a table of 8-byte hashes, not a map
// (about 38 bytes an entry).
func TestSetStaysCompact(t *testing.T) {
	s := NewSet()
	const n = 200_000
	for i := range n {
		if !s.Add("domain", fmt.Sprintf("d%d.example", i)) {
			t.Fatalf("d%d.example reported as seen before", i)
		}
		if got := len(s.t.slots); i > 64 && got*8 > (i+1)*15 {
			t.Fatalf("after %d targets the table has %d slots (more than 1.875 a target: 15 bytes)", i+1, got)
		}
	}
	if s.Len() != n {
		t.Fatalf("Len %d, want %d", s.Len(), n)
	}
	for i := range n {
		if !s.Has("domain", fmt.Sprintf("d%d.example", i)) || s.Add("domain", fmt.Sprintf("d%d.example", i)) {
			t.Fatalf("d%d.example lost", i)
		}
	}
	if s.Has("domain", "other.example") || s.Has("ip", "d1.example") {
		t.Fatal("a name never added is in the set")
	}
	if (Set{}).Has("domain", "d1.example") || (Set{}).Len() != 0 {
		t.Fatal("the zero Set is not empty")
	}
}

// Resuming shares one set between the targets done and those seen: a done
// target is skipped, a new one runs once however often it is listed.
func TestSourceSkipsDoneTargetsWithOneSet(t *testing.T) {
	done := NewSet()
	done.Add("domain", "a.example")
	src, err := NewSource(nil, "-", strings.NewReader("a.example\nb.example\nb.example\nc.example\n"), Shard{0, 1}, done, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, src)
	if strings.Join(got, ",") != "b.example,c.example" {
		t.Fatalf("got %v", got)
	}
	if done.Len() != 3 {
		t.Fatalf("the shared set holds %d targets, want 3", done.Len())
	}
}

// -j is a maximum that memory can lower: while the run holds more than its
// budget a new target waits for one in flight (at least one always runs);
// under the budget all -j run at once.
func TestEngineAdmitsByMemory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		inUse uint64
		want  int32 // most targets in flight
	}{
		{"over budget", 1 << 40, 1},
		{"under budget", 0, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for i := 0; i < 64; i++ {
				names = append(names, fmt.Sprintf("d%d.example", i))
			}
			src, _ := NewSource(names, "", nil, Shard{0, 1}, Set{}, nil)
			var now, most atomic.Int32
			all := make(chan struct{}) // closed when 8 run at once
			var once sync.Once
			eng := &Engine{
				Jobs:        8,
				MemoryLimit: 64 << 20,
				InUse:       func() uint64 { return tc.inUse },
				Check: func(ctx context.Context, tg target.Target) *report.Report {
					n := now.Add(1)
					defer now.Add(-1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					if n == 8 {
						once.Do(func() { close(all) })
					}
					if tc.want == 1 && tg.Name < "d2" {
						// Long enough for an engine without admission to
						// start another target meanwhile.
						time.Sleep(20 * time.Millisecond)
					}
					if tc.want == 8 {
						// Hold the first targets until 8 run together
						// (bounded, so a wrong engine fails, not hangs).
						select {
						case <-all:
						case <-time.After(10 * time.Second):
						}
					}
					return &report.Report{Target: tg.Name, Status: findings.StatusPass}
				},
			}
			sum, err := eng.Run(context.Background(), src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Total != 64 || most.Load() != tc.want {
				t.Fatalf("%d targets, at most %d in flight, want 64 and %d", sum.Total, most.Load(), tc.want)
			}
		})
	}
}

// A run sizes the soft memory limit to -j and puts the old one back.
func TestEngineRestoresMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT set: the engine leaves the limit alone")
	}
	before := debug.SetMemoryLimit(-1)
	var during int64
	src, _ := NewSource([]string{"a.example"}, "", nil, Shard{0, 1}, Set{}, nil)
	eng := &Engine{Jobs: 200, Check: func(ctx context.Context, tg target.Target) *report.Report {
		during = debug.SetMemoryLimit(-1)
		return &report.Report{Target: tg.Name, Status: findings.StatusPass}
	}}
	if _, err := eng.Run(context.Background(), src, nil); err != nil {
		t.Fatal(err)
	}
	if during != MemoryLimitFor(200) || debug.SetMemoryLimit(-1) != before {
		t.Fatalf("limit during the run %d (want %d), after %d (want %d)", during, MemoryLimitFor(200), debug.SetMemoryLimit(-1), before)
	}
}

// The memory budget caps the targets in flight before they start: with a
// limit whose budget holds ten targets, -j 200 runs at most ten at once.
func TestEngineCapsJobsByMemory(t *testing.T) {
	var names []string
	for i := 0; i < 100; i++ {
		names = append(names, fmt.Sprintf("d%d.example", i))
	}
	src, _ := NewSource(names, "", nil, Shard{0, 1}, Set{}, nil)
	var now, most atomic.Int32
	eng := &Engine{
		Jobs:        200,
		MemoryLimit: int64(float64(10*perTarget)/admitFraction) + 1,
		InUse:       func() uint64 { return 0 },
		Check: func(ctx context.Context, tg target.Target) *report.Report {
			n := now.Add(1)
			defer now.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond) // let the others pile up if they could
			return &report.Report{Target: tg.Name, Status: findings.StatusPass}
		},
	}
	sum, err := eng.Run(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 100 || most.Load() > 10 || most.Load() < 2 {
		t.Fatalf("%d targets, at most %d in flight, want 100 and 2..10", sum.Total, most.Load())
	}
}

// When targets hold more than perTarget and the memory reading lags (the
// runtime's live heap is as of the last collection), the engine learns
// what a target holds and caps the targets in flight by it: here a target
// holds 3 x perTarget, the reading is refreshed every 25th finished
// target, and the budget holds 20 such targets (60 by the constant).
func TestEngineLearnsTargetFootprint(t *testing.T) {
	const (
		n      = 600
		holds  = 3 * perTarget
		fits   = 20
		static = 3 * fits
	)
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, fmt.Sprintf("d%03d.example", i))
	}
	src, _ := NewSource(names, "", nil, Shard{0, 1}, Set{}, nil)
	var (
		now, most, done atomic.Int32
		reading         atomic.Uint64 // what InUse reports: a stale snapshot
	)
	eng := &Engine{
		Jobs:        200,
		MemoryLimit: int64(static*perTarget/admitFraction) + 1024,
		InUse:       func() uint64 { return reading.Load() },
		Collections: func() uint64 { return uint64(done.Load() / 25) },
		Check: func(ctx context.Context, tg target.Target) *report.Report {
			k := now.Add(1)
			defer func() {
				// A "collection" now and then: the reading catches up.
				if d := done.Add(1); d%25 == 0 {
					reading.Store(uint64(now.Load()) * holds)
				}
			}()
			defer now.Add(-1)
			if tg.Name >= fmt.Sprintf("d%03d", n/2) {
				// The second half: the estimate has had 300 targets.
				for m := most.Load(); k > m && !most.CompareAndSwap(m, k); m = most.Load() {
				}
			}
			// Let others pile up if they could; targets take 1-4 ms, so
			// they do not all end together.
			time.Sleep(time.Duration(1+k%4) * time.Millisecond)
			return &report.Report{Target: tg.Name, Status: findings.StatusPass}
		},
	}
	sum, err := eng.Run(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != n {
		t.Fatalf("%d targets, want %d", sum.Total, n)
	}
	if m := most.Load(); m > fits+fits/2 || m < 2 {
		t.Fatalf("at most %d targets in flight in the second half, want 2..%d (the budget holds %d; %d by perTarget)", m, fits+fits/2, fits, static)
	}
	t.Logf("at most %d in flight in the second half", most.Load())
}

// The soft limit has a floor, so a small -j does not make the collector run
// back to back (at -j 64 without --selector, 52.5 MiB halved the speed),
// and grows with -j above it.
func TestMemoryLimitFloor(t *testing.T) {
	for _, c := range []struct {
		jobs int
		want int64
	}{{1, 80 << 20}, {64, 80 << 20}, {200, 80 << 20}, {1000, 40<<20 + 1000*200<<10}} {
		if got := MemoryLimitFor(c.jobs); got != c.want {
			t.Errorf("MemoryLimitFor(%d) = %d, want %d", c.jobs, got, c.want)
		}
	}
}
