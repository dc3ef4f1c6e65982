package reports

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
)

// genAggregate writes a report the size of a typical Gmail or Microsoft
// one (rows rows, about 700 bytes each).
func genAggregate(org string, id, rows int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>%s</org_name>
    <email>noreply-dmarc-support@%s</email>
    <report_id>%d</report_id>
    <date_range><begin>1700000000</begin><end>1700086399</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
`, org, org, id)
	for r := range rows {
		fmt.Fprintf(&b, `  <record>
    <row>
      <source_ip>198.51.%d.%d</source_ip>
      <count>%d</count>
      <policy_evaluated><disposition>none</disposition><dkim>%s</dkim><spf>pass</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from><envelope_from>example.com</envelope_from></identifiers>
    <auth_results>
      <dkim><domain>example.com</domain><selector>s%d</selector><result>pass</result></dkim>
      <spf><domain>example.com</domain><scope>mfrom</scope><result>pass</result></spf>
    </auth_results>
  </record>
`, r/250, r%250, r+1, map[bool]string{true: "pass", false: "fail"}[r%4 != 0], r%3)
	}
	b.WriteString("</feedback>\n")
	return []byte(b.String())
}

// cpuTime is the process's user+system CPU time: on a shared machine the
// wall clock measures the neighbours, CPU time measures us.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDirectory reads a directory of typical aggregate reports (3
// rows each) offline, the way `reports DIR --offline` does, and reports
// reports/s.
func BenchmarkDirectory(b *testing.B) {
	dir := b.TempDir()
	const files = 2000
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("google.com!example.com!%d.xml", i)), genAggregate("google.com", i, 3), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for range b.N {
		bl := NewBuilder()
		st, err := dmarcreport.Walk(context.Background(), dmarcreport.PathSource([]string{dir}, nil, 1<<26), dmarcreport.DefaultLimits, 0,
			dmarcreport.Visitor{Report: func(r *dmarcreport.Report) error { bl.Add(r); return nil }, Error: bl.AddError})
		if err != nil || st.Reports != files {
			b.Fatalf("%v, %d reports", err, st.Reports)
		}
		bl.Finish(context.Background(), Options{})
	}
	b.ReportMetric(float64(files*b.N)/time.Since(start).Seconds(), "reports/s")
	b.ReportMetric(float64(files*b.N)/(cpuTime()-cpu0).Seconds(), "reports/cpu-s")
}

// Benchmark1MBReport parses and sums one report of about 1 MB (1,800
// rows).
func Benchmark1MBReport(b *testing.B) {
	data := genAggregate("outlook.com", 1, 1800)
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op") }()
	for range b.N {
		x := dmarcreport.Extract("big.xml", data, dmarcreport.DefaultLimits)
		if len(x.Reports) != 1 || len(x.Reports[0].Aggregate.Rows) != 1800 {
			b.Fatal("not parsed")
		}
		bl := NewBuilder()
		bl.Add(x.Reports[0])
		bl.Finish(context.Background(), Options{})
	}
}

// TestBigReportTotals: the generated 1 MB report sums right (the
// benchmark measures something correct).
func TestBigReportTotals(t *testing.T) {
	data := genAggregate("outlook.com", 1, 1800)
	if len(data) < 900<<10 {
		t.Fatalf("only %d bytes", len(data))
	}
	a, err := dmarcreport.ParseAggregate(data)
	if err != nil {
		t.Fatal(err)
	}
	var want, pass int64
	for r := range 1800 {
		want += int64(r + 1)
		if r%4 != 0 {
			pass += int64(r + 1)
		}
	}
	// spf=pass on every row: every row passes DMARC.
	if a.Messages() != want || a.DMARCPassMessages() != want || pass >= want {
		t.Errorf("messages %d pass %d, want %d", a.Messages(), a.DMARCPassMessages(), want)
	}
}
