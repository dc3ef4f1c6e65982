package promexp

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// runtimeFamilies returns the series of client_golang's Go collector and
// process collector (its default sets), with the same names and help, so
// dashboards built on them keep working.
func runtimeFamilies() []*Family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	threads, _ := runtime.ThreadCreateProfile(nil)
	fams := []*Family{
		gaugeFamily("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		gaugeFamily("go_threads", "Number of OS threads created.", float64(threads)),
		{Name: "go_info", Help: "Information about the Go environment.", Type: Gauge,
			Metrics: []Metric{{Labels: []Label{{"version", runtime.Version()}}, Value: 1}}},
		gaugeFamily("go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.", gogcPercent()),
		gaugeFamily("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.", float64(debug.SetMemoryLimit(-1))),
		gaugeFamily("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.", float64(runtime.GOMAXPROCS(0))),
		gcDurations(),
	}
	for _, m := range []struct {
		name, help string
		counter    bool
		v          uint64
	}{
		{"go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", false, ms.Alloc},
		{"go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", true, ms.TotalAlloc},
		{"go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", false, ms.BuckHashSys},
		{"go_memstats_frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", true, ms.Frees},
		{"go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", false, ms.GCSys},
		{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", false, ms.HeapAlloc},
		{"go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", false, ms.HeapIdle},
		{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", false, ms.HeapInuse},
		{"go_memstats_heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", false, ms.HeapObjects},
		{"go_memstats_heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", false, ms.HeapReleased},
		{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", false, ms.HeapSys},
		{"go_memstats_mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", true, ms.Mallocs},
		{"go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", false, ms.MCacheInuse},
		{"go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", false, ms.MCacheSys},
		{"go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", false, ms.MSpanInuse},
		{"go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", false, ms.MSpanSys},
		{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", false, ms.NextGC},
		{"go_memstats_other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", false, ms.OtherSys},
		{"go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", false, ms.StackInuse},
		{"go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", false, ms.StackSys},
		{"go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", false, ms.Sys},
	} {
		f := gaugeFamily(m.name, m.help, float64(m.v))
		if m.counter {
			f.Type = Counter
		}
		fams = append(fams, f)
	}
	fams = append(fams, gaugeFamily("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9))
	return append(fams, processFamilies()...)
}

func gaugeFamily(name, help string, v float64) *Family {
	return &Family{Name: name, Help: help, Type: Gauge, Metrics: []Metric{{Value: v}}}
}

// gcDurations is the summary of GC pauses: min, quartiles and max of the
// recent pauses, their total and the number of collections.
func gcDurations() *Family {
	st := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&st)
	m := Metric{Bounds: []float64{0, 0.25, 0.5, 0.75, 1}, Counts: make([]float64, 5),
		Sum: st.PauseTotal.Seconds(), Count: uint64(st.NumGC)}
	for i, d := range st.PauseQuantiles {
		m.Counts[i] = d.Seconds()
	}
	return &Family{Name: "go_gc_duration_seconds", Help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.",
		Type: Summary, Metrics: []Metric{m}}
}

// gogcPercent is the GOGC setting (nothing in the server changes it at
// run time): 100 by default, -1 for off.
func gogcPercent() float64 {
	switch v := os.Getenv("GOGC"); {
	case v == "":
		return 100
	case v == "off":
		return -1
	default:
		n, err := strconv.Atoi(v)
		if err != nil {
			return 100
		}
		return float64(n)
	}
}

// userHZ is the unit of the times in /proc/PID/stat (procfs assumes 100
// too).
const userHZ = 100

// processFamilies reads /proc/self (Linux); elsewhere, or when a file
// cannot be read, its series are left out.
func processFamilies() []*Family {
	var fams []*Family
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
			field := func(n int) float64 {
				if n-3 >= len(f) {
					return 0
				}
				v, _ := strconv.ParseFloat(f[n-3], 64)
				return v
			}
			fams = append(fams,
				&Family{Name: "process_cpu_seconds_total", Help: "Total user and system CPU time spent in seconds.", Type: Counter,
					Metrics: []Metric{{Value: (field(14) + field(15)) / userHZ}}},
				gaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", field(23)),
				gaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.", field(24)*float64(os.Getpagesize())))
			if boot, ok := bootTime(); ok {
				fams = append(fams, gaugeFamily("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", boot+field(22)/userHZ))
			}
		}
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fams = append(fams, gaugeFamily("process_open_fds", "Number of open file descriptors.", float64(len(ents))))
	}
	if lim, err := os.ReadFile("/proc/self/limits"); err == nil {
		if v, ok := softLimit(string(lim), "Max open files"); ok {
			fams = append(fams, gaugeFamily("process_max_fds", "Maximum number of open file descriptors.", v))
		}
		if v, ok := softLimit(string(lim), "Max address space"); ok {
			fams = append(fams, gaugeFamily("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", v))
		}
	}
	if ns, err := os.ReadFile("/proc/self/net/netstat"); err == nil {
		ext := netstat(string(ns), "IpExt")
		if v, ok := ext["InOctets"]; ok {
			fams = append(fams, &Family{Name: "process_network_receive_bytes_total", Help: "Number of bytes received by the process over the network.", Type: Counter, Metrics: []Metric{{Value: v}}})
		}
		if v, ok := ext["OutOctets"]; ok {
			fams = append(fams, &Family{Name: "process_network_transmit_bytes_total", Help: "Number of bytes sent by the process over the network.", Type: Counter, Metrics: []Metric{{Value: v}}})
		}
	}
	return fams
}

// bootTime is the btime line of /proc/stat.
func bootTime() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// softLimit is the soft limit of a /proc/PID/limits row ("unlimited" is
// the largest uint64, as procfs reads it).
func softLimit(limits, name string) (float64, bool) {
	for line := range strings.Lines(limits) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		if f[0] == "unlimited" {
			return math.MaxUint64, true
		}
		v, err := strconv.ParseFloat(f[0], 64)
		return v, err == nil
	}
	return 0, false
}

// netstat reads one section of /proc/PID/net/netstat: a header line of
// names and a line of values, both starting with "Section:".
func netstat(text, section string) map[string]float64 {
	var names []string
	out := map[string]float64{}
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != section+":" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, v := range f[1:] {
			if i < len(names) {
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					out[names[i]] = n
				}
			}
		}
		break
	}
	return out
}
