//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExplainNonRegularFiles (issue 23.11): a FIFO or a device is refused
// at once (never read: a FIFO blocks, /dev/zero never ends), a symlink loop
// is named as one, a directory as one.
func TestExplainNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.Symlink(b, a)
	os.Symlink(a, b)
	cases := map[string]string{fifo: "named pipe", a: "loop of symbolic links", dir: "is a directory"}
	if _, err := os.Stat("/dev/zero"); err == nil {
		cases["/dev/zero"] = "character device"
	}
	for arg, want := range cases {
		done := make(chan struct{})
		var stderr string
		var code int
		go func() {
			defer close(done)
			_, stderr, code = runCLI(t, "explain", arg)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("explain %s did not return", arg)
		}
		if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, "no such file") || (want != "is a directory" && strings.Contains(stderr, "directory")) {
			t.Errorf("explain %s: exit %d %q, want %q", arg, code, stderr, want)
		}
	}
}
