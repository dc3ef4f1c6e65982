package bounce

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPooledReaderNotKept: a parse's results do not refer to the pooled
// buffers parts are decoded into or to the input. Every corpus message is
// parsed and its result printed; then the pooled buffers and the input
// bytes are overwritten, another message parsed through the same buffers,
// and the result must print the same.
func TestPooledReaderNotKept(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	other, err := os.ReadFile(files[len(files)/2])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b := ParseBytes(raw)
		before, _ := json.Marshal(b)
		// Scribble over the pooled decoding buffers, scribble over the
		// input, and parse another message (through the same buffers when
		// the pool keeps them).
		sc := mimeScratchPool.Get().(*mimeScratch)
		for _, b := range [][]byte{sc.dec[:cap(sc.dec)], sc.cs[:cap(sc.cs)], sc.line[:cap(sc.line)]} {
			for i := range b {
				b[i] = '#'
			}
		}
		sc.release()
		for i := range raw {
			raw[i] = '#'
		}
		ParseBytes(other)
		if after, _ := json.Marshal(b); string(after) != string(before) {
			t.Errorf("%s: the result changed when the buffers were reused:\n%s\n%s", filepath.Base(f), before, after)
		}
	}
}

// TestReadBufferReused: ParseAll's workers read each file of a directory
// into one reused buffer, the largest files first so that later, smaller
// ones land on the leftovers of earlier ones; every result must be what
// parsing the file on its own gives.
func TestReadBufferReused(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	type file struct {
		raw  []byte
		want string
	}
	var all []file
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(ParseBytes(raw))
		all = append(all, file{raw, string(j)})
	}
	slices.SortStableFunc(all, func(a, b file) int { return len(b.raw) - len(a.raw) })
	dir := t.TempDir()
	want := map[string]string{}
	for i, f := range all {
		name := filepath.Join(dir, fmt.Sprintf("%04d.eml", i))
		if err := os.WriteFile(name, f.raw, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = f.want
	}
	n := 0
	err = ParseAll([]string{dir}, nil, DefaultMaxSize, 1, func(it Item) error {
		n++
		got, _ := json.Marshal(it.Bounce)
		if it.Err != nil || string(got) != want[it.Name] {
			t.Errorf("%s: %v\n got %s\nwant %s", it.Name, it.Err, got, want[it.Name])
		}
		return nil
	})
	if err != nil || n != len(all) {
		t.Fatalf("ParseAll: %v, %d of %d messages", err, n, len(all))
	}
}
