package promexp

import (
	"math"
	"net/http/httptest"
	"runtime"
	"testing"
)

func TestRegistry(t *testing.T) {
	reg := NewRegistry().WithRuntime()
	req := reg.NewCounterVec("t_requests_total", "Requests.", "route", "code")
	inFlight := reg.NewGauge("t_in_flight", "Running.")
	dur := reg.NewHistogram("t_seconds", "Durations.", []float64{0.1, 1, 10})
	req.WithLabelValues("GET /", "200").Inc()
	req.WithLabelValues("GET /", "200").Inc()
	req.WithLabelValues("GET /x", "404").Inc()
	inFlight.Inc()
	inFlight.Inc()
	inFlight.Dec()
	for _, v := range []float64{0.05, 0.1, 0.5, 1, 99} {
		dur.Observe(v) // an upper bound is inclusive: 0.1 counts in le="0.1"
	}
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	mfs := parse(t, rec.Body.String())
	counter := func(labels map[string]string) float64 {
		for _, m := range mfs["t_requests_total"].GetMetric() {
			ok := true
			for _, lp := range m.Label {
				ok = ok && labels[lp.GetName()] == lp.GetValue()
			}
			if ok {
				return m.GetCounter().GetValue()
			}
		}
		return -1
	}
	if v := counter(map[string]string{"route": "GET /", "code": "200"}); v != 2 {
		t.Errorf("GET / 200 = %v, want 2", v)
	}
	if v := counter(map[string]string{"route": "GET /x", "code": "404"}); v != 1 {
		t.Errorf("GET /x 404 = %v, want 1", v)
	}
	if v, _ := Value(mfs, "t_in_flight", nil); v != 1 {
		t.Errorf("in flight = %v, want 1", v)
	}
	h := mfs["t_seconds"].GetMetric()[0].GetHistogram()
	want := map[float64]uint64{0.1: 2, 1: 4, 10: 4, math.Inf(+1): 5}
	for _, b := range h.Bucket {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if h.GetSampleCount() != 5 || h.GetSampleSum() != 100.65 {
		t.Errorf("count %d sum %v, want 5 and 100.65", h.GetSampleCount(), h.GetSampleSum())
	}
	// The runtime series under client_golang's names.
	for _, name := range []string{"go_goroutines", "go_threads", "go_info", "go_memstats_alloc_bytes", "go_gc_duration_seconds", "go_sched_gomaxprocs_threads"} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if v, _ := Value(mfs, "go_goroutines", nil); v < 1 {
		t.Errorf("go_goroutines = %v", v)
	}
	if runtime.GOOS == "linux" {
		for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_start_time_seconds"} {
			if mfs[name] == nil {
				t.Errorf("no %s", name)
			}
		}
		if v, _ := Value(mfs, "process_resident_memory_bytes", nil); v <= 0 {
			t.Errorf("process_resident_memory_bytes = %v", v)
		}
	}
}

func TestSoftLimit(t *testing.T) {
	limits := `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max address space         unlimited            unlimited            bytes
`
	for _, tc := range []struct {
		name string
		want float64
		ok   bool
	}{
		{"Max open files", 1024, true},
		{"Max address space", math.MaxUint64, true},
		{"Max locked memory", 0, false},
	} {
		if v, ok := softLimit(limits, tc.name); v != tc.want || ok != tc.ok {
			t.Errorf("%s: %v %v, want %v %v", tc.name, v, ok, tc.want, tc.ok)
		}
	}
}

func TestNetstat(t *testing.T) {
	text := `TcpExt: SyncookiesSent SyncookiesRecv
TcpExt: 0 0
IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets
IpExt: 0 0 0 0 0 0 4242 1717
`
	ext := netstat(text, "IpExt")
	if ext["InOctets"] != 4242 || ext["OutOctets"] != 1717 {
		t.Errorf("got %v", ext)
	}
	if got := netstat("IpExt: InOctets\n", "IpExt"); len(got) != 0 {
		t.Errorf("header only: %v", got)
	}
}
