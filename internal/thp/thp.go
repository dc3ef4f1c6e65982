// Package thp asks the kernel to back the Go heap with transparent huge
// pages, for batches that will fill a heap of several megabytes anyway.
//
// Go's runtime maps its heap in ordinary 4 KB pages unless the system's
// THP mode is "always" (it stopped asking for huge pages itself in Go
// 1.21.1). Every first touch of a heap page is then a page fault; on a
// virtual machine with shadow page tables one costs about 12 µs, and a
// bounce batch that touches 10 MB of heap spends a fifth of its CPU time
// there. In the kernel's default "madvise" mode a process may ask for huge
// pages on a range it names: one 2 MB page is then one fault (about 0.3 µs
// per 4 KB on the same machine, zeroing included).
package thp

import (
	"os"
	"strings"
)

// Reserve grows the heap by n bytes at once, marks that range for huge
// pages, and gives it back to the heap (one forced collection), so that
// the heap's next n bytes are served from huge pages. It is worth it only
// where the program will allocate well past its first collection anyway
// (a batch of hundreds of messages); for a single message the forced
// collection costs more than it saves.
//
// It does nothing, and reports why, where it does not apply: off Linux on
// amd64 (where a huge page is 2 MB and the heap's arenas 64 MB),
// when the system's mode is not "madvise" ("always" already gives the heap
// huge pages, "never" forbids them), or when GODEBUG has disablethp=1
// (Go's own switch for keeping the heap off huge pages).
func Reserve(n int) error {
	if godebugDisables(os.Getenv("GODEBUG")) {
		return errDisabled
	}
	return reserve(n)
}

type reason string

func (r reason) Error() string { return string(r) }

const (
	errDisabled    reason = "thp: GODEBUG=disablethp=1"
	errUnsupported reason = "thp: not supported on this system"
	errNotMadvise  reason = "thp: the system's transparent huge page mode is not \"madvise\""
)

// godebugDisables reports whether a GODEBUG value turns huge pages off
// (the last setting of disablethp wins, as in the runtime).
func godebugDisables(v string) bool {
	off := false
	for len(v) > 0 {
		var kv string
		kv, v, _ = strings.Cut(v, ",")
		if k, val, ok := strings.Cut(kv, "="); ok && k == "disablethp" {
			off = val == "1"
		}
	}
	return off
}
