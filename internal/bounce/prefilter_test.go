package bounce

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPrefilterAgrees: every prefiltered expression answers as its plain
// regexp on the corpus texts and their parts.
func TestPrefilterAgrees(t *testing.T) {
	t.Parallel() // pure comparisons, the longest tests of the package
	files := equivalenceFiles(t)
	var texts []string
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		texts = append(texts, string(raw[:min(len(raw), 8<<10)]))
		for _, fl := range ParseBytes(raw).Failures {
			texts = append(texts, fl.Diagnostic, fl.context)
		}
	}
	texts = append(texts, "\xff\xfe after end of data \xff", "RCPT TO:<a@b> ... does not like recipient",
		// Candidate starts (fre.starts) in a text over minPrefilter bytes:
		// a word boundary before, a line start, one start string inside
		// another, a match only at a later occurrence.
		strings.Repeat("x", 100)+"xafter end of data; after the data; Host: mx.example.com[192.0.2.1] said: 550",
		strings.Repeat("y ", 60)+"\n>>> RCPT TO:<a@b.c>\n<<< 550 no\nfollowing   the\tehlo\n",
		strings.Repeat("z", 120)+" in reply to in reply to RCPT TO command from [192.0.2.7]",
		// Other scripts are searched at the start strings too; the
		// Kelvin sign and the long s fold to ASCII (offsets change), so a
		// text with them is not.
		"Ошибка доставки: après la fin des données (after end of data) — host mx.exämple.com[192.0.2.1] said: 550 £",
		"配信できませんでした。\n>>> RCPT TO:<a@b.c>\n<<< 550 ユーザーが存在しません\nin reply to RCPT TO command",
		"ſmtp server <mx.example.com> said: \u212a after connection; host: mx.example.com [",
		"\xe3\x81 invalid UTF-8 \xff after end of data and >>> DATA from ip [192.0.2.9]",
		"Client host [192.0.2.1] blocked; sending IP 192.0.2.2, the IP: 2001:db8::1; from [198.51.100.7] ip:203.0.113.9 é connecting ip 192.0.2.3")
	freSetup()
	var roots []*fre
	for _, f := range freAll {
		if !isBranch(f) {
			roots = append(roots, f)
		}
	}
	for _, s := range texts {
		for _, f := range roots {
			if got, want := f.MatchString(s), f.Regexp().MatchString(s); got != want {
				t.Errorf("%s on %.60q: %v, regexp %v", f, s, got, want)
			}
			if got, want := f.FindStringIndex(s), f.Regexp().FindStringIndex(s); !slices.Equal(got, want) {
				t.Errorf("%s on %.60q: %v, regexp %v", f, s, got, want)
			}
			if got, want := f.FindStringSubmatch(s), f.Regexp().FindStringSubmatch(s); !slices.Equal(got, want) {
				t.Errorf("%s on %.60q: submatches %q, regexp %q", f, s, got, want)
			}
			checkFindAll(t, f, s)
		}
	}
	t.Logf("%d expressions (%d branches) on %d texts", len(roots), len(freAll)-len(roots), len(texts))
}

// checkFindAll: FindAllStringSubmatch gives the regexp's matches, for a
// few limits.
func checkFindAll(t *testing.T, f *fre, s string) {
	t.Helper()
	for _, n := range []int{-1, 0, 1, 5} {
		if got, want := f.FindAllStringSubmatch(s, n), f.Regexp().FindAllStringSubmatch(s, n); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s on %.60q: all (%d) %q, regexp %q", f, s, n, got, want)
		}
	}
}

func isBranch(f *fre) bool {
	for _, g := range freAll {
		if slices.Contains(g.branches, f) {
			return true
		}
	}
	return false
}

func FuzzPrefilter(f *testing.F) {
	f.Add("\x00\x00in reply to RCPT TO command")
	f.Add("\x00\x07host mx.example.com[192.0.2.1] said: 550")
	f.Add("\x00\x10" + strings.Repeat("-", 90) + "\nafter DATA, in reply to end of data\n>>> RCPT")
	f.Add("\x00\x03é日本 host: mx.ÉXAMPLE.com [192.0.2.1] said: ſ550 after end of data")
	freSetup()
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) < 2 || len(s) > maxFuzzText {
			return
		}
		// The first two bytes pick the expression, so one execution runs
		// one expression twice instead of all of them (about 140): the
		// fuzzer reaches every expression through those bytes, at a rate
		// that lets it explore (issue 23: a target must really run).
		e := freAll[(int(s[0])<<8|int(s[1]))%len(freAll)]
		s = s[2:]
		if got, want := e.FindStringIndex(s), e.Regexp().FindStringIndex(s); !slices.Equal(got, want) {
			t.Errorf("%s: %v, regexp %v", e, got, want)
		}
		if got, want := e.MatchString(s), e.Regexp().MatchString(s); got != want {
			t.Errorf("%s: match %v, regexp %v", e, got, want)
		}
		checkFindAll(t, e, s)
	})
}

// TestFreCompile: every prefiltered expression parses and compiles (they
// are registered at start-up but parsed only on first use).
func TestFreCompile(t *testing.T) {
	freSetup()
	if len(freAll) < len(freRoots) || len(freRoots) == 0 {
		t.Fatalf("%d roots, %d expressions", len(freRoots), len(freAll))
	}
	for _, f := range freAll {
		if f.Regexp() == nil {
			t.Errorf("%s: not compiled", f)
		}
	}
}

// TestLazyCompile: every expression registered with lazyRegexp compiles.
func TestLazyCompile(t *testing.T) {
	if len(lazyAll) == 0 {
		t.Fatal("no lazy expressions")
	}
	for _, l := range lazyAll {
		if l.Regexp() == nil {
			t.Errorf("%s: not compiled", l)
		}
	}
}

// raceEnabled is set by race_test.go under -race.
var raceEnabled bool

// equivalenceFiles is the corpus the equivalence tests compare on: all of
// it, or every fourth file under the race detector (see race_test.go).
// equivalenceTexts is the contents of equivalenceFiles.
func equivalenceTexts(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range equivalenceFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

func equivalenceFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	if !raceEnabled {
		return files
	}
	var some []string
	for i := 0; i < len(files); i += 4 {
		some = append(some, files[i])
	}
	t.Logf("race detector: %d of %d corpus files (.ci/run compares all of them without -race)", len(some), len(files))
	return some
}
