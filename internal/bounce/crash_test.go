package bounce

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// crash273 is the reproducer of issue 23 item 1 (the bytes its printf and
// python commands write): invalid UTF-8 before the DSN fields made
// strings.ToLower's offsets run past the text.
var crash273 = "From: MAILER-DAEMON@x.example\nSubject: Undelivered\nContent-Type: text/plain\n\n" +
	strings.Repeat("\xff", 100) + "\nFinal-Recipient: rfc822; a@b.example\nStatus: 5.1.1\n"

func TestInvalidUTF8BeforeDSNFields(t *testing.T) {
	b, err := ParseMessage([]byte(crash273))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Failures) != 1 || b.Failures[0].Recipient != "a@b.example" || b.Failures[0].Status != "5.1.1" {
		t.Fatalf("got %+v", b.Failures)
	}
	// The same bytes around the other case-folded searches.
	for _, s := range []string{
		"Subject: failure\n\n" + strings.Repeat("\xc0", 50) + "<A@B.EXAMPLE>: 550 Remote protocol error\n",
		"Subject: failure\n\n" + strings.Repeat("\xe2", 64) + "While talking to x.example:\n<<< 550 no\n554 <a@b.example>... Remote protocol error\n",
	} {
		if _, err := ParseMessage([]byte(s)); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestIndexFold(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   int
	}{
		{"abc", "b", 1}, {"ABC", "bc", 1}, {"\xff\xffFinal-Recipient:", "final-recipient:", 2},
		{"x", "xy", -1}, {"", "a", -1}, {"aXa", "", 0},
	} {
		if got := indexFold(c.s, c.sub); got != c.want {
			t.Errorf("indexFold(%q, %q) = %d, want %d", c.s, c.sub, got, c.want)
		}
	}
	if got := lastIndexFold("While talking to a; while TALKING to b", "while talking to"); got != 20 {
		t.Errorf("lastIndexFold = %d", got)
	}
	if got := indexFoldAny("\xff<Ä@b>", "Ä@b"); got != 2 {
		t.Errorf("indexFoldAny = %d", got)
	}
}

// A panic inside the parser becomes an error for that message only.
func TestParserPanicIsAnError(t *testing.T) {
	parseHook = func() { panic("boom") }
	defer func() { parseHook = nil }()
	b, err := ParseMessage([]byte("Subject: x\n\n550 5.1.1 a@b.example unknown\n"))
	if !errors.Is(err, ErrParser) || b != nil {
		t.Fatalf("got %v, %v", b, err)
	}
	if b := ParseBytes([]byte("x")); b.Kind != KindUnknown || len(b.Notes) == 0 {
		t.Fatalf("ParseBytes: %+v", b)
	}
	if _, err := ParseLimit(bytes.NewReader([]byte("Subject: x\n\nhello\n")), 100); !errors.Is(err, ErrParser) {
		t.Fatalf("ParseLimit: %v", err)
	}
}
