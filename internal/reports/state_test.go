package reports

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

// TestStateReports: the state keys a finding by domain, ID and source IP or
// MX, not by counts: more mail from the same failing source is no change,
// a new failing source is one, and a source gone is resolved.
func TestStateReports(t *testing.T) {
	st, err := state.Load(t.TempDir() + "/none.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	srv := dnstest.Start(t, zoneText)
	opts := Options{Resolver: srv.Client(t)}
	doc := sample().Finish(context.Background(), opts)
	reps := doc.StateReports()
	if len(reps) != 1 || reps[0].Target != "reports:example.com" {
		t.Fatalf("reports %+v", reps)
	}
	var titles []string
	for _, f := range reps[0].Findings {
		titles = append(titles, f.ID+" "+f.Title)
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{"reports.source-failing 198.51.100.20 sends as example.com and fails DMARC",
		"reports.tls-failures TLS sessions to mx1.example.com fail for example.com: certificate-expired"} {
		if !strings.Contains(all, want) {
			t.Errorf("state lacks %q:\n%s", want, all)
		}
	}
	if ch := st.Update(reps, now); len(ch) != 1 {
		t.Fatalf("first run: %+v", ch)
	}

	// A week later: more mail from the same sources.
	b := sample()
	b.Add(aggReport("outlook.com", "o1", "none",
		rowSpec{"198.51.100.20", 77, "fail", "fail", "bounce.esp.example.net", "bounce.esp.example.net", "pass", "esp.example.net", "esp1", "pass"}))
	if ch := st.Update(b.Finish(context.Background(), opts).StateReports(), now); len(ch) != 0 {
		t.Errorf("counts changing is a change: %+v", ch)
	}

	// A new failing source appears.
	b = sample()
	b.Add(aggReport("outlook.com", "o2", "none",
		rowSpec{"198.51.100.99", 5, "fail", "fail", "bounce.esp.example.net", "bounce.esp.example.net", "pass", "esp.example.net", "esp1", "pass"}))
	ch := st.Update(b.Finish(context.Background(), opts).StateReports(), now)
	if len(ch) != 1 || len(ch[0].Appeared) != 1 || len(ch[0].Disappeared) != 0 || !strings.Contains(ch[0].Appeared[0].Title, "198.51.100.99") {
		t.Errorf("new failing source: %+v", ch)
	}
	// ... and is fixed again.
	ch = st.Update(sample().Finish(context.Background(), opts).StateReports(), now)
	if len(ch) != 1 || len(ch[0].Disappeared) != 1 || !strings.Contains(ch[0].Disappeared[0].Title, "198.51.100.99") {
		t.Errorf("fixed source: %+v", ch)
	}
}
