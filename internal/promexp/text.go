package promexp

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The Prometheus text exposition format (version 0.0.4), written here
// rather than with client_golang: its packages (and procfs and protobuf
// under them) ran their init in every start of the binary, --help
// included, for a format this small. The output matches what
// client_golang's registry and expfmt's text encoder write for the same
// series, byte for byte (a test compares them).

// ContentType is the Content-Type of the text format, as promhttp sends it.
const ContentType = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"

// Metric types.
const (
	Gauge     = "gauge"
	Counter   = "counter"
	Histogram = "histogram"
	Summary   = "summary"
)

// Label is one label pair.
type Label struct{ Name, Value string }

// Family is one metric family: its series share a name, help and type.
type Family struct {
	Name, Help, Type string
	Metrics          []Metric
}

// Metric is one series of a family (for a histogram or summary, the group
// of lines of one label set).
type Metric struct {
	Labels []Label
	Value  float64 // gauge or counter
	// Histogram: cumulative counts at upper bounds (ascending); a summary
	// puts quantiles in Bounds and their values in Counts.
	Bounds []float64
	Counts []float64
	Sum    float64
	Count  uint64
}

// WriteText writes the families in the text format the way a
// client_golang registry gathers them: families sorted by name, label
// pairs by label name, series by their label values; a family with no
// series is left out. Two series of a family with the same labels are an
// error, as they are for the registry. It sorts each family's Metrics in
// place.
func WriteText(w io.Writer, fams []*Family) error {
	fams = slices.Clone(fams)
	slices.SortStableFunc(fams, func(a, b *Family) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(fams); i++ {
		if fams[i].Name == fams[i-1].Name {
			return fmt.Errorf("metric family %s given twice", fams[i].Name)
		}
	}
	for _, f := range fams {
		for i := range f.Metrics {
			m := &f.Metrics[i]
			m.Labels = slices.Clone(m.Labels)
			for j := range m.Labels {
				m.Labels[j].Value = strings.ToValidUTF8(m.Labels[j].Value, "\uFFFD")
			}
			slices.SortStableFunc(m.Labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		}
		slices.SortStableFunc(f.Metrics, func(a, b Metric) int { return compareLabels(a.Labels, b.Labels) })
		for i := 1; i < len(f.Metrics); i++ {
			if compareLabels(f.Metrics[i].Labels, f.Metrics[i-1].Labels) == 0 {
				return fmt.Errorf("collected metric %s %s was collected before with the same name and label values",
					f.Name, labelString(f.Metrics[i].Labels))
			}
		}
	}
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		if len(f.Metrics) == 0 {
			continue
		}
		bw.WriteString("# HELP " + f.Name + " ")
		writeEscaped(bw, f.Help, false)
		bw.WriteByte('\n')
		bw.WriteString("# TYPE " + f.Name + " " + f.Type + "\n")
		for _, m := range f.Metrics {
			switch f.Type {
			case Histogram:
				inf := false
				for i, ub := range m.Bounds {
					writeSample(bw, f.Name+"_bucket", m.Labels, "le", ub, m.Counts[i])
					inf = inf || math.IsInf(ub, +1)
				}
				if !inf {
					writeSample(bw, f.Name+"_bucket", m.Labels, "le", math.Inf(+1), float64(m.Count))
				}
				writeSample(bw, f.Name+"_sum", m.Labels, "", 0, m.Sum)
				writeSample(bw, f.Name+"_count", m.Labels, "", 0, float64(m.Count))
			case Summary:
				for i, q := range m.Bounds {
					writeSample(bw, f.Name, m.Labels, "quantile", q, m.Counts[i])
				}
				writeSample(bw, f.Name+"_sum", m.Labels, "", 0, m.Sum)
				writeSample(bw, f.Name+"_count", m.Labels, "", 0, float64(m.Count))
			default:
				writeSample(bw, f.Name, m.Labels, "", 0, m.Value)
			}
		}
	}
	return bw.Flush()
}

// compareLabels orders series by their label values (the names are the
// same within a family).
func compareLabels(a, b []Label) int {
	for i := range min(len(a), len(b)) {
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func labelString(ls []Label) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name + "=" + strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// writeSample writes one line; extra names a label (le, quantile) whose
// value is the float extraValue, written after the others.
func writeSample(w *bufio.Writer, name string, labels []Label, extra string, extraValue, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || extra != "" {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(l.Name + `="`)
			writeEscaped(w, l.Value, true)
			w.WriteByte('"')
		}
		if extra != "" {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(extra + `="`)
			w.WriteString(formatFloat(extraValue))
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

// writeEscaped escapes a backslash and a newline (help text), and in a
// label value also a double quote.
func writeEscaped(w *bufio.Writer, s string, quote bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			w.WriteString(`\\`)
		case c == '\n':
			w.WriteString(`\n`)
		case c == '"' && quote:
			w.WriteString(`\"`)
		default:
			w.WriteByte(c)
		}
	}
}

// formatFloat writes a value as expfmt does: shortest representation,
// and +Inf, -Inf, NaN by name.
func formatFloat(f float64) string {
	switch {
	case f == 1:
		return "1"
	case f == 0:
		return "0"
	case f == -1:
		return "-1"
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
