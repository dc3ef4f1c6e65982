package thp

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"unsafe"
)

const (
	hugePage = 2 << 20
	// arena is the Go heap's arena size on 64-bit Linux: the heap grows
	// within 64 MB-aligned arenas.
	arena = 64 << 20
)

// modeFile holds the system's THP mode, the chosen one in brackets:
// "always [madvise] never".
var modeFile = "/sys/kernel/mm/transparent_hugepage/enabled"

func reserve(n int) error {
	_, _, err := reserveRange(n)
	return err
}

// reserveRange is Reserve, which also tells the range it marked (for the
// tests).
func reserveRange(n int) (start, end uintptr, err error) {
	mode, err := os.ReadFile(modeFile)
	if err != nil {
		return 0, 0, errUnsupported
	}
	if !bytes.Contains(mode, []byte("[madvise]")) {
		return 0, 0, errNotMadvise
	}
	// Collection is off while the block is live, so that allocating it
	// does not start a cycle of its own before the one forced below.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	b := make([]byte, n)
	start, end, err = advise(b)
	runtime.KeepAlive(b)
	b = nil
	// The block is garbage now: one collection gives its pages back to the
	// heap, which serves its next allocations from the lowest free
	// addresses, these.
	runtime.GC()
	return start, end, err
}

// advise marks for huge pages the heap from the start of b's arena to the
// end of b's last whole huge page. b is a fresh large block, mapped but
// not yet touched, so the kernel can back each 2 MB of it with one huge
// page on first use; so it can any untouched whole 2 MB below it that the
// heap mapped earlier (a 2 MB range that already has 4 KB pages keeps
// them). Holes in the range (an arena is not all mapped) are no error:
// the mapped parts are marked.
func advise(b []byte) (start, end uintptr, err error) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start = p &^ (arena - 1)
	end = (p + uintptr(len(b))) &^ (hugePage - 1)
	if end <= start {
		return 0, 0, nil
	}
	_, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_HUGEPAGE)
	if e != 0 && e != syscall.ENOMEM {
		return 0, 0, e
	}
	return start, end, nil
}
