package bounce

import (
	"os"
	"path/filepath"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
)

// splitOriginalPlain is splitOriginal by the expression alone, as it was
// before markerAt: the reference the tests compare with.
func splitOriginalPlain(text string) (notice, original string) {
	loc := originalMarker.Regexp().FindStringIndex(text)
	if loc == nil {
		return text, ""
	}
	rest := text[loc[0]:]
	if keepMarkerLine(text[loc[0]:loc[1]]) {
		return text[:loc[0]], rest
	}
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[i+1:]
	} else {
		rest = ""
	}
	return text[:loc[0]], rest
}

var splitCases = []string{
	"", "x", "Received: from a\n", "received:x", "Received:\n x", "Received: \n", "Received:  x",
	"notice\n  --  Original message follows --\nTo: a@b\n", "notice\n---- original mail info\n",
	"a\n** end of message\nb", "a\n*end of message\n", "a\n- original message\nb", "a\n--- Returned message ---\n",
	"a\nReturned message\nb", "a\n\t\tRETURNED MESSAGE", "a\nDKIM-Signature: v=1\n", "a\n--\tbelow this line is a copy\n",
	"a\nReturn-path:\tx", "a\n---original message\n", "a\n -- -original message\n", "ok\r\nReceived: x\r\n",
	"\u212a\nreceived: x", "this is a copy of \u017f", "a\nthi\u017f is a copy of the message\nb", "a\n-\u00e9\nReceived: y",
}

// TestSplitOriginalAgrees: the hand-written marker match gives what the
// expression gives, on the corpus notices and on edge cases.
func TestSplitOriginalAgrees(t *testing.T) {
	texts := append([]string{}, splitCases...)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		texts = append(texts, string(raw))
		if _, body, ok := strings.Cut(string(raw), "\n\n"); ok {
			texts = append(texts, body)
		}
	}
	for _, s := range texts {
		n1, o1 := splitOriginal(s)
		n2, o2 := splitOriginalPlain(s)
		if n1 != n2 || o1 != o2 {
			t.Errorf("%.80q: got notice %d bytes, original %d; expression %d, %d", s, len(n1), len(o1), len(n2), len(o2))
		}
	}
}

func FuzzSplitOriginal(f *testing.F) {
	for _, s := range splitCases[:8] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzText {
			return
		}
		n1, o1 := splitOriginal(s)
		n2, o2 := splitOriginalPlain(s)
		if n1 != n2 || o1 != o2 {
			t.Errorf("%q: got %q / %q, expression %q / %q", s, n1, o1, n2, o2)
		}
	})
}

// TestMTAGuessesWithinALine: guessMTA matches the notice and the X-Mailer
// field one by one instead of joined by a newline; that is the same only
// while no guess can match a newline.
func TestMTAGuessesWithinALine(t *testing.T) {
	for _, g := range mtaGuesses {
		re, err := syntax.Parse(g.re.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if matchesNewline(re) {
			t.Errorf("%s can match a newline", g.re)
		}
	}
}

func matchesNewline(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpAnyChar:
		return true
	case syntax.OpLiteral:
		return slices.Contains(re.Rune, '\n')
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return true
			}
		}
	}
	for _, sub := range re.Sub {
		if matchesNewline(sub) {
			return true
		}
	}
	return false
}
