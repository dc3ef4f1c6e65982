package batch

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// DefaultGrace is how long targets in flight may finish after a stop.
const DefaultGrace = 2 * time.Second

// DefaultListed bounds the failing and erroring targets a summary names.
const DefaultListed = 20

// Engine runs checks over a Source.
type Engine struct {
	Jobs int
	// Grace is how long the targets in flight may still finish once the
	// run's context ends (a signal); a target cut off after it writes
	// nothing. 0 means DefaultGrace.
	Grace time.Duration
	// Check checks one target. Its context ends Grace after a stop.
	Check func(ctx context.Context, t target.Target) *report.Report
	// Emit takes each complete report, one at a time, in the order they
	// finish. An error stops the run. The report is not kept after it.
	Emit func(r *report.Report) error
	// FailOn is --fail-on, for the exit code.
	FailOn findings.Status
	// Listed bounds Summary.Failing per status; 0 means DefaultListed.
	Listed int
	// MemoryLimit is the Go runtime's soft memory limit during Run
	// (debug.SetMemoryLimit); 0 means MemoryLimitFor(Jobs), negative
	// leaves the limit alone. A GOMEMLIMIT in the environment wins.
	MemoryLimit int64
	// InUse reports the memory the run holds now; nil reads the runtime's
	// live heap (as of the last collection) plus a stack per goroutine. While it
	// is above admitFraction of the limit no new target starts (unless
	// none is in flight), and at most that budget / (what a target in
	// flight is seen to hold, at least perTarget) targets run at once: -j
	// is a maximum that memory can lower.
	InUse func() uint64
	// Collections reports how many garbage collections have ended; nil
	// reads the runtime's count. What a target holds is estimated from
	// InUse each time it changes (InUse's heap figure is as of the last
	// collection).
	Collections func() uint64
}

// admitFraction of the soft limit is what live heap and stacks may take
// before new targets wait; the rest is room for garbage between
// collections, so the collector does not run back to back.
const admitFraction = 0.7

// perTarget is what one target in flight holds at its peak, measured with
// --selector s1 at -j 200 (about 32 goroutines of 8 KiB and their answers):
// the budget divided by it caps the targets in flight before they start,
// since a target admitted under the budget fans out afterwards. It is the
// starting point and the floor of footprint's estimate.
const perTarget = 350 << 10

// footprint learns what a target in flight holds in this run: without
// --selector the DKIM check asks ~46 selectors and a target holds about
// twice perTarget, so a cap from the constant let -j 200 run to 140 MiB.
// The live heap the runtime reports is as of the last collection, so the
// check "in use over budget" alone admits a wave of targets between two
// collections; the cap budget/estimate holds between them too.
//
// Until readings have shown what a target holds, targets start slowly:
// at most allow run at once, and allow doubles with each collection (at
// the start of a run they come every few tens of milliseconds). Without
// it the first wave (-j targets at once, fanning out before the first
// reading) took -j 200 without --selector to 143 MiB in its first second,
// against ~90 MiB for the rest of the run.
type footprint struct {
	base  uint64  // in use before the first target
	est   float64 // bytes per target in flight, smoothed over collections
	seen  uint64  // the collection count of the last reading taken
	allow int64   // the slow start's cap
}

// minSample is the fewest targets in flight whose memory says something
// per target.
const minSample = 8

// observe takes a reading of the memory in use with n targets in flight,
// after collections collections. Only a reading from a collection not seen
// before counts: between two, the heap figure stays while targets come
// and go, and dividing it by a count that has moved since would make the
// estimate up (a falling count) or down (a rising one).
func (f *footprint) observe(use uint64, n int64, collections uint64) {
	if collections == f.seen {
		return
	}
	f.seen = collections
	f.allow = max(f.allow, 2*n)
	if n < minSample {
		return
	}
	per := float64(use-min(use, f.base)) / float64(n)
	if per > f.est {
		f.est += (per - f.est) / 2 // up fast: memory over the limit is the worse error
	} else {
		f.est = max(perTarget, f.est+(per-f.est)/8)
	}
}

// cap is how many targets may be in flight under budget, at most jobs.
func (f *footprint) cap(budget uint64, jobs int) int64 {
	return max(1, min(int64(jobs), int64(float64(budget)/max(f.est, perTarget)), f.allow))
}

var inUseSamples = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/stack/starting-size:bytes"}}

var collectionSamples = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}

// runtimeCollections is the default Engine.Collections (called by the
// feeding goroutine only, as runtimeInUse is: it reads into one sample
// instead of allocating one per target admitted).
func runtimeCollections() uint64 {
	metrics.Read(collectionSamples)
	if v := collectionSamples[0].Value; v.Kind() == metrics.KindUint64 {
		return v.Uint64()
	}
	return 0
}

