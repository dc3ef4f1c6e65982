package serve

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/receive"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// TestReceivedPage: with serve --receive, the messages the receiver judged
// appear on a page (newest first, each provider's outcome and reply, the
// findings) and in the API; everything in them came from a stranger's
// message, so it is escaped. Without a receiver both are 404.
func TestReceivedPage(t *testing.T) {
	mk := func(id, subject string, outcome string) *receive.Report {
		rep := &report.Report{Schema: report.Schema, Target: "sender.example", Kind: "message", Status: findings.StatusFail,
			Checks: []findings.CheckResult{{Name: "dmarc", Status: findings.StatusFail, Summary: "DMARC fails: <b>not aligned</b>"}},
			Findings: []findings.Finding{{ID: "dmarc.fail", Check: "dmarc", Severity: findings.SeverityFail,
				Title: "DMARC fails for sender.example", BounceCodes: []string{"5.7.26"}}}}
		return &receive.Report{Report: rep, ID: id,
			Envelope: receive.Envelope{ClientIP: "192.0.2.10", HELO: "mta.sender.example", MailFrom: "bounce@sender.example"},
			Message:  receive.MessageInfo{From: "news@sender.example", Subject: subject},
			Verdicts: []receive.Verdict{{Provider: "gmail", Outcome: outcome, Codes: []string{"5.7.26"}, Reply: "550-5.7.26 Unauthenticated email"}}}
	}
	list := []*receive.Report{mk("1", "first <script>alert(1)</script>", "reject"), mk("2", "second", "accept")}
	_, ts := newServer(t, func(c *Config) { c.Received = func() []*receive.Report { return list } })

	resp, body := getURL(t, ts.URL+"/received")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"Received test messages", "550-5.7.26 Unauthenticated email", "DMARC fails for sender.example",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "bounce@sender.example", `href="/received" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<b>not aligned") {
		t.Error("a message's text reached the page unescaped")
	}
	if i, j := strings.Index(body, "second"), strings.Index(body, "first"); i < 0 || j < 0 || i > j {
		t.Error("newest message is not first")
	}

	resp, body = getURL(t, ts.URL+"/api/v1/received")
	var doc struct {
		Reports []struct {
			ID       string `json:"id"`
			Kind     string `json:"kind"`
			Verdicts []struct{ Provider, Outcome string }
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
	}
	if len(doc.Reports) != 2 || doc.Reports[0].ID != "1" || doc.Reports[0].Kind != "message" || doc.Reports[0].Verdicts[0].Outcome != "reject" {
		t.Errorf("api: %+v", doc)
	}

	_, plain := newServer(t, nil)
	for _, path := range []string{"/received", "/api/v1/received"} {
		if resp, _ := getURL(t, plain.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s without a receiver: status %d", path, resp.StatusCode)
		}
	}
	if _, body := getURL(t, plain.URL+"/"); strings.Contains(body, `href="/received"`) {
		t.Error("the nav links to /received without a receiver")
	}
}
