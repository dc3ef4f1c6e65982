package thp

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReserveMarksHeap checks, in /proc/self/smaps, that the range Reserve
// marked is the heap's and carries the kernel's huge-page flag (VmFlags
// "hg"), where the system is in madvise mode.
func TestReserveMarksHeap(t *testing.T) {
	mode, err := os.ReadFile(modeFile)
	if err != nil || !strings.Contains(string(mode), "[madvise]") {
		t.Skipf("transparent huge pages are not in madvise mode here (%q, %v)", strings.TrimSpace(string(mode)), err)
	}
	start, end, err := reserveRange(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if end-start < 4<<20 {
		t.Fatalf("marked [%#x, %#x): under 4 MB, for an 8 MB block", start, end)
	}
	// The block's last whole huge page is in a mapping that carries the
	// mark (whether the heap then reuses those pages is the runtime's).
	flags := vmFlags(t, end-1)
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the mapping of %#x has VmFlags %q, without hg", end-1, flags)
	}
}

// vmFlags is the VmFlags line of the mapping of /proc/self/smaps that
// holds addr.
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mapping(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping of /proc/self/smaps holds %#x", addr)
	return ""
}

// mapping parses the range of a mapping's first line ("lo-hi perms ...").
func mapping(line string) (lo, hi uintptr, ok bool) {
	r, _, _ := strings.Cut(line, " ")
	a, b, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}

func TestReserveNeedsMadviseMode(t *testing.T) {
	old := modeFile
	t.Cleanup(func() { modeFile = old })
	dir := t.TempDir()
	for _, tc := range []struct {
		mode string
		want error
	}{
		{"[always] madvise never\n", errNotMadvise},
		{"always madvise [never]\n", errNotMadvise},
	} {
		modeFile = filepath.Join(dir, "enabled")
		if err := os.WriteFile(modeFile, []byte(tc.mode), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := reserve(4 << 20); err != tc.want {
			t.Errorf("mode %q: %v, want %v", tc.mode, err, tc.want)
		}
	}
	modeFile = filepath.Join(dir, "absent")
	if err := reserve(4 << 20); err != errUnsupported {
		t.Errorf("no mode file: %v, want %v", err, errUnsupported)
	}
}
