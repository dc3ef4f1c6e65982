package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sample is a report with hostile network-derived strings in every field a
// renderer prints.
func sample() *Report {
	r := &Report{
		Target: "example.com", Kind: "domain", DurationMS: 312,
		Notes: []string{"checked the domain of bob@example.com"},
		Checks: []CheckResult{
			{Name: "spf", Status: StatusFail, Summary: "SPF needs 14 lookups", Data: map[string]any{"record": "v=spf1 include:a include:b -all"},
				Findings: []Finding{{ID: "spf.too-many-lookups", Check: "spf", Severity: SeverityFail,
					Title:       "SPF needs 14 DNS lookups; the limit is 10",
					Detail:      "Receivers stop at 10 and return permerror.",
					Evidence:    []string{"v=spf1 include:_spf.a.example include:_spf.b.example -all (example.com TXT)"},
					BounceCodes: []string{"5.7.23", "5.7.26", "5.7.509"},
					Fix:         "Remove or flatten includes.", Refs: []string{"RFC 7208 4.6.4"}}}},
			{Name: "mx", Status: StatusPass, Summary: "2 MX host(s), 2 resolve", Data: map[string]any{}},
			{Name: "dmarc", Status: StatusWarn, Summary: "p=none | <b>bold</b>", Data: map[string]any{},
				Findings: []Finding{{ID: "dmarc.policy-none", Check: "dmarc", Severity: SeverityWarn,
					Title:    "DMARC policy is p=none",
					Evidence: []string{"v=DMARC1; p=none; rua=mailto:x@example.com <script>alert(1)</script> \x1b[31m`tick`|pipe"},
					Fix:      "Move to p=quarantine, then p=reject."}, {ID: "dmarc.legacy-tag", Check: "dmarc", Severity: SeverityInfo, Title: "pct= is ignored by RFC 9989 receivers"}}},
			{Name: "rbl", Status: StatusError, Summary: "2 lists did not answer", Data: map[string]any{},
				Findings: []Finding{{ID: "rbl.dns-error", Check: "rbl", Severity: SeverityError, Title: "=cmd|' /C calc'!A0 did not answer"}}},
		},
	}
	r.Finalize([]string{"mx", "spf", "dkim", "dmarc", "rbl"})
	return r
}

func TestGolden(t *testing.T) {
	for _, format := range Formats() {
		for _, verbose := range []bool{false, true} {
			name := format
			if verbose {
				name += "-verbose"
			}
			t.Run(name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Render(&buf, format, []*Report{sample()}, Options{Verbose: verbose}); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", name+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%s output differs from %s:\n%s", format, golden, buf.String())
				}
				if format != "json" && format != "jsonl" && bytes.ContainsAny(buf.Bytes(), "\x1b") {
					t.Errorf("%s output holds a raw ESC", format)
				}
			})
		}
	}
}

func TestOrderAndStatus(t *testing.T) {
	r := sample()
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "mx,spf,dmarc,rbl" {
		t.Errorf("order %v", names)
	}
	if r.Status != StatusFail {
		t.Errorf("status %s: fail outranks error", r.Status)
	}
	if r.Findings[0].Severity != SeverityFail {
		t.Errorf("findings not worst first: %v", r.Findings[0])
	}
}

