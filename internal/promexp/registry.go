package promexp

import (
	"bytes"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// Registry holds a server's own metrics (counters, gauges, a histogram)
// and serves them, with the Go runtime's and the process's, in the text
// format at /metrics.
type Registry struct {
	mu      sync.Mutex
	metrics []func() *Family
	runtime bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// WithRuntime adds the go_* and process_* series client_golang's Go and
// process collectors export, under the same names.
func (r *Registry) WithRuntime() *Registry {
	r.runtime = true
	return r
}

func (r *Registry) add(f func() *Family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics = append(r.metrics, f)
}

// Families returns every series now.
func (r *Registry) Families() []*Family {
	r.mu.Lock()
	fs := slices.Clone(r.metrics)
	r.mu.Unlock()
	out := make([]*Family, 0, len(fs)+48)
	for _, f := range fs {
		out = append(out, f())
	}
	if r.runtime {
		out = append(out, runtimeFamilies()...)
	}
	return out
}

// ServeHTTP writes the registry's families (as promhttp.HandlerFor does,
// in the text format; an error is a 500).
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	serveFamilies(w, r.Families())
}

// ServeReports answers a probe with the reports' gauges.
func ServeReports(w http.ResponseWriter, reports []*report.Report) {
	serveFamilies(w, (&Collector{Reports: reports}).Families())
}

func serveFamilies(w http.ResponseWriter, fams []*Family) {
	var buf bytes.Buffer
	if err := WriteText(&buf, fams); err != nil {
		http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	_, _ = w.Write(buf.Bytes())
}

// CounterVec is a counter per label values.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	series     map[string]*CounterSeries
}

// CounterSeries is one series of a CounterVec.
type CounterSeries struct {
	values []string
	n      atomic.Uint64
}

// Inc adds one.
func (c *CounterSeries) Inc() { c.n.Add(1) }

// NewCounterVec registers a counter family with these label names.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{name: name, help: help, labels: labels, series: map[string]*CounterSeries{}}
	r.add(c.family)
	return c
}

// WithLabelValues returns the series of these label values (one per
// label name, in order), creating it at zero.
func (c *CounterVec) WithLabelValues(values ...string) *CounterSeries {
	if len(values) != len(c.labels) {
		panic("promexp: " + c.name + ": wrong number of label values")
	}
	key := strings.Join(values, "\xff")
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.series[key]
	if s == nil {
		s = &CounterSeries{values: slices.Clone(values)}
		c.series[key] = s
	}
	return s
}

func (c *CounterVec) family() *Family {
	f := &Family{Name: c.name, Help: c.help, Type: Counter}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.series {
		m := Metric{Value: float64(s.n.Load())}
		for i, v := range s.values {
			m.Labels = append(m.Labels, Label{c.labels[i], v})
		}
		f.Metrics = append(f.Metrics, m)
	}
	return f
}

// GaugeValue is a gauge without labels.
type GaugeValue struct {
	mu sync.Mutex
	v  float64
}

// NewGauge registers a gauge.
func (r *Registry) NewGauge(name, help string) *GaugeValue {
	g := &GaugeValue{}
	r.add(func() *Family {
		g.mu.Lock()
		defer g.mu.Unlock()
		return &Family{Name: name, Help: help, Type: Gauge, Metrics: []Metric{{Value: g.v}}}
	})
	return g
}

// Add adds d (negative: subtracts).
func (g *GaugeValue) Add(d float64) {
	g.mu.Lock()
	g.v += d
	g.mu.Unlock()
}

// Inc adds one.
func (g *GaugeValue) Inc() { g.Add(1) }

// Dec subtracts one.
func (g *GaugeValue) Dec() { g.Add(-1) }

// HistogramValue counts observations in buckets.
type HistogramValue struct {
	bounds []float64 // ascending, without +Inf
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// NewHistogram registers a histogram with these bucket upper bounds
// (ascending; +Inf is implied).
func (r *Registry) NewHistogram(name, help string, bounds []float64) *HistogramValue {
	b := slices.Clone(bounds)
	if n := len(b); n > 0 && math.IsInf(b[n-1], +1) {
		b = b[:n-1]
	}
	h := &HistogramValue{bounds: b, counts: make([]uint64, len(b))}
	r.add(func() *Family {
		h.mu.Lock()
		defer h.mu.Unlock()
		m := Metric{Bounds: h.bounds, Counts: make([]float64, len(h.bounds)), Sum: h.sum, Count: h.count}
		var cum uint64
		for i, c := range h.counts {
			cum += c
			m.Counts[i] = float64(cum)
		}
		return &Family{Name: name, Help: help, Type: Histogram, Metrics: []Metric{m}}
	})
	return h
}

// Observe counts v in the first bucket whose upper bound is at least v.
func (h *HistogramValue) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.mu.Lock()
	defer h.mu.Unlock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
}
