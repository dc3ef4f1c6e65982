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
	hit := newBitset(len(freAll))
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

// BenchmarkACFirstUse: what a process pays for the knowledge base's
// automaton before it scans at full speed: building it, and filling its
// table on a first scan of the corpus messages (case-folded, the first
// maxMatchText bytes of each).
func BenchmarkACFirstUse(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	var texts [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		folded, _ := foldInto(nil, string(raw))
		texts = append(texts, folded[:min(len(folded), maxMatchText)])
	}
	var factors [][]string
	for _, s := range genMatcherSources {
		subs := s.alts
		if subs == nil {
			subs = []reAnalysis{s.whole}
		}
		for _, a := range subs {
			factors = append(factors, a.factors)
		}
	}
	hit := newBitset(len(factors))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := buildAC(factors)
		for _, t := range texts {
			m.scan(t, hit)
		}
	}
}
