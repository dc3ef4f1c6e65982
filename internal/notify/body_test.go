package notify

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

func TestComposeBody(t *testing.T) {
	cfg := &Config{Server: "127.0.0.1:25", From: "dd@example.com", To: []string{"a@example.com"}}
	changes := []state.Change{{Target: "reports:example.com", Appeared: []state.Item{{ID: "reports.source-failing", Severity: findings.SeverityFail, Title: "<b>198.51.100.21</b> fails"}}}}
	page := []byte("<!DOCTYPE html><html><head></head><body style=\"x\"><h1>R</h1></body></html>")
	msg, err := ComposeBody(cfg, "s", Body{Text: []byte("TEXT BODY"), HTML: page}, changes, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Undo quoted-printable's soft breaks and =3D to read the parts.
	s := strings.NewReplacer("=\r\n", "", "=3D", "=").Replace(string(msg))
	// The changes come first in both parts, escaped in the html, inside
	// the page's body; no attachment without one.
	if !strings.Contains(s, "What changed since the last run:") || !strings.Contains(s, "&lt;b&gt;198.51.100.21&lt;/b&gt;") ||
		strings.Index(s, "<body style=\"x\">") > strings.Index(s, "What changed since the last run</div>") ||
		strings.Contains(s, "multipart/mixed") {
		t.Errorf("message:\n%s", s)
	}
	// An attachment over its budget is dropped, one within it rides along.
	big := bytes.Repeat([]byte{1}, AttachmentBudget+1)
	msg, _ = ComposeBody(cfg, "s", Body{Text: []byte("t"), HTML: []byte("<p>h</p>"), Attach: big}, nil, time.Now())
	if bytes.Contains(msg, []byte("multipart/mixed")) {
		t.Error("attachment over the budget sent")
	}
	msg, _ = ComposeBody(cfg, "s", Body{Text: []byte("t"), HTML: []byte("<p>h</p>"), Attach: []byte("gz"), AttachName: "reports.json.gz"}, nil, time.Now())
	if !bytes.Contains(msg, []byte("multipart/mixed")) || !bytes.Contains(msg, []byte("reports.json.gz")) {
		t.Errorf("attachment missing:\n%s", msg)
	}
}
