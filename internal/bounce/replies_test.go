package bounce

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestRealReplies reads testdata/replies.tsv - real replies from the
// providers' published references, each with its source - and checks what
// explain and bounces make of each: permanent or not, what to do with the
// address, the category, and whose checks are linked (a recipient-side
// cause must link none of the sender's checks).
func TestRealReplies(t *testing.T) {
	fh, err := os.Open("testdata/replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	n := 0
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		col := strings.Split(s, "\t")
		if len(col) != 6 || col[5] == "" {
			t.Errorf("line %d: want 6 columns with a source, got %d", line, len(col))
			continue
		}
		n++
		reply, perm, disp, cat, side := col[0], col[1] == "perm", col[2], col[3], col[4]
		b := ParseReplyBounce(reply)
		if b == nil || len(b.Failures) != 1 {
			t.Errorf("line %d: %q: not read as a reply", line, reply)
			continue
		}
		f := &b.Failures[0]
		gotSide := f.CheckDomain
		if len(f.Checks) == 0 {
			gotSide = "none"
		}
		if f.Permanent != perm || f.Disposition != disp || f.Category != cat || gotSide != side {
			t.Errorf("line %d: %q\n  got  permanent=%v %s %s side=%s %v (by %s)\n  want permanent=%v %s %s side=%s",
				line, reply, f.Permanent, f.Disposition, f.Category, gotSide, f.Checks, f.By, perm, disp, cat, side)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Errorf("%d replies in the table, want at least 100", n)
	}
}

// TestPatternExamples: every pattern compiles (they are compiled on first
// use, not when the knowledge base loads) and matches each of its own
// examples.
func TestPatternExamples(t *testing.T) {
	for i, p := range kb().patterns {
		if _, err := regexp.Compile("(?i)" + p.Re); err != nil {
			t.Errorf("pattern %d (%s): %v", i, p.Category, err)
			continue
		}
		for _, ex := range p.Examples {
			text := ex
			if r, err := ParseReply(ex); err == nil {
				text = r.Text
			}
			if !p.regexp().MatchString(text) {
				t.Errorf("pattern %d (%s): does not match its example %q", i, p.Category, ex)
			}
		}
	}
}
