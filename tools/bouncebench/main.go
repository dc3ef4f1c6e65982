// Command bouncebench measures `deliverdoctor bounces` on large mailboxes
// (issue 18): throughput and peak memory on an mbox of a given size and a
// Maildir of many messages, both made from the bounce corpus in a
// temporary directory that is removed afterwards. Run through
// `scripts/bench --bounces`.
//
// The mbox repeats the corpus with, after each round, one large bounce (a
// returned original with a multi-megabyte attachment), so that both many
// small messages and big ones are streamed. The Maildir is hard links to
// the corpus files. Peak RSS is the child's getrusage maxrss.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	dd := flag.String("dd", "", "deliverdoctor binary (default: build one)")
	mboxMB := flag.String("mbox-mb", "100,1024", "mbox sizes in MB, comma-separated")
	maildir := flag.Int("maildir", 200000, "messages in the Maildir (0: none)")
	short := flag.Bool("short", false, "small sizes (10 MB mbox, 5,000-message Maildir)")
	corpus := flag.String("corpus", "internal/bounce/testdata/corpus/eml", "the corpus directory")
	flag.Parse()
	if *short {
		*mboxMB, *maildir = "10", 5000
	}
	work, err := os.MkdirTemp("", "bouncebench")
	check(err)
	defer os.RemoveAll(work)
	bin := *dd
	if bin == "" {
		bin = filepath.Join(work, "deliverdoctor")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/deliverdoctor")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as released (docs/startup.md)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		check(cmd.Run())
	}
	files, err := filepath.Glob(filepath.Join(*corpus, "*.eml"))
	check(err)
	if len(files) == 0 {
		check(fmt.Errorf("no corpus in %s", *corpus))
	}
	var msgs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		check(err)
		msgs = append(msgs, b)
	}
	fmt.Printf("bounces: %d corpus messages; %s\n", len(msgs), strings.TrimSpace(loadavg()))
	for _, s := range strings.Split(*mboxMB, ",") {
		var mb int
		if _, err := fmt.Sscan(s, &mb); err != nil || mb <= 0 {
			check(fmt.Errorf("--mbox-mb %q", s))
		}
		path := filepath.Join(work, "bounces.mbox")
		n, big := writeMbox(path, msgs, int64(mb)<<20)
		run(bin, fmt.Sprintf("mbox %5d MB (%d messages, %d of them 8 MB)", mb, n, big), path, n)
		os.Remove(path)
	}
	if *maildir > 0 {
		dir := filepath.Join(work, "Maildir")
		for _, sub := range []string{"cur", "new", "tmp"} {
			check(os.MkdirAll(filepath.Join(dir, sub), 0o755))
		}
		for i := 0; i < *maildir; i++ {
			name := filepath.Join(dir, "cur", fmt.Sprintf("%d.%d.bench:2,S", 1700000000+i, i))
			check(os.Link(files[i%len(files)], name))
		}
		run(bin, fmt.Sprintf("Maildir of %d messages (hard links)", *maildir), dir, *maildir)
		os.RemoveAll(dir)
	}
}

// writeMbox writes rounds of the corpus, each followed by one large bounce,
// until size bytes; it returns the messages written and the large ones.
func writeMbox(path string, msgs [][]byte, size int64) (n, big int) {
	fh, err := os.Create(path)
	check(err)
	w := bufio.NewWriterSize(fh, 1<<20)
	large := largeBounce(8 << 20)
	var written int64
	add := func(m []byte) {
		fmt.Fprintf(w, "From MAILER-DAEMON Thu Dec  4 00:00:00 2026\n")
		written += 44
		for _, line := range bytes.SplitAfter(m, []byte("\n")) {
			// mboxrd: a quoted From_ line gets one more '>'.
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				w.WriteByte('>')
				written++
			}
			w.Write(line)
			written += int64(len(line))
		}
		if len(m) > 0 && m[len(m)-1] != '\n' {
			w.WriteByte('\n')
			written++
		}
		w.WriteByte('\n')
		written++
		n++
	}
	for written < size {
		for _, m := range msgs {
			add(m)
			if written >= size {
				break
			}
		}
		if written < size {
			add(large)
			big++
		}
	}
	check(w.Flush())
	check(fh.Close())
	return n, big
}

// largeBounce is a DSN returning an original with an attachment of about
// size bytes.
func largeBounce(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: sender@example.com\nSubject: Undelivered Mail Returned to Sender\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\n\n" +
		"--B1\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.net.\n\n<big@example.org>: host mx.example.org[192.0.2.9] said: 552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA command)\n\n" +
		"--B1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; big@example.org\nAction: failed\nStatus: 5.3.4\nDiagnostic-Code: smtp; 552 5.3.4 Message size exceeds fixed limit\n\n" +
		"--B1\nContent-Type: message/rfc822\n\nFrom: sender@example.com\nTo: big@example.org\nSubject: the slides\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B2\"\n\n" +
		"--B2\nContent-Type: text/plain\n\nSee attached.\n--B2\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
	raw := make([]byte, 57)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	line := base64.StdEncoding.EncodeToString(raw) + "\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	b.WriteString("--B2--\n--B1--\n")
	return b.Bytes()
}

// run times one `bounces --format jsonl` and prints messages/s, CPU and
// peak RSS.
func run(bin, what, path string, n int) {
	cmd := exec.Command(bin, "bounces", path, "--format", "jsonl")
	var lines countWriter
	cmd.Stdout = &lines
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		fmt.Fprintf(os.Stderr, "%s", stderr.String())
		check(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("bounces: %-50s %7.0f messages/s, %.1f s wall, %.1f s CPU, peak RSS %d MB, %d records\n",
		what, float64(n)/wall.Seconds(), wall.Seconds(), cpu.Seconds(), ru.Maxrss>>10, lines.n)
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return "load average " + strings.Join(f[:3], " ")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bouncebench:", err)
		os.Exit(1)
	}
}
