package reports

import (
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

func TestMailSubject(t *testing.T) {
	doc := &Document{Status: findings.StatusWarn,
		Domains: []*Domain{{Domain: "a.example"}, {Domain: "b.example"}, {Domain: "c.example"}, {Domain: "d\x1b.example"}},
		Sources: []*Source{{Verdict: VerdictFailing}, {Verdict: VerdictAligned}}}
	tests := []struct {
		changes []state.Change
		want    string
	}{
		{nil, "deliverdoctor reports: a.example, b.example, c.example, and 1 more: 1 source failing DMARC"},
		{[]state.Change{{Target: StatePrefix + "a.example", Appeared: []state.Item{{}, {}}, Disappeared: []state.Item{{}}}},
			"deliverdoctor reports: a.example changed: 2 new, 1 resolved"},
	}
	for _, tt := range tests {
		if got := MailSubject(doc, tt.changes); got != tt.want {
			t.Errorf("MailSubject = %q, want %q", got, tt.want)
		}
	}
	if got := MailSubject(&Document{Status: findings.StatusPass}, nil); got != "deliverdoctor reports: no domains: pass" {
		t.Errorf("empty: %q", got)
	}
}