func TestExitCode(t *testing.T) {
	mk := func(sts ...Status) *Report {
		r := &Report{}
		for _, s := range sts {
			r.Checks = append(r.Checks, CheckResult{Name: "x", Status: s})
		}
		r.Finalize(nil)
		return r
	}
	tests := []struct {
		r      *Report
		failOn Status
		want   int
	}{
		{mk(StatusPass, StatusSkip), StatusFail, 0},
		{mk(StatusPass, StatusWarn), StatusFail, 0},
		{mk(StatusPass, StatusWarn), StatusWarn, 1},
		{mk(StatusFail), StatusFail, 1},
		{mk(StatusError, StatusPass), StatusFail, 3},
		{mk(StatusError, StatusWarn), StatusWarn, 1},
		{mk(StatusError, StatusFail), StatusFail, 1},
	}
	for i, tt := range tests {
		if got := ExitCode([]*Report{tt.r}, tt.failOn); got != tt.want {
			t.Errorf("%d: exit %d, want %d", i, got, tt.want)
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, "html", []*Report{sample()}, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>bold") {
		t.Error("network-derived markup reached the HTML unescaped")
	}
	if !strings.Contains(out, "&lt;script&gt;") {
		t.Error("escaped script tag not shown")
	}
}

func TestCSVInjection(t *testing.T) {
	var buf bytes.Buffer
	r := sample()
	r.Target = "=HYPERLINK(\"http://x\")"
	if err := Render(&buf, "csv", []*Report{r}, Options{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !strings.HasPrefix(rows[1][0], "'=") {
		t.Errorf("rows %q", rows)
	}
	if got := strings.Join(rows[0], ","); got != "target,kind,status,fails,warnings,errors,duration_ms,mx,spf,dmarc,rbl,findings" {
		t.Errorf("header %s", got)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, "json", []*Report{sample()}, Options{}); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != Schema || len(back.Findings) != 4 || back.Findings[0].BounceCodes[0] != "5.7.23" {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func TestMarkdownEscape(t *testing.T) {
	if got := MarkdownEscape("a|b*c<d>\x1b"); got != `a\|b\*c\<d\>\\x1b` {
		t.Errorf("got %q", got)
	}
	if got := mdCode("has `tick`"); got != "``has `tick```" && got != "`` has `tick` ``" {
		t.Errorf("mdCode %q", got)
	}
}

// TestColourOnlyOnStatusCells: colour goes to the status cell, never to
// text that happens to spell a status (a summary saying " FAIL ").
func TestColourOnlyOnStatusCells(t *testing.T) {
	r := &Report{Target: "example.com", Kind: "domain", Checks: []CheckResult{
		{Name: "spf", Status: StatusPass, Summary: "receivers say FAIL when the record is gone"},
		{Name: "mx", Status: StatusFail, Summary: "null MX"},
	}}
	r.Finalize(nil)
	var b strings.Builder
	if err := TextReport(&b, r, Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "say FAIL when") {
		t.Errorf("the summary was painted:\n%q", out)
	}
	if !strings.Contains(out, Paint(true, StatusFail, "FAIL")) || !strings.Contains(out, Paint(true, StatusPass, "PASS")) {
		t.Errorf("the status cells are not painted:\n%q", out)
	}
	var plain strings.Builder
	if err := TextReport(&plain, r, Options{}); err != nil {
		t.Fatal(err)
	}
	strip := strings.NewReplacer("\x1b[32m", "", "\x1b[31;1m", "", "\x1b[0m", "", "\x1b[2m", "")
	if strip.Replace(out) != plain.String() {
		t.Errorf("colour changed the layout:\n%s\n%s", strip.Replace(out), plain.String())
	}
}

// TestHTMLCodeSpans (issue 22): backticks in our texts become <code> in
// HTML; the content stays escaped.
func TestHTMLCodeSpans(t *testing.T) {
	r := sample()
	r.Findings[0].Fix = "Run `deliverdoctor headers <MSG>.eml` and check; a lone ` stays."
	for i := range r.Checks {
		for j := range r.Checks[i].Findings {
			if r.Checks[i].Findings[j].ID == r.Findings[0].ID {
				r.Checks[i].Findings[j].Fix = r.Findings[0].Fix
			}
		}
	}
	var buf bytes.Buffer
	if err := Render(&buf, "html", []*Report{r}, Options{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, ">deliverdoctor headers &lt;MSG&gt;.eml</code>") || strings.Contains(out, "`deliverdoctor headers") {
		t.Errorf("code span not rendered:\n%s", out)
	}
}

// TestCSVListsEveryNonPassFinding (issue 22): a warn row names its warnings.
func TestCSVListsEveryNonPassFinding(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, "csv", []*Report{sample()}, Options{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ids := rows[1][len(rows[1])-1]
	for _, want := range []string{"spf.too-many-lookups", "dmarc.policy-none", "rbl.dns-error"} {
		if !strings.Contains(ids, want) {
			t.Errorf("findings column %q lacks %s", ids, want)
		}
	}
	if strings.Contains(ids, "dmarc.legacy-tag") {
		t.Errorf("an info note is not a non-pass finding: %q", ids)
	}
}

// TestTextWrapsAtWords (issue 22): on a terminal the prose wraps at word
// boundaries within the width, never inside a word; "1 check", not "1 checks".
func TestTextWrapsAtWords(t *testing.T) {
	r := sample()
	var buf bytes.Buffer
	if err := TextReport(&buf, r, Options{Width: 60}); err != nil {
		t.Fatal(err)
	}
	words := map[string]bool{}
	for _, f := range r.Findings {
		for _, w := range strings.Fields(f.Detail + " " + f.Fix) {
			words[w] = true
		}
	}
	inProse := false
	for _, line := range strings.Split(buf.String(), "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(line, "      ") && !strings.HasPrefix(trim, "evidence:") && !strings.HasPrefix(trim, "bounces:") && !strings.HasPrefix(trim, "see:") {
			inProse = true
			if len([]rune(line)) > 60 && strings.Contains(trim, " ") {
				t.Errorf("line over 60 columns: %q", line)
			}
			for _, w := range strings.Fields(strings.TrimPrefix(trim, "fix:")) {
				if !words[w] {
					t.Errorf("word cut: %q in %q", w, line)
				}
			}
		}
	}
	if !inProse {
		t.Fatal("no prose lines")
	}
	one := &Report{Target: "example.com", Kind: "domain", Checks: []CheckResult{{Name: "mx", Status: StatusPass}}}
	one.Finalize([]string{"mx"})
	buf.Reset()
	TextReport(&buf, one, Options{})
	if !strings.Contains(buf.String(), "· 1 check ·") {
		t.Errorf("headline %q", strings.SplitN(buf.String(), "\n", 2)[0])
	}
}

func TestWrapText(t *testing.T) {
	got := WrapText("aaa bbb ccc dddddddddddddddddddd e", "> ", "  ", 10)
	want := "> aaa bbb\n  ccc\n  dddddddddddddddddddd\n  e"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if WrapText("x y", "- ", "", 0) != "- x y" {
		t.Error("width 0 wraps")
	}
}
