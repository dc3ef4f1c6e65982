package bounce

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
)

// commandRefRes are commandRes's expressions as plain regexps: the
// reference findCommandASCII must answer as.
var commandRefRes = func() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, c := range commandRes {
		out = append(out, regexp.MustCompile(c.re.String()))
	}
	return out
}()

// findCommandRef is findCommand by plain regexps.
func findCommandRef(text string) string {
	best, at := "", -1
	for i, re := range commandRefRes {
		if loc := re.FindStringIndex(text); loc != nil && (at < 0 || loc[0] < at) {
			best, at = commandRes[i].cmd, loc[0]
		}
	}
	return best
}

var commandTexts = []string{
	"", "for", "for data", "for  DATA.", "for\tthe\ndata", "for the  text", "for thedata", "for the data_x", "for datax", "for data9",
	"after end of data", "After End Of DATA", "after end of  data", "in reply to final data", "like our text", "following the data",
	"therefor data", "before text", "information data", "for\vdata", "for\fdata", "for\rdata", "for the\fdata", "forthe data",
	"(DATA)", "(data", ">>> DATA", ">>>  DATA", ">>>DATA", "---SMTP command DATA", "--SMTP command DATA", "-----smtp command\n\ndata",
	"x---- ---smtp command  datax", "---smtp commanddata", "--- smtp command data",
	"in reply to RCPT TO command", "after the rcpt", "after rcpt_", "after rcpt.", ">>> RCPT TO:<a@b.c>", "<<<rcpt", "<<< \tRCPT",
	"RCPT TO:<bob@example.com> ... does not like", "rcpt to:" + strings.Repeat("x", 80) + "does not like", "rcpt to:" + strings.Repeat("x", 81) + "does not like",
	"rcpt to: x\ndoes not like", "rejected recipient", "Rejected  recipient",
	"in reply to MAIL FROM command", "after mail from:", "after mailx", "following the mail", ">>> MAIL FROM:<a@b>", ">>>MAIL\tFROM", ">>> MAIL FROMx", ">>> MAILFROM",
	"in reply to EHLO", "after ehlo.", ">>> EHLO x", "following the helo", ">>> HELO", "like our ehlo", "like our helo",
	"after connection", "after initial connection", "after initial  connection", "in reply to the greeting", "after the banner", "after connect",
	"after  connect", "in reply to connection", "after the  greeting",
	"550 5.1.1 <a@b.c>: Recipient address rejected (in reply to RCPT TO command) after end of data",
	"host mx.example.com[192.0.2.1] said: 554 rejected (in reply to end of DATA command) >>> RCPT",
	"for rcpt after data", "after data for rcpt", ">>> DATA >>> RCPT", "after\u212ao data", "ſmtp", "for dätä", "for data é",
}

// TestFindCommandAgrees: on ASCII text the hand-written findCommand
// answers as the expressions, on hand-made texts, every corpus message and
// every line of one; other text goes to the expressions.
func TestFindCommandAgrees(t *testing.T) {
	texts := slices.Clone(commandTexts)
	for _, raw := range equivalenceTexts(t) {
		texts = append(texts, string(raw))
		texts = append(texts, strings.Split(string(raw), "\n")...)
	}
	hand := 0
	for _, s := range texts {
		if checkFindCommand(t, s) {
			hand++
		}
	}
	t.Logf("%d texts, %d answered by hand", len(texts), hand)
	if hand < len(texts)/2 {
		t.Errorf("only %d of %d texts were ASCII: the test does not test the hand-written path", hand, len(texts))
	}
}

func checkFindCommand(t *testing.T, s string) (hand bool) {
	t.Helper()
	want := findCommandRef(s)
	if got := findCommand(s); got != want {
		t.Errorf("findCommand(%q) = %q, regexps %q", s, got, want)
	}
	got, ok := findCommandASCII(s)
	if ok != ascii.Only(s) {
		t.Errorf("findCommandASCII(%q): ok %v for ASCII %v", s, ok, ascii.Only(s))
	}
	if ok && got != want {
		t.Errorf("findCommandASCII(%q) = %q, regexps %q", s, got, want)
	}
	return ok
}

