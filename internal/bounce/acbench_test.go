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

// BenchmarkACScanKB: the knowledge base's automaton (8,344 states, the
// larger table) over the first maxMatchText bytes of each corpus message,
// case-folded, as the matcher scans them; ns/byte.
func BenchmarkACScanKB(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	var texts [][]byte
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		folded, _ := foldInto(nil, string(raw))
		texts = append(texts, folded[:min(len(folded), maxMatchText)])
		n += len(texts[len(texts)-1])
	}
	m := patternMatcher().ac
	hit := newBitset(len(patternMatcher().branches))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range texts {
			m.scan(t, hit)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/byte")
}

// BenchmarkACFirstUse: what a process pays for the knowledge base's
// automaton before it scans at full speed, on a first scan of the corpus
// messages (case-folded, the first maxMatchText bytes of each): with the
// generated automaton (generated: hashing the factors and taking a view of
// the data) and with one built at run time (built: a stale build).
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
	factors := matcherFactors(genMatcherSources)
	hit := newBitset(len(factors))
	for _, bc := range []struct {
		name string
		data string
	}{{"generated", acKBData}, {"built", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				m := loadAC(bc.data, factors)
				if m.static != (bc.data != "") {
					b.Fatal("not the automaton this benchmark is about")
				}
				for _, t := range texts {
					m.scan(t, hit)
				}
			}
		})
	}
}
