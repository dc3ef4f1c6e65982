package bounce

import (
	"slices"
	"strings"
	"testing"
)

// The 16 categories of the Mailrelay seed (seed 003), in its order.
var seedCategories = []string{"bad-configuration", "bad-connection", "bad-domain", "bad-mailbox", "content-related",
	"inactive-mailbox", "message-expired", "no-answer-from-host", "other", "policy-related", "protocol-errors",
	"quota-issues", "relaying-issues", "routing-errors", "spam-related", "virus-related"}

// Every status code of the Desk365 seed's table (seed 001).
var seedCodes = []string{"4.2.2", "4.3.2", "4.4.7", "5.0.0", "5.0.1", "5.1.1", "5.1.10", "5.1.2", "5.2.1", "5.2.2",
	"5.2.3", "5.3.0", "5.4.1", "5.4.12", "5.4.14", "5.4.300", "5.4.312", "5.4.316", "5.4.317", "5.4.4", "5.4.6",
	"5.5.0", "5.7.0", "5.7.1", "5.7.129", "5.7.133", "5.7.193", "5.7.26", "5.7.509", "5.7.54", "5.7.64", "5.7.9"}

func TestCategories(t *testing.T) {
	var got []string
	for _, c := range Categories() {
		got = append(got, c.Slug)
		if c.Action == "" || c.SeedAction == "" || c.Description == "" {
			t.Errorf("%s: incomplete", c.Slug)
		}
	}
	if !slices.Equal(got, seedCategories) {
		t.Errorf("categories %v, want the seed's %v", got, seedCategories)
	}
}

func TestSeedCodesKnown(t *testing.T) {
	for _, c := range seedCodes {
		if !Known(c) {
			t.Errorf("seed code %s is not in the knowledge base", c)
		}
		e, ok := Lookup(c)
		if !ok || !e.Exact {
			t.Errorf("Lookup(%s) = %+v, %v: want an exact entry", c, e, ok)
		}
	}
}