func FuzzFindCommand(f *testing.F) {
	fuzzAgainst(f, commandTexts, func(t *testing.T, s string) { checkFindCommand(t, s) })
}

// BenchmarkFindCommand: the hand-written findCommand against the
// expressions on every corpus message's text.
func BenchmarkFindCommand(b *testing.B) {
	var texts []string
	for _, raw := range equivalenceTexts(b) {
		texts = append(texts, string(raw))
	}
	for _, bc := range []struct {
		name string
		find func(string) string
	}{{"hand", findCommand}, {"regexp", findCommandRE}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				for _, s := range texts {
					bc.find(s)
				}
			}
		})
	}
}

// remoteSaidRefRe is remoteRes[remoteSaidIndex] as a plain regexp.
var remoteSaidRefRe = regexp.MustCompile(remoteRes[remoteSaidIndex].String())

var remoteSaidTexts = []string{
	"", "[", "mx.example.com[192.0.2.1] said: 550", "mx.example.com [192.0.2.1]: said", "MX.Example.COM  [2001:DB8::1]:: responded",
	"host mx.example.com[192.0.2.1] said", "a.bc[1] failed", "a.b[1] failed", "a.b1[1] failed", "1.2.3.4[1.2.3.4] said", "-a.bc[1] said",
	"_a.bc[1] said", "x_a.bc[1] said", "x_-a.bc[1] said", "x_.a.bc[1] said", "a.bc.[1] said", "a..bc[1] said", "a.bc[1]said", "a.bc[] said",
	"a.bc[1] did not like", "a.bc[1] did not", "a.bc[g] said", "a.bc[1]: :responded", "a.bc\t\n[1] said", "a.bc\v[1] said",
	"first.org[1] x other.net[2] said", "first.org[1] said other.net[2] said", "é.org[1] said", "a.éorg[1] said", "xn--bcher-kva.example[1] said",
	"relay.example.net[10.0.0.1] said: 554 5.7.1 rejected (in reply to RCPT TO command)", "mail.ſx.com[1] said", "\u212a.com[1] said",
	"Kk.Org[1] SAID", "a-.bc[1] said", "a.bc-[1] said", "..bc[1] said", "[1] said", "x.yz[1] said x.yz[2] failed",
}

func checkRemoteSaid(t *testing.T, s string) {
	t.Helper()
	if !ascii.Only(s) {
		return
	}
	m := remoteSaidRefRe.FindStringSubmatchIndex(s)
	start, end, ok := remoteSaid(ascii.Lower(s))
	if ok != (m != nil) || ok && (start != m[2] || end != m[3]) {
		t.Errorf("remoteSaid(%q) = %d, %d, %v; regexp %v", s, start, end, ok, m)
	}
}

// TestRemoteSaidAgrees: remoteSaid finds what the expression finds, on
// hand-made texts, every corpus message and every line of one.
func TestRemoteSaidAgrees(t *testing.T) {
	texts := slices.Clone(remoteSaidTexts)
	found := 0
	for _, raw := range equivalenceTexts(t) {
		texts = append(texts, string(raw))
		texts = append(texts, strings.Split(string(raw), "\n")...)
	}
	for _, s := range texts {
		checkRemoteSaid(t, s)
		if ascii.Only(s) && remoteSaidRefRe.MatchString(s) {
			found++
		}
	}
	t.Logf("%d texts, %d with a match", len(texts), found)
	if found < 20 {
		t.Errorf("only %d texts match: the test does not test the matching path", found)
	}
}

func FuzzRemoteSaid(f *testing.F) { fuzzAgainst(f, remoteSaidTexts, checkRemoteSaid) }

// TestCommandNames: the hand-written findCommand's commands are
// commandRes's, in its order (a tie goes to the earlier one).
func TestCommandNames(t *testing.T) {
	if len(commandNames) != len(commandRes) {
		t.Fatalf("%d command names, %d expressions", len(commandNames), len(commandRes))
	}
	for i, c := range commandRes {
		if commandNames[i] != c.cmd {
			t.Errorf("command %d: %s, expression's %s", i, commandNames[i], c.cmd)
		}
	}
}
