// Package batch checks many targets: it streams them from arguments and an
// input file, runs a bounded worker pool, writes each report as it finishes,
// stops cleanly on a signal, resumes from an earlier run's output and keeps
// a summary whose size does not grow with the list.
package batch

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// MaxInputLine bounds one line of input (a target is at most 254 octets; the
// rest is comment).
const MaxInputLine = 64 << 10

// InputError is a problem with the input as a whole (missing, a directory,
// empty, unreadable): the CLI makes it a usage error, exit 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Shard is --shard I/N: this process checks the targets whose name hashes to
// I modulo N. Hashing the name (not the line number) keeps a target on the
// same shard however the list is sorted or grows.
type Shard struct{ I, N int }

// ParseShard parses "I/N"; "" is the whole list.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{0, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4 (Kubernetes: --shard $JOB_COMPLETION_INDEX/N)", s)
	}
	return Shard{i, n}, nil
}

// Keep reports whether name belongs to this shard.
func (s Shard) Keep(name string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%uint32(s.N)) == s.I
}

// Set remembers targets by a 64-bit hash of kind and name, in one
// open-addressed table of hashes: 10-15 bytes a target (a Go map of
// uint64 takes about 38), so the set of a million targets done or seen
// takes 10-15 MB. (Two names share a hash with a probability of about
// 1 in 10^7 at a million names; the second would be skipped.) The zero
// Set is empty and read-only: make one with NewSet.
type Set struct{ t *hashSet }

// NewSet returns an empty set.
func NewSet() Set { return Set{&hashSet{}} }

func key(kind, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(name))
	if k := h.Sum64(); k != 0 {
		return k
	}
	return 1 // 0 marks an empty slot
}

// Add adds a target and reports whether it was new.
func (s Set) Add(kind, name string) bool { return s.t.add(key(kind, name)) }

// Has reports whether the target is in the set.
func (s Set) Has(kind, name string) bool { return s.t != nil && s.t.has(key(kind, name)) }

// Len is the number of targets in the set.
func (s Set) Len() int {
	if s.t == nil {
		return 0
	}
	return s.t.n
}

// hashSet is linear probing over non-zero 64-bit keys. The table grows by
// half when it is 80% full, and a slot is picked by multiply-shift (the
// high bits of key×len), so the size need not be a power of two: the
// table stays between 53% and 80% full, 10-15 bytes a key.
type hashSet struct {
	slots []uint64
	n     int
}

func (h *hashSet) slot(k uint64) int {
	hi, _ := bits.Mul64(k, uint64(len(h.slots)))
	return int(hi)
}

