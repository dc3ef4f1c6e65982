package bounce

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// The corpus: 138 real bounces from Sisimai's set-of-emails (BSD-2-Clause,
// testdata/corpus/LICENSE) with labels from Sisimai 4.25.15, an independent
// classifier (testdata/corpus/README.md). The labels are an oracle, not the
// truth: testdata/disagreements.tsv lists every label we disagree with and
// why we think we are right, and this test fails on any disagreement not
// listed there, and on any listed one that has gone away.

const corpusDir = "testdata/corpus"

type label struct {
	File       string  `json:"file"`
	Recipient  *string `json:"recipient"`
	Reason     string  `json:"reason"`
	Status     *string `json:"status"`
	ReplyCode  *string `json:"replycode"`
	Hardbounce *bool   `json:"hardbounce"`
	Command    *string `json:"smtpcommand"`
	Action     *string `json:"action"`
}

// reasonCategories maps a Sisimai 4.25 reason to the categories of ours
// that mean the same thing. Several fit where Sisimai names the symptom
// and we the cause: Sisimai's "expired" is a queue that gave up, and the
// bounce usually says why (no answer, broken connection); "blocked" and
// "filtered" are receiver policies that the text shows to be a blocklist
// (spam-related) or a policy.
var reasonCategories = map[string][]string{
	"userunknown":     {"bad-mailbox"},
	"hostunknown":     {"bad-domain"},
	"hasmoved":        {"bad-mailbox", "inactive-mailbox"},
	"mailboxfull":     {"quota-issues"},
	"systemfull":      {"quota-issues", "bad-configuration"},
	"exceedlimit":     {"content-related", "quota-issues"},
	"mesgtoobig":      {"content-related", "quota-issues"},
	"filtered":        {"content-related", "policy-related", "spam-related"},
	"blocked":         {"policy-related", "spam-related"},
	"spamdetected":    {"spam-related", "content-related"},
	"policyviolation": {"policy-related", "content-related"},
	"securityerror":   {"policy-related", "spam-related", "relaying-issues"}, // Sisimai counts "SMTP authentication required" here
	"rejected":        {"policy-related"},
	"norelaying":      {"relaying-issues"},
	"toomanyconn":     {"policy-related", "quota-issues", "protocol-errors"}, // RFC 3463 X.5.3 "too many recipients" is a protocol status
	"expired":         {"message-expired", "no-answer-from-host", "bad-connection"},
	"networkerror":    {"bad-connection", "no-answer-from-host", "routing-errors"},
	"notaccept":       {"bad-domain", "routing-errors"},
	"suspend":         {"inactive-mailbox"},
	"contenterror":    {"content-related", "protocol-errors"},
	"virusdetected":   {"virus-related"},
	"systemerror":     {"bad-configuration", "other"},
	"mailererror":     {"bad-configuration", "other"},
	"syntaxerror":     {"protocol-errors"},
	"onhold":          {"other"},
	"undefined":       {"other"},
}

// failureLabel reports labels of delivery failures (not of feedback,
// auto-replies, success notices or unparsed files).
func (l label) failure() bool {
	switch l.Reason {
	case "delivered", "feedback", "vacation", "unparsed":
		return false
	}
	return l.Recipient != nil
}

func loadLabels(t testing.TB, path string) []label {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []label
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l label
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	return out
}

// disagreement is one line of testdata/disagreements.tsv.
type disagreement struct{ file, recipient, field, ours, theirs, why string }

func loadDisagreements(t testing.TB) map[string]disagreement {
	b, err := os.ReadFile("testdata/disagreements.tsv")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]disagreement{}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 || f[5] == "" {
			t.Fatalf("disagreements.tsv:%d: want 6 tab-separated fields with a reason", i+1)
		}
		d := disagreement{f[0], f[1], f[2], f[3], f[4], f[5]}
		m[d.file+"|"+d.recipient+"|"+d.field] = d
	}
	return m
}

// parseWithTimeout parses one corpus file; a hang is a failure.
func parseWithTimeout(t testing.TB, path string) *Bounce {
	done := make(chan *Bounce, 1)
	go func() {
		fh, err := os.Open(path)
		if err != nil {
			done <- nil
			return
		}
		defer fh.Close()
		b, err := Parse(fh)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		done <- b
	}()
	select {
	case b := <-done:
		return b
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: parsing did not finish in 10s", path)
		return nil
	}
}

type agreement struct{ n, ok, explained int }

func (a agreement) String() string {
	if a.n == 0 {
		return "n/a"
	}
	s := fmt.Sprintf("%d/%d = %.1f%%", a.ok, a.n, 100*float64(a.ok)/float64(a.n))
	if a.explained > 0 {
		s += fmt.Sprintf("; %.1f%% counting the %d disagreements listed in disagreements.tsv (label doubtful, reason given)",
			100*float64(a.ok+a.explained)/float64(a.n), a.explained)
	}
	return s
}

// rate counts agreements and listed, explained disagreements; the raw
// figure is in String.
func (a agreement) rate() float64 { return float64(a.ok+a.explained) / float64(a.n) }

var (
	corpusSummaryMu sync.Mutex
	corpusSummary   []string
)

