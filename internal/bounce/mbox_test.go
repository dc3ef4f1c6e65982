package bounce

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func collect(t *testing.T, paths []string, stdin string, max int64) []Input {
	t.Helper()
	var got []Input
	err := ReadPaths(paths, strings.NewReader(stdin), max, func(in Input) error {
		got = append(got, in)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	msg := func(n string) string {
		return "From: MAILER-DAEMON@x.example\nSubject: failure " + n + "\n\n<u" + n + "@example.org>: 550 5.1.1 User unknown\n"
	}
	mbox := "From MAILER-DAEMON Thu Jan  1 00:00:00 2025\n" + msg("1") + "\n" +
		"From MAILER-DAEMON Thu Jan  1 00:00:01 2025\n" + msg("2") + ">From the quoted line\n\n" +
		"From MAILER-DAEMON Thu Jan  1 00:00:02 2025\n" + msg("3")
	os.WriteFile(filepath.Join(dir, "box.mbox"), []byte(mbox), 0o600)
	os.WriteFile(filepath.Join(dir, "one.eml"), []byte(msg("4")), 0o600)
	md := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o700)
	}
	os.WriteFile(filepath.Join(md, "cur", "1700000000.a:2,S"), []byte(msg("5")), 0o600)
	os.WriteFile(filepath.Join(md, "new", "1700000001.b"), []byte(msg("6")), 0o600)
	os.WriteFile(filepath.Join(md, "tmp", "1700000002.c"), []byte(msg("7")), 0o600) // not delivered yet: skipped

	got := collect(t, []string{filepath.Join(dir, "box.mbox"), filepath.Join(dir, "one.eml"), md, "-"}, msg("8"), 1<<20)
	var names []string
	for _, in := range got {
		if in.Err != nil {
			t.Errorf("%s: %v", in.Name, in.Err)
		}
		names = append(names, filepath.Base(in.Name))
		b := ParseBytes(in.Data)
		if len(b.Failures) != 1 || !strings.HasPrefix(b.Failures[0].Recipient, "u") {
			t.Errorf("%s: %+v", in.Name, b.Failures)
		}
	}
	want := []string{"box.mbox#1", "box.mbox#2", "box.mbox#3", "one.eml", "1700000000.a:2,S", "1700000001.b", "-"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", names, want)
	}
	if !strings.Contains(string(got[1].Data), "\nFrom the quoted line") {
		t.Errorf("mboxrd quoting not undone: %q", got[1].Data)
	}

	// A message over the limit is read as far as the limit, and says so.
	got = collect(t, []string{filepath.Join(dir, "box.mbox"), filepath.Join(dir, "one.eml")}, "", 40)
	for _, in := range got {
		if in.Err != nil || !in.Truncated || len(in.Data) != 40 || in.Size <= 40 {
			t.Errorf("%s: err %v, truncated %v, %d of %d bytes", in.Name, in.Err, in.Truncated, len(in.Data), in.Size)
		}
	}
	// A plain directory: every file in it.
	got = collect(t, []string{filepath.Join(corpusDir, "eml")}, "", DefaultMaxSize)
	if len(got) < 130 {
		t.Errorf("corpus directory: %d messages", len(got))
	}
	if err := ReadPaths([]string{filepath.Join(dir, "missing")}, nil, 10, func(Input) error { return nil }); err == nil {
		t.Error("missing path: no error")
	}
}

// cpuTime is the process's user+system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCorpus parses every corpus message; msgs/s is per core (run
// with -cpu 1).
func BenchmarkCorpus(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	var data [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	kb()
	for _, d := range data {
		ParseBytes(d) // compile the regexps the corpus needs
	}
	compiled, compileNs := compileStats.n.Load(), compileStats.nano.Load()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range data {
			ParseBytes(d)
		}
	}
	b.StopTimer()
	c1 := cpuTime()
	runtime.ReadMemStats(&m1)
	msgs := float64(len(data) * b.N)
	// CPU time (user+system, GC included) per message: steadier than
	// msgs/s on a shared machine, whose wall clock includes others' work.
	b.ReportMetric(float64((c1-c0).Microseconds())/msgs, "cpu-µs/msg")
	b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/msgs, "allocs/msg")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/msgs, "B/msg")
	// What a process pays once, at first use (meaningful when the
	// benchmark runs alone, -run '^$'): the expressions compiled for the
	// corpus, and the milliseconds spent compiling them.
	b.ReportMetric(float64(compiled), "regexps-compiled")
	b.ReportMetric(float64(compileNs)/1e6, "compile-ms")
}