func (h *hashSet) has(k uint64) bool {
	if len(h.slots) == 0 {
		return false
	}
	for i := h.slot(k); ; i++ {
		if i == len(h.slots) {
			i = 0
		}
		switch h.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

func (h *hashSet) add(k uint64) bool {
	if (h.n+1)*5 > len(h.slots)*4 {
		h.grow()
	}
	for i := h.slot(k); ; i++ {
		if i == len(h.slots) {
			i = 0
		}
		switch h.slots[i] {
		case k:
			return false
		case 0:
			h.slots[i] = k
			h.n++
			return true
		}
	}
}

func (h *hashSet) grow() {
	old := h.slots
	h.slots = make([]uint64, max(64, len(old)+len(old)/2))
	h.n = 0
	for _, k := range old {
		if k != 0 {
			h.add(k)
		}
	}
}

// Source yields targets one at a time: first the arguments, then the lines
// of the input. Blank lines and everything after a # are ignored, duplicates
// and targets of other shards are skipped, and so are the targets in Done
// (already complete in the output a run resumes). When resuming, one set
// holds both the targets done and those seen, so a million-target run
// keeps one table of hashes, not two.
type Source struct {
	args  []target.Target
	sc    *bufio.Scanner
	name  string // how to name the input in messages
	shard Shard
	done  Set
	seen  Set
	warn  io.Writer

	line    int
	closer  io.Closer
	Lines   int // target lines read (not blank, not comment), valid or not
	Bad     int // lines that were not a valid target
	Resumed int // targets skipped because Done has them (or, when resuming, a duplicate line of one)
}

// NewSource parses args (an invalid one is an error: the whole run is a
// usage error) and opens input ("" none, "-" stdin). Bad input lines are
// reported on warn as they are met, and skipped.
func NewSource(args []string, input string, stdin io.Reader, sh Shard, done Set, warn io.Writer) (*Source, error) {
	s := &Source{shard: sh, done: done, seen: done, warn: warn}
	if done.Len() == 0 {
		s.seen, s.done = NewSet(), Set{}
	}
	for _, a := range args {
		t, err := target.Parse(a)
		if err != nil {
			return nil, err
		}
		s.args = append(s.args, t)
	}
	if input == "" {
		return s, nil
	}
	r := stdin
	s.name = "--input"
	if input != "-" {
		st, err := os.Stat(input)
		if err != nil {
			return nil, &InputError{fmt.Errorf("--input: %w", err)}
		}
		if st.IsDir() {
			return nil, &InputError{fmt.Errorf("--input %s is a directory: give a file with one target a line (or - for stdin)", input)}
		}
		f, err := os.Open(input)
		if err != nil {
			return nil, &InputError{fmt.Errorf("--input: %w", err)}
		}
		s.closer = f
		r = f
		s.name = "--input " + input
	}
	s.sc = bufio.NewScanner(r)
	s.sc.Buffer(make([]byte, 4096), MaxInputLine)
	return s, nil
}

// Close closes the input file.
func (s *Source) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// Next returns the next target to check; ok is false at the end. An error
// reading the input ends the source.
func (s *Source) Next() (t target.Target, ok bool, err error) {
	for len(s.args) > 0 {
		t, s.args = s.args[0], s.args[1:]
		if s.admit(t) {
			return t, true, nil
		}
	}
	if s.sc == nil {
		return t, false, nil
	}
	for s.sc.Scan() {
		s.line++
		text := s.sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		s.Lines++
		t, err := target.Parse(text)
		if err != nil {
			s.Bad++
			if s.warn != nil {
				fmt.Fprintf(s.warn, "deliverdoctor: %s line %d: %s (skipped)\n", s.name, s.line, oneLine(err.Error()))
			}
			continue
		}
		if s.admit(t) {
			return t, true, nil
		}
	}
	err = s.sc.Err()
	s.sc = nil
	if errors.Is(err, bufio.ErrTooLong) {
		return t, false, &InputError{fmt.Errorf("%s line %d: longer than %d bytes: not a list of targets", s.name, s.line+1, MaxInputLine)}
	}
	if err != nil {
		return t, false, &InputError{fmt.Errorf("%s: reading after line %d: %w", s.name, s.line, err)}
	}
	return t, false, nil
}

func (s *Source) admit(t target.Target) bool {
	if !s.shard.Keep(t.Name) {
		return false
	}
	if !s.seen.Add(string(t.Kind), t.Name) {
		if s.done.t != nil {
			s.Resumed++
		}
		return false
	}
	return true
}

// Empty reports whether the input held no target line at all (only blank
// lines and comments) and there were no arguments: a cron job whose list
// was emptied must not stay green.
func (s *Source) Empty(nargs int) bool { return nargs == 0 && s.Lines == 0 }

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// CountInput counts the target lines of a regular file that belong to sh,
// for a progress bar's total: a quick pass that keeps nothing. It returns -1
// when the total cannot be known (stdin, not a regular file, a read error).
func CountInput(path string, sh Shard) int {
	if path == "" || path == "-" {
		return -1
	}
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return -1
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), MaxInputLine)
	n := 0
	for sc.Scan() {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text != "" && sh.Keep(strings.ToLower(strings.TrimSuffix(text, "."))) {
			n++
		}
	}
	if sc.Err() != nil {
		return -1
	}
	return n
}