func TestCorpusAgreement(t *testing.T) {
	labelsPath := filepath.Join(corpusDir, "labels.jsonl")
	if p := os.Getenv("DD_SISIMAI_LABELS"); p != "" {
		labelsPath = p // a fresh run of Sisimai (scripts/interop.d)
	}
	labels := loadLabels(t, labelsPath)
	known := loadDisagreements(t)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	if len(files) < 130 {
		t.Fatalf("corpus has %d files", len(files))
	}
	parsed := map[string]*Bounce{}
	for _, f := range files {
		b := parseWithTimeout(t, f)
		if b == nil {
			t.Fatalf("%s: no result", f)
		}
		parsed[filepath.Base(f)] = b
	}

	var recip, status, hard, cat agreement
	seen := map[string]bool{}
	var unexplained []string
	check := func(a *agreement, l label, field, ours, theirs string) {
		a.n++
		if ours == theirs {
			a.ok++
			return
		}
		key := l.File + "|" + *l.Recipient + "|" + field
		seen[key] = true
		if d, ok := known[key]; ok && d.ours == ours && d.theirs == theirs {
			a.explained++
			return
		}
		unexplained = append(unexplained, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t?", l.File, *l.Recipient, field, ours, theirs))
	}
	for _, l := range labels {
		if !l.failure() {
			continue
		}
		b := parsed[l.File]
		var f *Failure
		for i := range b.Failures {
			if strings.EqualFold(b.Failures[i].Recipient, *l.Recipient) {
				f = &b.Failures[i]
			}
		}
		found := "found"
		if f == nil {
			found = "missing"
		}
		check(&recip, l, "recipient", found, "found")
		if f == nil {
			continue
		}
		// Sisimai invents x.0.9xx codes for bounces without one; we report
		// no code there (README "Label format").
		theirs := ""
		if l.Status != nil {
			theirs = *l.Status
			if c, err := ParseCode(theirs); err == nil && c.madeUp() {
				theirs = ""
			}
		}
		check(&status, l, "status", f.Status, theirs)
		if l.Hardbounce != nil {
			check(&hard, l, "hard", fmt.Sprint(f.Hard), fmt.Sprint(*l.Hardbounce))
		}
		ok := slices.Contains(reasonCategories[l.Reason], f.Category)
		if ok {
			check(&cat, l, "category", l.Reason, l.Reason)
		} else {
			check(&cat, l, "category", f.Category, l.Reason)
		}
	}
	for key, d := range known {
		if !seen[key] {
			t.Errorf("disagreements.tsv lists %s %s %s (ours %q, Sisimai %q) but we now agree or the label changed: remove the line", d.file, d.recipient, d.field, d.ours, d.theirs)
		}
	}
	sort.Strings(unexplained)
	for _, u := range unexplained {
		t.Errorf("unexplained disagreement with Sisimai (fix it, or add it with a reason to testdata/disagreements.tsv):\n%s", u)
	}
	summary := []string{
		fmt.Sprintf("bounce corpus: %d messages, %d failure labels (Sisimai 4.25), agreement:", len(files), recip.n),
		"  recipient found:   " + recip.String(),
		"  enhanced status:   " + status.String(),
		"  hard/soft:         " + hard.String(),
		"  category (mapped): " + cat.String(),
	}
	for _, s := range summary {
		t.Log(s)
	}
	corpusSummaryMu.Lock()
	corpusSummary = summary
	corpusSummaryMu.Unlock()
	if recip.ok+recip.explained != recip.n {
		t.Errorf("%d labelled recipients not found", recip.n-recip.ok-recip.explained)
	}
	if status.rate() < 0.95 || hard.rate() < 0.95 {
		t.Errorf("agreement below 95%%: status %s, hard %s", status, hard)
	}
}

// TestMain prints the agreement figures after the tests, so that they show
// in a plain "go test" run of this package (t.Log output is only shown
// with -v); scripts/interop.d/60-bounce-sisimai.sh shows them in CI.
func TestMain(m *testing.M) {
	code := m.Run()
	corpusSummaryMu.Lock()
	for _, s := range corpusSummary {
		fmt.Println(s)
	}
	corpusSummaryMu.Unlock()
	os.Exit(code)
}

// TestCorpusDump prints our reading of every corpus message next to its
// labels, for working on the parser: DD_BOUNCE_DUMP=1 go test -run
// TestCorpusDump -v ./internal/bounce
func TestCorpusDump(t *testing.T) {
	if os.Getenv("DD_BOUNCE_DUMP") == "" {
		t.Skip("set DD_BOUNCE_DUMP=1 to print the corpus")
	}
	labels := loadLabels(t, filepath.Join(corpusDir, "labels.jsonl"))
	byFile := map[string][]label{}
	for _, l := range labels {
		byFile[l.File] = append(byFile[l.File], l)
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	for _, f := range files {
		name := filepath.Base(f)
		if p := os.Getenv("DD_BOUNCE_DUMP"); p != "1" && !strings.Contains(name, p) {
			continue
		}
		b := parseWithTimeout(t, f)
		fmt.Printf("== %s kind=%s mta=%s sender=%s reporting=%s notes=%v\n", name, b.Kind, b.MTA, b.Sender, b.ReportingMTA, b.Notes)
		for _, l := range byFile[name] {
			s := func(p *string) string {
				if p == nil {
					return "-"
				}
				return *p
			}
			hb := "-"
			if l.Hardbounce != nil {
				hb = fmt.Sprint(*l.Hardbounce)
			}
			fmt.Printf("   label: %s %s %s %s hard=%s cmd=%s\n", s(l.Recipient), l.Reason, s(l.Status), s(l.ReplyCode), hb, s(l.Command))
		}
		for _, x := range b.Failures {
			fmt.Printf("   ours:  %s %s %s %d hard=%v cmd=%s by=%s origin=%s prov=%s remote=%s act=%s\n          diag=%q\n", x.Recipient, x.Category, x.Status, x.ReplyCode, x.Hard, x.Command, x.By, x.Origin, x.Provider, x.RemoteMTA, x.DSNAction, sanitize.Truncate(x.Diagnostic, 200))
		}
	}
}