// TestRegistryCodesKnown: every RFC 3463 class/subject/detail code and the
// later registry additions, in both failure classes where they are used.
func TestRegistryCodesKnown(t *testing.T) {
	details := map[int]int{0: 0, 1: 10, 2: 4, 3: 6, 4: 7, 5: 6, 6: 10, 7: 30}
	for s, max := range details {
		for d := 0; d <= max; d++ {
			for _, class := range []int{4, 5} {
				code := Code{class, s, d}.String()
				e, ok := Lookup(code)
				if !ok || !e.Exact {
					// Some are only meaningful as permanent or transient.
					if g := kb().generic[[2]int{s, d}]; g != nil && !slices.Contains(g.Classes, class) {
						continue
					}
					t.Errorf("%s: no entry", code)
				}
			}
		}
	}
	for _, c := range []string{"5.7.20", "5.7.21", "5.7.22", "5.7.23", "5.7.24", "5.7.25", "5.7.26", "5.7.27", "5.1.10", "5.7.30", "4.7.24"} {
		if !Known(c) {
			t.Errorf("%s not known", c)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		code, provider               string
		kbCode, category, sesType    string
		hard, permanent, exact       bool
		checks                       []string
		disposition, meaningContains string
	}{
		{"5.7.26", "", "X.7.26", "policy-related", "Transient", false, true, true, []string{"spf", "dkim", "dmarc"}, "fix-setup", "more than one authentication check"},
		{"5.7.26", "gmail", "5.7.26", "policy-related", "Transient", false, true, true, []string{"spf", "dkim", "dmarc"}, "fix-setup", "Gmail requires"},
		{"550 5.7.26 Unauthenticated email", "", "X.7.26", "policy-related", "Transient", false, true, true, nil, "fix-setup", ""},
		{"5.7.27", "", "X.7.27", "policy-related", "Transient", false, true, true, []string{"mx"}, "fix-setup", "null MX"},
		{"5.7.27", "google", "5.7.27", "policy-related", "Transient", false, true, true, []string{"spf"}, "fix-setup", "SPF did not pass"},
		{"5.7.509", "", "5.7.509", "policy-related", "Transient", false, true, true, []string{"dmarc", "spf", "dkim"}, "fix-setup", "DMARC"},
		{"5.7.1", "microsoft", "5.7.1", "policy-related", "Transient", false, true, true, []string{"rbl", "relay"}, "fix-setup", ""},
		{"5.7.1", "", "X.7.1", "policy-related", "Transient", false, true, true, []string{"rbl", "relay", "spf", "dmarc"}, "fix-setup", ""},
		{"5.7.25", "", "X.7.25", "policy-related", "Transient", false, true, true, []string{"ptr"}, "fix-setup", "PTR"},
		{"5.4.4", "", "X.4.4", "routing-errors", "Transient", false, true, true, []string{"mx"}, "retry", ""},
		{"5.1.1", "", "X.1.1", "bad-mailbox", "Permanent", true, true, true, nil, "suppress", "does not exist"},
		{"4.1.1", "", "X.1.1", "bad-mailbox", "Transient", false, false, true, nil, "retry", ""},
		{"5.2.2", "", "X.2.2", "quota-issues", "Transient", false, true, true, nil, "retry", "over its storage quota"},
		{"5.1.10", "", "X.1.10", "bad-domain", "Permanent", true, true, true, []string{"mx"}, "suppress", "null MX"},
		{"5.1.10", "microsoft", "5.1.10", "bad-mailbox", "Permanent", true, true, true, nil, "suppress", "does not exist"},
		{"5.7.640", "", "5.7.606-5.7.649", "spam-related", "Transient", false, true, true, []string{"rbl"}, "fix-setup", "block list"},
		{"5.7.999", "", "X.7.0", "policy-related", "Transient", false, true, false, nil, "fix-setup", ""},
		{"5.9.9", "", "X.0.0", "other", "Undetermined", false, true, false, nil, "retry", ""},
		{"5.0.911", "", "X.0.0", "other", "Undetermined", false, true, true, nil, "retry", ""}, // Sisimai's made-up code = no detail
		{"TSS04", "", "TSS04", "spam-related", "Transient", false, false, true, []string{"rbl", "dmarc"}, "fix-setup", "Yahoo"},
		{"[TSS04]", "", "TSS04", "spam-related", "Transient", false, false, true, nil, "fix-setup", ""},
		{"Permanent/Suppressed", "", "Permanent/Suppressed", "bad-mailbox", "Permanent", true, true, true, nil, "suppress", "suppression list"},
		{"transient/mailboxfull", "", "Transient/MailboxFull", "quota-issues", "Transient", false, false, true, nil, "retry", ""},
		{"5.7.9", "yahoo", "5.7.9", "policy-related", "Transient", false, true, true, []string{"dmarc", "spf", "dkim"}, "fix-setup", "Yahoo"},
		{"5.7.9", "", "X.7.9", "relaying-issues", "Transient", false, true, true, nil, "fix-setup", "weaker"},
	}
	for _, tt := range tests {
		e, ok := Lookup(tt.code, tt.provider)
		if !ok {
			t.Errorf("Lookup(%q, %q): not found", tt.code, tt.provider)
			continue
		}
		if e.KBCode != tt.kbCode || e.Category != tt.category || e.SESType != tt.sesType || e.Hard != tt.hard ||
			e.Permanent != tt.permanent || e.Exact != tt.exact || e.Disposition != tt.disposition {
			t.Errorf("Lookup(%q, %q) = kb %s cat %s ses %s hard %v perm %v exact %v disp %s", tt.code, tt.provider,
				e.KBCode, e.Category, e.SESType, e.Hard, e.Permanent, e.Exact, e.Disposition)
		}
		if tt.checks != nil && !slices.Equal(e.Checks, tt.checks) {
			t.Errorf("Lookup(%q, %q).Checks = %v, want %v", tt.code, tt.provider, e.Checks, tt.checks)
		}
		if !strings.Contains(e.Meaning, tt.meaningContains) {
			t.Errorf("Lookup(%q, %q).Meaning = %q", tt.code, tt.provider, e.Meaning)
		}
		if e.Action == "" || e.Source == "" || e.Title == "" {
			t.Errorf("Lookup(%q): empty action/source/title", tt.code)
		}
	}
	for _, bad := range []string{"", "hello", "9.9.9", "5.7", "5.7.26.1", "550"} {
		if e, ok := Lookup(bad); ok && bad != "550" {
			t.Errorf("Lookup(%q) = %+v, want not found", bad, e)
		}
	}
}

// TestEntriesComplete: every entry has a source, and the data agrees with
// itself (hard only for the address categories).
func TestEntriesComplete(t *testing.T) {
	n := 0
	for _, e := range Entries() {
		n++
		if e.Source == "" || e.Meaning == "" || e.Title == "" || e.Action == "" {
			t.Errorf("%s (%s): incomplete", e.KBCode, e.Provider)
		}
		cat, _ := CategoryBySlug(e.Category)
		if e.Hard && !cat.Hard && e.Provider != "ses" { // SES types carry their own verdict
			t.Errorf("%s: hard in category %s", e.KBCode, e.Category)
		}
		if e.Hard != (e.SESType == "Permanent") {
			t.Errorf("%s: hard %v but SES type %s", e.KBCode, e.Hard, e.SESType)
		}
	}
	if n < 160 {
		t.Errorf("only %d entries", n)
	}
}

// TestBothDirections: CodesForCheck and the entries' checks are one table
// seen from two sides; a finding that names bounce codes can be checked
// against either.
func TestBothDirections(t *testing.T) {
	total := 0
	for _, check := range CheckNames {
		for _, code := range CodesForCheck(check) {
			total++
			if !Known(code) {
				t.Errorf("CodesForCheck(%s) lists %s, which is not Known", check, code)
			}
			if !slices.Contains(ChecksForCode(code), check) {
				t.Errorf("CodesForCheck(%s) lists %s but ChecksForCode(%s) = %v", check, code, code, ChecksForCode(code))
			}
		}
	}
	for _, e := range Entries() {
		for _, check := range e.Checks {
			if !slices.Contains(CodesForCheck(check), e.Code) {
				t.Errorf("%s (%s) names check %s but CodesForCheck(%s) lacks it", e.Code, e.Provider, check, check)
			}
		}
	}
	// docs/contracts.md's examples.
	for check, code := range map[string]string{"spf": "5.7.23", "dkim": "5.7.20", "dmarc": "5.7.509", "mx": "5.4.4", "ptr": "5.7.25", "rbl": "5.7.1", "relay": "5.7.1"} {
		if !slices.Contains(CodesForCheck(check), code) {
			t.Errorf("CodesForCheck(%s) lacks %s", check, code)
		}
	}
	if !slices.Contains(CodesForCheck("mx"), "5.7.27") || !slices.Contains(CodesForCheck("mx"), "5.1.8") {
		t.Errorf("mx: docs/contracts.md names 5.7.27 and 5.1.8: %v", CodesForCheck("mx"))
	}
	if total < 50 {
		t.Errorf("only %d code-check links", total)
	}
}

func TestParseCode(t *testing.T) {
	good := map[string]string{"5.7.26": "5.7.26", "4.02.2": "4.2.2", "2.0.0": "2.0.0", " 5.1.1 ": "5.1.1", "5.7.606": "5.7.606"}
	for in, want := range good {
		c, err := ParseCode(in)
		if err != nil || c.String() != want {
			t.Errorf("ParseCode(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, in := range []string{"", "3.1.1", "5.1", "5.1.1.1", "5.a.1", "5.1234.1", "55.1.1", "5..1", "-5.1.1"} {
		if _, err := ParseCode(in); err == nil {
			t.Errorf("ParseCode(%q): no error", in)
		}
	}
}

func TestClassifyText(t *testing.T) {
	tests := map[string]string{
		"Mailbox full":                                           "quota-issues",
		"552 sorry, over quota":                                  "quota-issues",
		"550 User unknown in local recipient table":              "bad-mailbox",
		"No such user here":                                      "bad-mailbox",
		"Client host [192.0.2.1] blocked using zen.spamhaus.org": "spam-related",
		"SPF check failed":                                       "policy-related",
		"Unauthenticated email is not accepted due to domain's DMARC policy": "policy-related",
		"Message size exceeds fixed maximum message size":                    "content-related",
		"Relay access denied":                       "relaying-issues",
		"Host unknown":                              "bad-domain",
		"Connection timed out":                      "no-answer-from-host",
		"Virus found in attachment":                 "virus-related",
		"account has been disabled":                 "inactive-mailbox",
		"Hop count exceeded - possible mail loop":   "routing-errors",
		"Sender address rejected: Domain not found": "policy-related",
		"the weather is fine":                       "",
	}
	for in, want := range tests {
		if got := ClassifyText(in); got != want {
			t.Errorf("ClassifyText(%q) = %q, want %q", in, got, want)
		}
	}
}
