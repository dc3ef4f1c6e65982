package promexp

import (
	"bytes"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

func sampleReport() *report.Report {
	r := &report.Report{Target: "example.com", Kind: "domain", DurationMS: 1500,
		DNS: &report.DNSStats{Sent: 7, ZoneHits: 3, CacheHits: 2},
		Checks: []findings.CheckResult{
			{Name: "spf", Status: findings.StatusWarn, Data: map[string]any{"lookups": 9, "void_lookups": 1},
				Findings: []findings.Finding{{ID: "spf.near-limit", Severity: findings.SeverityWarn, Title: "near"}}},
			{Name: "dmarc", Status: findings.StatusPass, Data: map[string]any{"policy": "quarantine"}},
			{Name: "rbl", Status: findings.StatusError, Data: map[string]any{"results": []map[string]any{
				{"list_id": "a", "zone": "a.example", "checked": "192.0.2.1", "status": "listed"},
				{"list_id": "b", "zone": "b.example", "checked": "192.0.2.1", "status": "clean"},
				{"list_id": "c", "zone": "c.example", "checked": "192.0.2.1", "status": "error", "error_kind": "refused"},
				{"list_id": "d", "zone": "d.example", "checked": "192.0.2.1", "status": "error", "error_kind": "dns"},
			}}},
			{Name: "mta-sts", Status: findings.StatusPass, Data: map[string]any{"policy": map[string]any{"max_age": 604800}}},
			{Name: "smtp", Status: findings.StatusPass, Data: map[string]any{"hosts": []any{map[string]any{"host": "mx1.example.com",
				"tls": map[string]any{"server_name": "mx1.example.com", "not_after": "2027-01-03T12:00:00Z", "days_left": 30,
					"chain": []any{map[string]any{"not_after": "2030-01-01T00:00:00Z"}}}}}}},
		}}
	r.Finalize([]string{"spf", "dmarc", "rbl", "smtp", "mta-sts"})
	return r
}

// parse reads an exposition the way Prometheus does.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return mfs
}

// Value returns the gauge value of the series with these labels.
func Value(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func TestRenderGauges(t *testing.T) {
	var buf bytes.Buffer
	c := &Collector{Reports: []*report.Report{sampleReport()}, Now: func() time.Time { return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) }}
	if err := renderCollector(&buf, c); err != nil {
		t.Fatal(err)
	}
	mfs := parse(t, buf.String())
	tgt := "example.com"
	cases := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"deliverdoctor_probe_success", map[string]string{"target": tgt}, 0},
		{"deliverdoctor_report_status", map[string]string{"target": tgt}, 3},
		{"deliverdoctor_check_status", map[string]string{"check": "spf"}, 1},
		{"deliverdoctor_check_status", map[string]string{"check": "dmarc"}, 0},
		{"deliverdoctor_spf_lookups", nil, 9},
		{"deliverdoctor_spf_void_lookups", nil, 1},
		{"deliverdoctor_dmarc_policy", map[string]string{"policy": "quarantine"}, 1},
		{"deliverdoctor_dmarc_policy", map[string]string{"policy": "reject"}, 0},
		{"deliverdoctor_blocklist_state", map[string]string{"list": "a", "state": "listed"}, 1},
		{"deliverdoctor_blocklist_state", map[string]string{"list": "b", "state": "clean"}, 1},
		{"deliverdoctor_blocklist_state", map[string]string{"list": "b", "state": "listed"}, 0},
		// A refusal is its own state: neither listed nor clean.
		{"deliverdoctor_blocklist_state", map[string]string{"list": "c", "state": "refused"}, 1},
		{"deliverdoctor_blocklist_state", map[string]string{"list": "c", "state": "listed"}, 0},
		{"deliverdoctor_blocklist_state", map[string]string{"list": "c", "state": "clean"}, 0},
		{"deliverdoctor_blocklist_state", map[string]string{"list": "d", "state": "error"}, 1},
		{"deliverdoctor_blocklist_state", map[string]string{"list": "d", "state": "refused"}, 0},
		{"deliverdoctor_mta_sts_policy_expiry_days", nil, 7},
		{"deliverdoctor_certificate_expiry_days", map[string]string{"check": "smtp", "host": "mx1.example.com"}, 30},
		{"deliverdoctor_dns_questions", map[string]string{"source": "network"}, 7},
		{"deliverdoctor_probe_duration_seconds", nil, 1.5},
		{"deliverdoctor_findings", map[string]string{"severity": "warn"}, 1},
	}
	for _, c := range cases {
		got, ok := Value(mfs, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if n := len(mfs["deliverdoctor_certificate_expiry_days"].GetMetric()); n != 1 {
		t.Errorf("certificate series = %d, want 1 (the leaf, not the chain)", n)
	}
}

// The format as the command wires it (cmd/deliverdoctor registers it).
func TestRenderFormat(t *testing.T) {
	report.Register("prometheus", Render)
	var buf bytes.Buffer
	if err := report.Render(&buf, "prometheus", []*report.Report{sampleReport()}, report.Options{}); err != nil {
		t.Fatal(err)
	}
	mfs := parse(t, buf.String())
	if _, ok := Value(mfs, "deliverdoctor_check_status", map[string]string{"check": "rbl"}); !ok {
		t.Fatalf("no rbl status in\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "# HELP deliverdoctor_blocklist_state") {
		t.Error("no HELP line")
	}
}

func TestHostileLabels(t *testing.T) {
	r := &report.Report{Target: "evil\"\n}example.com", Checks: []findings.CheckResult{{Name: "rbl", Status: findings.StatusFail,
		Data: map[string]any{"results": []any{map[string]any{"list_id": "x\"}\n", "zone": "z", "checked": "\\", "status": "listed"}}}}}}
	r.Finalize(nil)
	var buf bytes.Buffer
	if err := Render(&buf, []*report.Report{r}, report.Options{}); err != nil {
		t.Fatal(err)
	}
	mfs := parse(t, buf.String())
	if v, ok := Value(mfs, "deliverdoctor_blocklist_state", map[string]string{"list": "x\"}\n", "state": "listed"}); !ok || v != 1 {
		t.Errorf("hostile label lost: %v %v\n%s", v, ok, buf.String())
	}
}

// A target given twice in a batch still makes a valid exposition.
func TestDuplicateTargets(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, []*report.Report{sampleReport(), sampleReport()}, report.Options{}); err != nil {
		t.Fatal(err)
	}
	parse(t, buf.String())
}
