package findings

import "testing"

// Two checks reporting the same finding (the address check includes the
// MX findings) show it once in the grouped list; a finding with the same
// ID but other evidence is a different finding and stays.
func TestGroupFindingsOnce(t *testing.T) {
	f := Finding{ID: "mx.private-address", Check: "mx", Severity: SeverityWarn, Title: "private", Evidence: []string{"mx1 → 192.0.2.25"}}
	g := f
	g.Check = "address"
	other := f
	other.Evidence = []string{"mx2 → 192.0.2.26"}
	groups := Grouped([]Finding{f, g, other}, false)
	if len(groups) != 1 || len(groups[0].Findings) != 2 {
		t.Fatalf("groups %+v, want one group of 2 findings", groups)
	}
	if groups[0].Findings[0].Check != "mx" || groups[0].Findings[1].Evidence[0] != "mx2 → 192.0.2.26" {
		t.Errorf("kept %+v", groups[0].Findings)
	}
}
