package bounce

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPooledReaderNotKept: a parse's results do not refer to the pooled
// reader's buffer or to the input. Every corpus message is parsed and its
// result printed; then the pooled reader's buffer and the input bytes are
// overwritten, other messages parsed through the same reader, and the
// result must print the same.
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
		// Fill the pooled reader's buffer with other bytes, scribble over
		// the input, and parse another message (through the same reader
		// when the pool keeps it).
		mr := msgReaderPool.Get().(*msgReader)
		mr.br.Reset(strings.NewReader(strings.Repeat("#", 2*mr.br.Size())))
		mr.br.Peek(mr.br.Size()) //nolint:errcheck // only fills the buffer
		mr.release()
		for i := range raw {
			raw[i] = '#'
		}
		ParseBytes(other)
		if after, _ := json.Marshal(b); string(after) != string(before) {
			t.Errorf("%s: the result changed when the buffers were reused:\n%s\n%s", filepath.Base(f), before, after)
		}
	}
}
