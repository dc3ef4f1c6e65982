package bounce

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkACScan: the prefilter's Aho-Corasick pass over the corpus
// messages, case-folded (the automaton is built and its table filled
// before timing); ns/byte.
func BenchmarkACScan(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	var texts [][]byte
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		folded, _ := foldInto(nil, string(raw))
		texts = append(texts, folded)
		n += len(folded)
	}
	freMachine()
	hit := make([]bool, len(freAll))
	for _, t := range texts {
		freAC.scan(t, hit)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range texts {
			freAC.scan(t, hit)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/byte")
}
