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

// TestACConcurrentScans: scans running at the same time on one run-time
// built automaton with many states, each answer as the naive search's.
// Under -race this proves scans share the automaton read-only.
func TestACConcurrentScans(t *testing.T) {
	factors := [][]string{
		{"mailbox unavailable", "mailbox full"}, {"user unknown"}, {"5.7.1"}, {"spam", "spamhaus"},
		{"blocked"}, {"unknown"}, {"quota"}, {"relay access denied"}, {"dmarc"}, {"550 5.7.26"},
		{"no such user"}, {"over quota"}, {"ab", "abc", "bcd"}, {"a"}, nil, {},
	}
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
				if len(fs) > 0 {
					b = append(b, fs[rng.IntN(len(fs))]...)
				}
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
						errs <- fmt.Sprintf("text %d: pattern %d (%q): scan %v, want %v", i, p, factors[p], hit.has(p), want[i][p])
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
}

// TestACWideCells: an automaton of 32,768 states or more has uint32
// cells, scans as the naive search, and survives encoding and decoding.
func TestACWideCells(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var factors [][]string
	for len(factors) < 3000 {
		b := make([]byte, 12+rng.IntN(8))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		factors = append(factors, []string{string(b)})
	}
	m := buildAC(factors)
	if m.cells32 == nil || m.cells16 != nil || m.nstates < 1<<15 {
		t.Fatalf("%d states: cells16 %v, cells32 %v", m.nstates, m.cells16 != nil, m.cells32 != nil)
	}
	h := factorHash(factors)
	d := decodeAC(string(encodeAC(m, h, len(factors))), h, len(factors))
	if d == nil || d.cells32 == nil {
		t.Fatal("the encoded automaton does not decode")
	}
	var text []byte
	for len(text) < 20000 {
		if rng.IntN(3) == 0 {
			text = append(text, factors[rng.IntN(len(factors))][0]...)
		} else {
			text = append(text, byte('a'+rng.IntN(26)))
		}
	}
	want := naiveHits(factors, text)
	for _, mm := range []*acMachine{m, d} {
		hit := newBitset(len(factors))
		mm.scan(text, hit)
		for p := range factors {
			if hit.has(p) != want[p] {
				t.Fatalf("pattern %d: scan %v, want %v", p, hit.has(p), want[p])
			}
		}
	}
}
