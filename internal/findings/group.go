package findings

import "strings"

// Group is the findings of one severity under the heading every
// presenter uses ("Failures", "Could not be determined", ...).
type Group struct {
	Sev      Severity
	Title    string
	Findings []Finding
}

// Grouped splits findings by severity, worst first; info findings only
// when verbose. A finding two checks both report (check ADDRESS --checks
// address,mx: the address check includes the MX findings) is shown once;
// the JSON report keeps each check's own.
func Grouped(fs []Finding, verbose bool) []Group {
	groups := []Group{
		{Sev: SeverityFail, Title: "Failures"}, {Sev: SeverityError, Title: "Could not be determined"},
		{Sev: SeverityWarn, Title: "Warnings"}, {Sev: SeverityInfo, Title: "Notes"},
	}
	seen := map[string]bool{}
	var out []Group
	for _, g := range groups {
		if g.Sev == SeverityInfo && !verbose {
			continue
		}
		for _, f := range fs {
			if f.Severity != g.Sev {
				continue
			}
			key := f.ID + "\x00" + f.Title + "\x00" + f.Detail + "\x00" + strings.Join(f.Evidence, "\x00")
			if !seen[key] {
				seen[key] = true
				g.Findings = append(g.Findings, f)
			}
		}
		if len(g.Findings) > 0 {
			out = append(out, g)
		}
	}
	return out
}
