package bounce

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// naiveHits is what acMachine.scan must answer: every pattern one of whose
// factors occurs in text.
func naiveHits(factors [][]string, text []byte) []bool {
	hit := make([]bool, len(factors))
	for p, fs := range factors {
		for _, f := range fs {
			if bytes.Contains(text, []byte(f)) {
				hit[p] = true
			}
		}
	}
	return hit
}

// TestACConcurrentScans: scans running at the same time on a fresh
// automaton, while its table is still being filled, its states given rows
// and the table grown (from 256 rows), each answer as the naive search's.
// Under -race this is the test of the lock-free reads.
func TestACConcurrentScans(t *testing.T) {
	factors := [][]string{
		{"mailbox unavailable", "mailbox full"}, {"user unknown"}, {"5.7.1"}, {"spam", "spamhaus"},
		{"blocked"}, {"unknown"}, {"quota"}, {"relay access denied"}, {"dmarc"}, {"550 5.7.26"},
		{"no such user"}, {"over quota"}, {"ab", "abc", "bcd"}, {"a"},
	}
	// Many states: a factor per generated word, so the table must grow.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abcdeimnoprstuy .57")
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for i := 0; i < 400; i++ {
		factors = append(factors, []string{word(4 + rng.IntN(8))})
	}
	var texts [][]byte
	for i := 0; i < 64; i++ {
		var b []byte
		for len(b) < 2000 {
			if rng.IntN(4) == 0 {
				fs := factors[rng.IntN(len(factors))]
				b = append(b, fs[rng.IntN(len(fs))]...)
			} else {
				b = append(b, word(1+rng.IntN(6))...)
			}
		}
		texts = append(texts, b)
	}
	want := make([][]bool, len(texts))
	for i, text := range texts {
		want[i] = naiveHits(factors, text)
	}
	m := buildAC(factors)
	var wg sync.WaitGroup
	errs := make(chan string, len(texts))
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range texts {
				i := (k + g*len(texts)/4) % len(texts)
				hit := newBitset(len(factors))
				m.scan(texts[i], hit)
				for p := range factors {
					if hit.has(p) != want[i][p] {
						errs <- fmt.Sprintf("text %d: pattern %d (%q): scan %v, want %v", i, p, factors[p][0], hit.has(p), want[i][p])
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	rows := m.table.p.Load()
	if len(rows.stateOf) <= 256 {
		t.Fatalf("the table has %d rows: the test did not make it grow", len(rows.stateOf))
	}
	if len(rows.stateOf) >= len(m.out) {
		t.Logf("every state has a row (%d)", len(m.out))
	}
}
