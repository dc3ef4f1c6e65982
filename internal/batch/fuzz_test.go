package batch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// FuzzSource: any input file gives targets or a clear error, never a panic
// or a hang.
func FuzzSource(f *testing.F) {
	f.Add("a.example\n# c\n\nb.example # x\n")
	f.Add("not a domain\n\x00\xff\n192.0.2.1\n")
	f.Fuzz(func(t *testing.T, in string) {
		src, err := NewSource(nil, "-", strings.NewReader(in), Shard{0, 1}, Set{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100000; i++ {
			_, ok, err := src.Next()
			if !ok || err != nil {
				return
			}
		}
		t.Fatal("more targets than lines")
	})
}

// FuzzResume: an --output file of any content is resumed from or refused,
// never a panic; what is kept is whole lines.
func FuzzResume(f *testing.F) {
	f.Add(`{"schema":"deliverdoctor.report/v1","target":"a.example","kind":"domain","status":"pass","checks":[]}` + "\n" + `{"schema":"x","target":"b.exa`)
	f.Add("hello\n")
	path := filepath.Join(f.TempDir(), "out.jsonl")
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, err := OpenOutput(path, true, NewSummary(0), findings.StatusFail)
		if err != nil {
			return
		}
		out.Close()
		b, _ := os.ReadFile(path)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Fatalf("a torn line was kept: %q", b)
		}
	})
}
