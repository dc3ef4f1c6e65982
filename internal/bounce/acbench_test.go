package bounce

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkACScan: the prefilter's Aho-Corasick pass over the corpus
// messages, case-folded; ns/byte.
func BenchmarkACScan(b *testing.B) {
	freMachine()
	benchScan(b, freAC, len(freAll), 0)
}

// BenchmarkACScanKB: the knowledge base's automaton (8,344 states, the
// larger table) over the first maxMatchText bytes of each corpus message,
// case-folded, as the matcher scans them; ns/byte.
func BenchmarkACScanKB(b *testing.B) {
	benchScan(b, patternMatcher().ac, len(patternMatcher().branches), maxMatchText)
}

// benchScan times m's scans of the folded corpus (each message cut to
// limit bytes, 0: whole) after one untimed pass, and reports ns/byte.
func benchScan(b *testing.B, m *acMachine, nbits, limit int) {
	texts, n := foldedCorpus(b, limit)
	hit := newBitset(nbits)
	for _, t := range texts {
		m.scan(t, hit)
	}
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
	texts, _ := foldedCorpus(b, maxMatchText)
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

// foldedCorpus is every corpus message case-folded as the matcher folds
// text, cut to its first limit bytes (0: whole), and their total length.
func foldedCorpus(b *testing.B, limit int) (texts [][]byte, n int) {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		folded, _ := foldInto(nil, string(raw))
		if limit > 0 {
			folded = folded[:min(len(folded), limit)]
		}
		texts = append(texts, folded)
		n += len(folded)
	}
	return texts, n
}