// runtimeInUse is the default Engine.InUse (called by the feeding
// goroutine only): the live heap as of the last collection, plus a stack
// of the runtime's starting size for every goroutine now. Counting
// goroutines follows a burst at once; the runtime's own stack total also
// holds freed stacks until the next collection, so it lags.
func runtimeInUse() uint64 {
	metrics.Read(inUseSamples)
	var live, stack uint64
	if v := inUseSamples[0].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	if v := inUseSamples[1].Value; v.Kind() == metrics.KindUint64 {
		stack = v.Uint64()
	}
	return live + uint64(runtime.NumGoroutine())*max(stack, 8<<10)
}

// A batch's live memory does not grow with the list (counts, a bounded
// failing list, a bounded answer cache, a set of 10-15 bytes a target);
// what it holds at a time grows with -j: each target in flight has a few
// dozen goroutines waiting on DNS (8 KiB of stack each) and its answers.
// Left to itself the Go runtime lets the heap reach twice the live set
// and returns freed memory to the system slowly, so peak RSS was about
// twice what was in use (110-124 MiB at -j 200 with 20 MB of live heap).
// A soft limit sized for -j makes the collector run before that.
const (
	memoryBase   = 40 << 20  // runtime, resolver cache, buffers
	memoryPerJob = 200 << 10 // stacks and answers of one target in flight
)

// MemoryLimitFor is the default soft memory limit for jobs targets in
// flight: 40 MiB + 200 KiB a job, and never below 80 MiB (80 MiB at -j 64,
// 79 MiB at -j 200). It is soft: if the live set needs more, the collector
// runs more often (the runtime bounds its CPU share at 50%), it never
// fails the run. The floor: at the default -j 64 without --selector (the
// DKIM check tries ~46 selectors) 52.5 MiB kept the collector running and
// halved the speed (122 instead of 266 domains/s, 1,000 domains) for
// 72 MiB of peak RSS instead of 87.
func MemoryLimitFor(jobs int) int64 {
	return max(memoryFloor, memoryBase+int64(max(jobs, 1))*memoryPerJob)
}

const memoryFloor = 80 << 20

// setMemoryLimit applies the limit for a run. It returns how to restore
// the previous one and the limit in force (math.MaxInt64: none).
func (e *Engine) setMemoryLimit(jobs int) (restore func(), limit int64) {
	limit = e.MemoryLimit
	if limit == 0 {
		limit = MemoryLimitFor(jobs)
	}
	if limit < 0 || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}, debug.SetMemoryLimit(-1)
	}
	old := debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(old) }, limit
}

// Entry is a failing or erroring target in the summary.
type Entry struct {
	Target string          `json:"target"`
	Status findings.Status `json:"status"`
	Checks []string        `json:"checks"` // the checks at that status
}

// Summary is what a run keeps: counts, and a bounded list of the targets
// that failed or could not be checked. Its size does not depend on the
// number of targets.
type Summary struct {
	Total    int                     `json:"targets"`
	ByStatus map[findings.Status]int `json:"by_status"`
	// Failing lists fail targets first, then error ones, at most Listed of
	// each; Unlisted counts the rest (the output has them all).
	Failing  []Entry `json:"failing"`
	Unlisted int     `json:"unlisted"`
	// Resumed counts targets already complete in the output (--resume):
	// they are in the counts too.
	Resumed int `json:"resumed,omitempty"`
	// Bad counts input lines that were not a valid target.
	Bad int `json:"bad_lines,omitempty"`
	// Interrupted says a signal stopped the run; CutOff counts the targets
	// in flight that did not finish within the grace period (not written).
	Interrupted bool `json:"interrupted,omitempty"`
	CutOff      int  `json:"cut_off,omitempty"`
	// DNS is each resolver's work over the run (set by the caller).
	DNS []dnsx.ServerStats `json:"dns,omitempty"`

	atOrAbove, hasError bool
	listed              int
	fails, errs         int
}

// NewSummary returns an empty summary that lists at most listed targets of
// each status (0: DefaultListed).
func NewSummary(listed int) *Summary {
	if listed <= 0 {
		listed = DefaultListed
	}
	return &Summary{ByStatus: map[findings.Status]int{}, listed: listed}
}

// Add counts one report.
func (s *Summary) Add(r *report.Report, failOn findings.Status) {
	s.Total++
	s.ByStatus[r.Status]++
	if r.AtOrAbove(failOn) {
		s.atOrAbove = true
	}
	if r.HasError() {
		s.hasError = true
	}
	if r.Status != findings.StatusFail && r.Status != findings.StatusError {
		return
	}
	n := &s.fails
	if r.Status == findings.StatusError {
		n = &s.errs
	}
	if *n >= s.listed {
		s.Unlisted++
		return
	}
	*n++
	e := Entry{Target: r.Target, Status: r.Status}
	for _, c := range r.Checks {
		if c.Status == r.Status {
			e.Checks = append(e.Checks, c.Name)
		}
	}
	s.Failing = append(s.Failing, e)
}

