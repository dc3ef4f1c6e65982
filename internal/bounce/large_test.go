package bounce

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// dsnWithAttachment is a DSN whose returned message carries an attachment
// of n bytes after the report.
func dsnWithAttachment(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: MAILER-DAEMON@mx.example\nTo: sender@example.org\nSubject: Undelivered Mail Returned to Sender\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n" +
		"--B\nContent-Type: text/plain\n\n<gone@example.net>: host mx.example.net said: 550 5.1.1 User unknown (in reply to RCPT TO command)\n\n" +
		"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n" +
		"--B\nContent-Type: message/rfc822\n\nFrom: sender@example.org\nSubject: big\nContent-Type: multipart/mixed; boundary=C\n\n--C\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
	line := strings.Repeat("QUJD", 19) + "\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	b.WriteString("--C--\n--B--\n")
	return b.Bytes()
}

// A bounce over the size limit is read as far as the limit: the hard
// bounce in it is found, and a note says the rest was not read (issue 23
// item 8: it was "unreadable" and lost).
func TestLargeAttachment(t *testing.T) {
	msg := dsnWithAttachment(2 << 20)
	b, err := ParseLimit(bytes.NewReader(msg), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Failures) != 1 || b.Failures[0].Recipient != "gone@example.net" || !b.Failures[0].Hard || !b.Truncated {
		t.Fatalf("got %+v truncated=%v", b.Failures, b.Truncated)
	}
	if !strings.Contains(strings.Join(b.Notes, "\n"), "only its first 65536 bytes were read") {
		t.Errorf("notes: %q", b.Notes)
	}
	// Over the limit without bounce data in the part read: an error.
	_, err = ParseLimit(strings.NewReader("Subject: hello\n\n"+strings.Repeat("x", 100<<10)), 64<<10)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("no bounce data, over the limit: %v", err)
	}
}

// Every recipient of a long bounce is reported (4,000 gave 758 rows
// behind a 128 KB cap), and one past the recipient cap is noted.
func TestManyRecipients(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\n\n")
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&b, "<user%d@recipient-domain-%d.example>: host mx.recipient-domain-%d.example said: 550 5.1.1 user unknown (in reply to RCPT TO command)\n", i, i, i)
	}
	got := ParseBytes([]byte(b.String()))
	if len(got.Failures) != 4000 || got.Truncated {
		t.Errorf("%d of 4000 recipients (%d bytes), truncated %v, notes %q", len(got.Failures), b.Len(), got.Truncated, got.Notes)
	}

	var d strings.Builder
	for i := 0; i < maxDSNRecipients+3; i++ {
		fmt.Fprintf(&d, "Final-Recipient: rfc822; u%d@x.example\nStatus: 5.1.1\n\n", i)
	}
	dsn := ParseDSN([]byte(d.String()))
	if len(dsn.Recipients) != maxDSNRecipients || dsn.Dropped != 3 {
		t.Errorf("%d recipients, %d dropped", len(dsn.Recipients), dsn.Dropped)
	}
}

