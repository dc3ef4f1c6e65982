package promexp

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// clientGolang writes fams the way the library this package replaced
// does: a client_golang registry gathers them and expfmt encodes them.
func clientGolang(t *testing.T, fams []*Family) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	for _, f := range fams {
		var names []string
		if len(f.Metrics) > 0 {
			for _, l := range f.Metrics[0].Labels {
				names = append(names, l.Name)
			}
		}
		d := prometheus.NewDesc(f.Name, f.Help, names, nil)
		var ms []prometheus.Metric
		for _, m := range f.Metrics {
			var values []string
			for _, l := range m.Labels {
				values = append(values, l.Value)
			}
			var pm prometheus.Metric
			var err error
			switch f.Type {
			case Histogram:
				buckets := map[float64]uint64{}
				for i, b := range m.Bounds {
					buckets[b] = uint64(m.Counts[i])
				}
				pm, err = prometheus.NewConstHistogram(d, m.Count, m.Sum, buckets, values...)
			case Summary:
				qs := map[float64]float64{}
				for i, q := range m.Bounds {
					qs[q] = m.Counts[i]
				}
				pm, err = prometheus.NewConstSummary(d, m.Count, m.Sum, qs, values...)
			case Counter:
				pm, err = prometheus.NewConstMetric(d, prometheus.CounterValue, m.Value, values...)
			default:
				pm, err = prometheus.NewConstMetric(d, prometheus.GaugeValue, m.Value, values...)
			}
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, pm)
		}
		reg.MustRegister(constCollector(ms))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

type constCollector []prometheus.Metric

func (c constCollector) Describe(chan<- *prometheus.Desc) {}
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

func sampleFamilies() []*Family {
	return []*Family{
		{Name: "z_gauge", Help: "Last by name; help with a \\ backslash\nand a newline.", Type: Gauge, Metrics: []Metric{
			{Labels: []Label{{"target", "b.example"}, {"check", "spf"}}, Value: 2},
			{Labels: []Label{{"target", "a.example"}, {"check", "spf"}}, Value: -1},
			{Labels: []Label{{"target", "a.example"}, {"check", "dkim"}}, Value: 0.1 + 0.2},
			{Labels: []Label{{"target", "evil\"\n}\\"}, {"check", "x"}}, Value: 1e21},
			{Labels: []Label{{"target", "inf"}, {"check", "x"}}, Value: math.Inf(+1)},
			{Labels: []Label{{"target", "ninf"}, {"check", "x"}}, Value: math.Inf(-1)},
			{Labels: []Label{{"target", "nan"}, {"check", "x"}}, Value: math.NaN()},
			{Labels: []Label{{"target", "big"}, {"check", "x"}}, Value: 123456789},
			{Labels: []Label{{"target", "日本.example"}, {"check", "x"}}, Value: 1.5},
		}},
		{Name: "a_total", Help: "A counter.", Type: Counter, Metrics: []Metric{
			{Labels: []Label{{"code", "404"}, {"route", ""}}, Value: 3},
			{Labels: []Label{{"code", "200"}, {"route", "GET /healthz"}}, Value: 1e6},
		}},
		{Name: "m_seconds", Help: "A histogram.", Type: Histogram, Metrics: []Metric{
			{Bounds: []float64{0.05, 0.1, 1, 60}, Counts: []float64{0, 2, 2, 7}, Sum: 12.25, Count: 9},
		}},
		{Name: "s_seconds", Help: "A summary.", Type: Summary, Metrics: []Metric{
			{Bounds: []float64{0, 0.25, 0.5, 0.75, 1}, Counts: []float64{1e-05, 2e-05, 3e-05, 4e-05, 0.001}, Sum: 0.5, Count: 12},
		}},
		{Name: "no_labels", Help: "", Type: Gauge, Metrics: []Metric{{Value: 42}}},
		{Name: "empty", Help: "No series: not written.", Type: Gauge},
	}
}

// The exposition is what client_golang and expfmt wrote, byte for byte:
// order, escaping, number format, histogram and summary lines.
func TestWriteTextMatchesClientGolang(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteText(&buf, sampleFamilies()); err != nil {
		t.Fatal(err)
	}
	want := clientGolang(t, sampleFamilies())
	if buf.String() != want {
		t.Errorf("exposition differs from client_golang's\n got:\n%s\nwant:\n%s", buf.String(), want)
	}
	parse(t, buf.String())
}

func TestWriteTextDuplicateSeries(t *testing.T) {
	fams := []*Family{{Name: "x", Help: "h", Type: Gauge, Metrics: []Metric{
		{Labels: []Label{{"a", "1"}}, Value: 1}, {Labels: []Label{{"a", "1"}}, Value: 2},
	}}}
	if err := WriteText(&bytes.Buffer{}, fams); err == nil || !strings.Contains(err.Error(), "same name and label values") {
		t.Errorf("duplicate series: err = %v", err)
	}
	if err := WriteText(&bytes.Buffer{}, []*Family{{Name: "x", Type: Gauge}, {Name: "x", Type: Gauge}}); err == nil {
		t.Error("duplicate family: no error")
	}
}

// A label value that is not UTF-8 (client_golang panicked on it) is
// written with replacement characters and still parses.
func TestWriteTextInvalidUTF8(t *testing.T) {
	var buf bytes.Buffer
	fams := []*Family{{Name: "x", Help: "h", Type: Gauge, Metrics: []Metric{{Labels: []Label{{"target", "a\xffb"}}, Value: 1}}}}
	if err := WriteText(&buf, fams); err != nil {
		t.Fatal(err)
	}
	mfs := parse(t, buf.String())
	if v, ok := Value(mfs, "x", map[string]string{"target": "a\uFFFDb"}); !ok || v != 1 {
		t.Errorf("got %v %v in\n%s", v, ok, buf.String())
	}
}

// Any label value and help text makes an exposition Prometheus parses
// back to the same strings.
func FuzzWriteText(f *testing.F) {
	f.Add("example.com", "help", 1.5)
	f.Add("evil\"\n}\\", "a\\b\nc", math.Inf(-1))
	f.Add("\xff\x00", "", math.NaN())
	f.Fuzz(func(t *testing.T, value, help string, v float64) {
		var buf bytes.Buffer
		fams := []*Family{{Name: "f", Help: help, Type: Gauge, Metrics: []Metric{{Labels: []Label{{"l", value}}, Value: v}}}}
		if err := WriteText(&buf, fams); err != nil {
			t.Fatal(err)
		}
		mfs := parse(t, buf.String())
		mf := mfs["f"]
		if mf == nil || len(mf.Metric) != 1 {
			t.Fatalf("series lost:\n%s", buf.String())
		}
		if got, want := mf.Metric[0].Label[0].GetValue(), strings.ToValidUTF8(value, "\uFFFD"); got != want {
			t.Errorf("label %q came back as %q", want, got)
		}
		// The parser skips the blanks between the name and the help.
		if got, want := mf.GetHelp(), strings.TrimLeft(help, " \t"); got != want {
			t.Errorf("help %q came back as %q", help, got)
		}
		got := mf.Metric[0].GetGauge().GetValue()
		if got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Errorf("value %v came back as %v", v, got)
		}
	})
}