// ExitCode per docs/contracts.md: 1 something at or above --fail-on, else 3 a check
// could not run, else 0.
func (s *Summary) ExitCode() int {
	switch {
	case s.atOrAbove:
		return 1
	case s.hasError:
		return 3
	}
	return 0
}

// Line is the closing "summary:" line's text (without the prefix).
func (s *Summary) Line() string {
	parts := []string{fmt.Sprintf("%d %s", s.Total, plural(s.Total, "target"))}
	for _, st := range []findings.Status{findings.StatusFail, findings.StatusError, findings.StatusWarn, findings.StatusPass, findings.StatusSkip} {
		if n := s.ByStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	line := strings.Join(parts, ", ")
	if s.Resumed > 0 {
		line += fmt.Sprintf(" (%d from the earlier run)", s.Resumed)
	}
	if s.Bad > 0 {
		line += fmt.Sprintf("; %d invalid input %s skipped", s.Bad, plural(s.Bad, "line"))
	}
	if s.Interrupted {
		line += fmt.Sprintf("; interrupted: %d in flight not written", s.CutOff)
	}
	return line
}

// Listing returns Failing sorted fail first, then error, each by name.
func (s *Summary) Listing() []Entry {
	out := append([]Entry(nil), s.Failing...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Status != out[j].Status {
			return out[i].Status == findings.StatusFail
		}
		return out[i].Target < out[j].Target
	})
	return out
}

func plural(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

// Run checks every target src yields, Jobs at a time, and passes each
// report to Emit as it finishes. When ctx ends (SIGINT, SIGTERM) no new
// target starts; those in flight get Grace to finish, and the ones that do
// not are dropped, never reported as errors. sum may hold counts from an
// earlier run (--resume); Run adds to it and returns it.
func (e *Engine) Run(ctx context.Context, src *Source, sum *Summary) (*Summary, error) {
	if sum == nil {
		sum = NewSummary(e.Listed)
	}
	grace := e.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	jobs := max(e.Jobs, 1)
	restore, limit := e.setMemoryLimit(jobs)
	defer restore()
	inUse := e.InUse
	if inUse == nil {
		inUse = runtimeInUse
	}
	budget := uint64(math.MaxUint64)
	collections := e.Collections
	if collections == nil {
		collections = runtimeCollections
	}
	fp := footprint{est: perTarget, allow: 2 * minSample}
	if limit > 0 && limit < math.MaxInt64 {
		budget = uint64(float64(limit) * admitFraction)
		jobs = max(1, min(jobs, int(budget/perTarget)))
		fp.base, fp.seen = inUse(), collections()
	}
	// Checks run under their own context, which outlives a stop by grace.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	stopWatch := context.AfterFunc(ctx, func() {
		time.AfterFunc(grace, cancelRun)
	})
	defer stopWatch()

	var (
		mu       sync.Mutex
		emitErr  error
		cutOff   int
		work     = make(chan target.Target)
		inFlight atomic.Int64
		finish   = make(chan struct{}, 1) // a target ended: memory may be free
		wg       sync.WaitGroup
		failOn   = e.FailOn
		finished = func(r *report.Report) {
			mu.Lock()
			defer mu.Unlock()
			if runCtx.Err() != nil {
				// Cut off by the stop: its result is not what the target
				// is, so it is not written at all.
				cutOff++
				return
			}
			if emitErr != nil {
				return
			}
			if e.Emit != nil {
				if err := e.Emit(r); err != nil {
					emitErr = err
					return
				}
			}
			sum.Add(r, failOn)
		}
	)
	if failOn == "" {
		failOn = findings.StatusFail
	}
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				finished(e.Check(runCtx, t))
				inFlight.Add(-1)
				select {
				case finish <- struct{}{}:
				default:
				}
			}
		}()
	}
	var srcErr error
feed:
	for {
		mu.Lock()
		failed := emitErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		t, ok, err := src.Next()
		if err != nil {
			srcErr = err
			break
		}
		if !ok {
			break
		}
		// Memory admission: while the run holds more than its budget, or
		// as many targets as the budget holds by what a target has been
		// seen to take, a new target waits for one in flight to end (at
		// least one runs).
		for budget != math.MaxUint64 {
			n := inFlight.Load()
			if n == 0 {
				break
			}
			use := inUse()
			fp.observe(use, n, collections())
			if use <= budget && n < fp.cap(budget, jobs) {
				break
			}
			select {
			case <-finish:
			case <-ctx.Done():
				break feed
			}
		}
		inFlight.Add(1)
		select {
		case work <- t:
		case <-ctx.Done():
			inFlight.Add(-1)
			break feed
		}
	}
	close(work)
	wg.Wait()
	sum.Bad += src.Bad
	sum.CutOff += cutOff
	sum.Interrupted = ctx.Err() != nil
	if emitErr != nil {
		return sum, emitErr
	}
	return sum, srcErr
}
