// Package promexp turns reports into Prometheus gauges: the ones the serve
// command's /probe endpoint exposes (blackbox_exporter style) and the ones
// `check --format prometheus` writes for node_exporter's textfile collector.
// Both go through Collector, so a scrape and a cron file carry the same
// series for the same report.
package promexp

import (
	"encoding/json"
	"io"
	"math"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// StatusValue is the number a check or report status is exported as:
// larger is worse, and skip is below pass so "> 0" never fires for it.
func StatusValue(s findings.Status) float64 {
	switch s {
	case findings.StatusPass:
		return 0
	case findings.StatusWarn:
		return 1
	case findings.StatusFail:
		return 2
	case findings.StatusError:
		return 3
	default:
		return -1
	}
}

// Blocklist states, one series each (one-hot): a list that refused the query
// is "refused", never listed and never clean.
var blocklistStates = []string{"listed", "clean", "refused", "error", "skip"}

// DMARC policies, one series each (one-hot).
var dmarcPolicies = []string{"none", "quarantine", "reject"}

var (
	descSuccess = newDesc("deliverdoctor_probe_success",
		"1 when every check could be determined (no check has status error).", []string{"target"})
	descReport = newDesc("deliverdoctor_report_status",
		"Worst check status: -1 skip, 0 pass, 1 warn, 2 fail, 3 error.", []string{"target"})
	descDuration = newDesc("deliverdoctor_probe_duration_seconds",
		"Seconds the whole check of the target took.", []string{"target"})
	descCheck = newDesc("deliverdoctor_check_status",
		"Status of one check: -1 skip, 0 pass, 1 warn, 2 fail, 3 error.", []string{"target", "check"})
	descCheckDur = newDesc("deliverdoctor_check_duration_seconds",
		"Seconds one check took.", []string{"target", "check"})
	descFindings = newDesc("deliverdoctor_findings",
		"Findings of the report by severity.", []string{"target", "severity"})
	descBL = newDesc("deliverdoctor_blocklist_state",
		"1 for the state a blocklist answered for an address or domain (listed, clean, refused, error, skip), 0 for the others.",
		[]string{"target", "list", "zone", "checked", "state"})
	descSPFLookups = newDesc("deliverdoctor_spf_lookups",
		"DNS-querying SPF terms the record needs (RFC 7208 4.6.4 limit: 10).", []string{"target"})
	descSPFVoid = newDesc("deliverdoctor_spf_void_lookups",
		"SPF lookups that returned no records (RFC 7208 4.6.4 limit: 2).", []string{"target"})
	descDMARC = newDesc("deliverdoctor_dmarc_policy",
		"1 for the DMARC policy in force (none, quarantine, reject), 0 for the others.", []string{"target", "policy"})
	descCert = newDesc("deliverdoctor_certificate_expiry_days",
		"Days until a certificate a check saw expires (negative: expired).", []string{"target", "check", "host"})
	descSTS = newDesc("deliverdoctor_mta_sts_policy_expiry_days",
		"Days a freshly fetched MTA-STS policy stays valid (its max_age).", []string{"target"})
	descDNS = newDesc("deliverdoctor_dns_questions",
		"DNS work for the target: packets sent to servers (network), answers from --zone files (zone), answers shared from the cache (cache).",
		[]string{"target", "source"})
)

// desc names a gauge family and its labels, in the order gauge takes
// their values.
type desc struct {
	name, help string
	labels     []string
}

func newDesc(name, help string, labels []string) *desc {
	return &desc{name: name, help: help, labels: labels}
}

// Collector turns reports into gauge families. Now is the clock for
// expiry days (time.Now when nil).
type Collector struct {
	Reports []*report.Report
	Now     func() time.Time
}

// gauges collects series by family.
type gauges struct {
	fams  map[*desc]*Family
	order []*Family
}

func (g *gauges) add(d *desc, v float64, values ...string) {
	f := g.fams[d]
	if f == nil {
		f = &Family{Name: d.name, Help: d.help, Type: Gauge}
		g.fams[d] = f
		g.order = append(g.order, f)
	}
	labels := make([]Label, len(values))
	for i, v := range values {
		labels[i] = Label{d.labels[i], v}
	}
	f.Metrics = append(f.Metrics, Metric{Labels: labels, Value: v})
}

// Families returns the reports' gauges.
func (c *Collector) Families() []*Family {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	g := &gauges{fams: map[*desc]*Family{}}
	seen := map[string]bool{}
	for _, r := range c.Reports {
		if seen[r.Target] {
			continue // a target given twice: one set of series (the first)
		}
		seen[r.Target] = true
		collectReport(g, r, now)
	}
	return g.order
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func collectReport(ch *gauges, r *report.Report, now time.Time) {
	t := r.Target
	ch.add(descSuccess, bool01(r.Status != findings.StatusError && !r.HasError()), t)
	ch.add(descReport, StatusValue(r.Status), t)
	ch.add(descDuration, float64(r.DurationMS)/1000, t)
	sev := map[findings.Severity]int{findings.SeverityFail: 0, findings.SeverityError: 0, findings.SeverityWarn: 0, findings.SeverityInfo: 0}
	for _, f := range r.Findings {
		sev[f.Severity]++
	}
	for _, s := range []findings.Severity{findings.SeverityFail, findings.SeverityError, findings.SeverityWarn, findings.SeverityInfo} {
		ch.add(descFindings, float64(sev[s]), t, string(s))
	}
	if r.DNS != nil {
		ch.add(descDNS, float64(r.DNS.Sent), t, "network")
		ch.add(descDNS, float64(r.DNS.ZoneHits), t, "zone")
		ch.add(descDNS, float64(r.DNS.CacheHits), t, "cache")
	}
	for _, c := range r.Checks {
		ch.add(descCheck, StatusValue(c.Status), t, c.Name)
		ch.add(descCheckDur, float64(c.DurationMS)/1000, t, c.Name)
		data := asMap(c.Data) // through JSON: numbers are float64, lists []any
		switch c.Name {
		case "rbl":
			collectRBL(ch, t, data)
		case "spf":
			if v, ok := number(data["lookups"]); ok {
				ch.add(descSPFLookups, v, t)
			}
			if v, ok := number(data["void_lookups"]); ok {
				ch.add(descSPFVoid, v, t)
			}
		case "dmarc":
			if p, ok := data["policy"].(string); ok && p != "" {
				for _, want := range dmarcPolicies {
					ch.add(descDMARC, bool01(p == want), t, want)
				}
			}
		case "mta-sts":
			if pol, ok := data["policy"].(map[string]any); ok {
				if v, ok := number(pol["max_age"]); ok {
					ch.add(descSTS, v/86400, t)
				}
			}
		}
		seen := map[string]bool{}
		walkCerts(data, "", func(host string, notAfter time.Time) {
			if seen[host] {
				return // one series per host: the leaf, found first
			}
			seen[host] = true
			ch.add(descCert, math.Round(notAfter.Sub(now).Hours()/24*100)/100, t, c.Name, host)
		})
	}
}

func collectRBL(ch *gauges, t string, data map[string]any) {
	results, _ := data["results"].([]any)
	seen := map[[3]string]bool{}
	for _, x := range results {
		res, _ := x.(map[string]any)
		list, _ := res["list_id"].(string)
		zone, _ := res["zone"].(string)
		checked, _ := res["checked"].(string)
		k := [3]string{list, zone, checked}
		if seen[k] {
			continue
		}
		seen[k] = true
		status, _ := res["status"].(string)
		state := status
		if status == "error" && res["error_kind"] == "refused" {
			state = "refused"
		}
		for _, s := range blocklistStates {
			ch.add(descBL, bool01(s == state), t, list, zone, checked, s)
		}
	}
}

// walkCerts finds TLS summaries (objects with not_after and days_left, as
// the SMTP probe reports the leaf) in check data; host is the nearest
// server_name or host seen on the way down.
func walkCerts(v any, host string, fn func(host string, notAfter time.Time)) {
	switch x := v.(type) {
	case map[string]any:
		if h, ok := x["server_name"].(string); ok && h != "" {
			host = h
		} else if h, ok := x["host"].(string); ok && h != "" {
			host = h
		}
		if na, ok := x["not_after"].(string); ok {
			if _, leaf := x["days_left"]; leaf {
				if ts, err := time.Parse(time.RFC3339, na); err == nil && !ts.IsZero() {
					fn(host, ts)
				}
			}
		}
		for k, c := range x {
			if k != "chain" {
				walkCerts(c, host, fn)
			}
		}
	case []any:
		for _, c := range x {
			walkCerts(c, host, fn)
		}
	}
}

// asMap returns check data as generic JSON (the JSON contract is what the
// gauges read, not each package's Go types).
func asMap(v any) map[string]any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

// Render writes the reports in the Prometheus text exposition format (the
// report format "prometheus"), e.g. for node_exporter's textfile collector.
func Render(w io.Writer, reports []*report.Report, _ report.Options) error {
	return renderCollector(w, &Collector{Reports: reports})
}

func renderCollector(w io.Writer, c *Collector) error {
	return WriteText(w, c.Families())
}