// ParseAll keeps the input order whatever the workers' speed, and gives
// every message a result.
func TestParseAllOrder(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := 0; i < 40; i++ {
		var m string
		if i%7 == 3 {
			m = crash273 // once a panic; parsed like the others now
		} else {
			m = fmt.Sprintf("From: MAILER-DAEMON@x.example\nSubject: failure\n\n<u%d@example.org>: 550 5.1.1 User unknown\n%s", i, strings.Repeat("filler text\n", i*50))
		}
		p := fmt.Sprintf("%s/%03d.eml", dir, i)
		if err := writeFile(p, m); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	var names []string
	err := ParseAll(paths, nil, DefaultMaxSize, 4, func(it Item) error {
		names = append(names, it.Name)
		if it.Err != nil || it.Bounce == nil || len(it.Bounce.Failures) != 1 {
			t.Errorf("%s: %v %+v", it.Name, it.Err, it.Bounce)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, " ") != strings.Join(paths, " ") {
		t.Errorf("order: %v", names)
	}
	// An error from fn stops the run.
	n := 0
	stop := errors.New("stop")
	if err := ParseAll(paths, nil, DefaultMaxSize, 2, func(Item) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("stop: %v after %d", err, n)
	}
}

func TestSuppressionKeepsLocalPart(t *testing.T) {
	s := NewSummary("x", false)
	for _, rcpt := range []string{"John.Doe@Example.COM", "John.Doe@example.com", "john.doe@example.com"} {
		b := ParseBytes([]byte("From: MAILER-DAEMON@x.example\nSubject: failure\n\n<" + rcpt + ">: 550 5.1.1 User unknown\n"))
		s.Add(Item{Name: rcpt, Bounce: b})
	}
	var got []string
	for _, r := range s.Suppression() {
		got = append(got, r.Recipient)
	}
	if strings.Join(got, " ") != "John.Doe@example.com john.doe@example.com" {
		t.Errorf("suppression: %v", got)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

// A directory's members are read by the workers; a small mbox among them
// is split by its worker, and a file too large to read whole is streamed
// when its turn comes. The order is still the input order (directory
// sorted, an mbox's messages in place), over several chunks, and fn can
// stop the run inside the mbox or at the streamed file.
func TestParseAllDirectory(t *testing.T) {
	dir := t.TempDir()
	msg := func(i int) string {
		return fmt.Sprintf("From: MAILER-DAEMON@x.example\nSubject: failure\n\n<u%d@example.org>: 550 5.1.1 User unknown\n", i)
	}
	var want []string
	for i := 0; i < 3*chunkSlots; i++ {
		name := fmt.Sprintf("%s/%03d.eml", dir, i)
		body := msg(i)
		switch i {
		case 5: // an mbox of three messages
			name = fmt.Sprintf("%s/%03d.mbox", dir, i)
			body = ""
			for k := 0; k < 3; k++ {
				body += "From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + msg(1000+k) + "\n"
				want = append(want, fmt.Sprintf("%s#%d", name, k+1))
			}
		case 40: // larger than smallFile: streamed, not read whole
			body = msg(i) + strings.Repeat("filler text\n", smallFile/12+10)
			want = append(want, name)
		default:
			want = append(want, name)
		}
		if err := writeFile(name, body); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := ParseAll([]string{dir}, nil, DefaultMaxSize, 3, func(it Item) error {
		got = append(got, it.Name)
		if it.Err != nil || it.Bounce == nil || len(it.Bounce.Failures) != 1 {
			t.Errorf("%s: %v %+v", it.Name, it.Err, it.Bounce)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %d items in this order:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	// Stopping inside the streamed mbox ends the run there.
	n := 0
	stop := errors.New("stop")
	err = ParseAll([]string{dir}, nil, DefaultMaxSize, 2, func(it Item) error {
		n++
		if strings.HasSuffix(it.Name, ".mbox#2") {
			return stop
		}
		return nil
	})
	if err != stop || n != 7 {
		t.Errorf("stop inside the mbox: %v after %d items, want stop after 7", err, n)
	}
	// Stopping at the streamed file ends the run there too.
	n = 0
	err = ParseAll([]string{dir}, nil, DefaultMaxSize, 2, func(it Item) error {
		n++
		if strings.HasSuffix(it.Name, "/040.eml") {
			return stop
		}
		return nil
	})
	if err != stop || n != 43 {
		t.Errorf("stop at the streamed file: %v after %d items, want stop after 43", err, n)
	}
}

// The heap is put on huge pages (thp.Reserve) once a batch is known to be
// large, and only then: a directory of hugeHeapFiles messages, a file of
// hugeHeapInput bytes, or that much read from stdin, but not one message
// or a small directory.
func TestParseAllHugeHeap(t *testing.T) {
	old := reserveHugeHeap
	t.Cleanup(func() { reserveHugeHeap, hugeHeapOnce = old, sync.Once{} })
	msg := "From: MAILER-DAEMON@x.example\nSubject: failure\n\n<u@example.org>: 550 5.1.1 User unknown\n"
	dir := func(n int) string {
		d := t.TempDir()
		for i := range n {
			if err := writeFile(fmt.Sprintf("%s/%04d.eml", d, i), msg); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	big := filepath.Join(t.TempDir(), "big.mbox")
	mbox := strings.Repeat("From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"+msg+strings.Repeat("filler text\n", 400)+"\n", hugeHeapInput/4800+1)
	if err := writeFile(big, mbox); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(t.TempDir(), "one.eml")
	if err := writeFile(one, msg); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		paths []string
		stdin string
		want  int
	}{
		{"one message", []string{one}, "", 0},
		{"a small directory", []string{dir(10)}, "", 0},
		{"a large directory", []string{dir(hugeHeapFiles)}, "", 1},
		{"a large mbox", []string{big}, "", 1},
		{"a large mbox on stdin", []string{"-"}, mbox, 1},
		{"a small mbox on stdin", []string{"-"}, mbox[:len(mbox)/8], 0},
	} {
		calls := 0
		reserveHugeHeap, hugeHeapOnce = func() { calls++ }, sync.Once{}
		err := ParseAll(tc.paths, strings.NewReader(tc.stdin), DefaultMaxSize, 2, func(Item) error { return nil })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if calls != tc.want {
			t.Errorf("%s: the heap was put on huge pages %d times, want %d", tc.name, calls, tc.want)
		}
	}
}
