package bounce

import (
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unsafe"
)

var updateAC = flag.Bool("update-ac", false, "rewrite data/ac_*.bin from the knowledge base's patterns and the prefiltered expressions")

const (
	acKBFile  = "data/ac_kb.bin"
	acFreFile = "data/ac_fre.bin"
)

// kbFactors is the factor lists of the knowledge base's matcher, worked
// out from the patterns (not from re_gen.go).
func kbFactors(t testing.TB) [][]string {
	ms, err := matcherSources(kb().patterns)
	if err != nil {
		t.Fatal(err)
	}
	return matcherFactors(ms)
}

// freFactorLists is the prefilter's factor lists, worked out from the
// registered expressions.
func freFactorLists() [][]string {
	var factors [][]string
	for _, s := range freSources() {
		factors = append(factors, s.whole.factors)
		for _, a := range s.alts {
			factors = append(factors, a.factors)
		}
	}
	return factors
}

func renderAC(factors [][]string) []byte {
	return encodeAC(buildAC(factors), factorHash(factors), len(factors))
}

// TestACGenerated proves data/ac_*.bin are current: each file is what
// the generator writes today from the factors worked out at run time, the
// binary embeds it, and the engine uses it (its automata are views over
// the generated data, not built). After changing a pattern or a mustFre
// expression: go generate ./internal/bounce.
func TestACGenerated(t *testing.T) {
	kbf, fref := kbFactors(t), freFactorLists()
	freSetup()
	if len(fref) != len(freFactors) || factorHash(fref) != factorHash(freFactors) {
		t.Fatal("freFactorLists is not the prefilter's factor lists")
	}
	for _, g := range []struct {
		file     string
		embedded string
		factors  [][]string
	}{{acKBFile, acKBData, kbf}, {acFreFile, acFreData, fref}} {
		want := renderAC(g.factors)
		if !checkGenerated(t, g.file, want, *updateAC, "") {
			continue
		}
		if g.embedded != string(want) {
			t.Fatalf("the binary embeds another %s: rebuild", g.file)
		}
	}
	if *updateAC {
		return
	}
	if m := patternMatcher().ac; !m.static {
		t.Fatal("the knowledge base's matcher built its automaton instead of using the generated one")
	}
	freMachine()
	if !freAC.static {
		t.Fatal("the prefilter built its automaton instead of using the generated one")
	}
	// A view, not a copy, where the machine reads the data as it is.
	p := unsafe.Pointer(unsafe.StringData(acKBData[acHeaderLen:]))
	if littleEndian && uintptr(p)%4 == 0 && unsafe.Pointer(unsafe.SliceData(patternMatcher().ac.cells16)) != p {
		t.Fatal("the knowledge base's automaton is a copy of the generated data")
	}
	// Other factors do not get the generated automaton.
	other := append([][]string{{"x"}}, kbf[1:]...)
	if m := loadAC(acKBData, other); m.static {
		t.Fatal("loadAC used the generated data for other factors")
	}
	if m := loadAC(acKBData, kbf[1:]); m.static {
		t.Fatal("loadAC used the generated data for fewer factors")
	}
}

// TestACDecodeRejects: truncated or altered data is not used (and does not
// panic); loadAC builds the automaton instead.
func TestACDecodeRejects(t *testing.T) {
	kbf := kbFactors(t)
	h := factorHash(kbf)
	if decodeAC(acKBData, h, len(kbf)) == nil {
		t.Fatal("the generated data does not decode")
	}
	for _, n := range []int{0, 4, 55, acHeaderLen - 1, acHeaderLen, len(acKBData) - 1} {
		if decodeAC(acKBData[:n], h, len(kbf)) != nil {
			t.Errorf("data cut to %d bytes decoded", n)
		}
	}
	for _, off := range []int{0, 4, 5, 8, 12, 16, 20, 30} {
		b := []byte(acKBData)
		b[off] ^= 0x40
		if decodeAC(string(b), h, len(kbf)) != nil {
			t.Errorf("data with byte %d changed decoded", off)
		}
	}
	if m := loadAC("", kbf); m.static || m.nstates < 2 {
		t.Fatal("loadAC of no data did not build the automaton")
	}
}

// acPairs is each generated automaton (as the engine uses it) with the same
// one built at run time from the factors, and the factors.
var acPairs = sync.OnceValue(func() (pairs []struct {
	name          string
	static, built *acMachine
	factors       [][]string
}) {
	freMachine()
	ms, err := matcherSources(kb().patterns)
	if err != nil {
		panic(err)
	}
	kbf := matcherFactors(ms)
	for _, p := range []struct {
		name    string
		m       *acMachine
		factors [][]string
	}{{"kb", patternMatcher().ac, kbf}, {"fre", freAC, freFactors}} {
		pairs = append(pairs, struct {
			name          string
			static, built *acMachine
			factors       [][]string
		}{p.name, p.m, buildAC(p.factors), p.factors})
	}
	return pairs
})

// acAgree checks that the generated and the run-time built automata find
// the same patterns in text, and with want (the naive search's) when given.
func acAgree(t testing.TB, text []byte, naive bool) {
	for _, p := range acPairs() {
		if !p.static.static || p.built.static {
			t.Fatalf("%s: the engine's automaton is not the generated one", p.name)
		}
		hs, hb := newBitset(len(p.factors)), newBitset(len(p.factors))
		p.static.scan(text, hs)
		p.built.scan(text, hb)
		var want []bool
		if naive {
			want = naiveHits(p.factors, text)
		}
		for i := range p.factors {
			if hs.has(i) != hb.has(i) || (naive && hs.has(i) != want[i]) {
				t.Fatalf("%s: pattern %d %q on %q: generated %v, built %v", p.name, i, p.factors[i], text, hs.has(i), hb.has(i))
			}
		}
	}
}

// TestACStaticAgrees: on every corpus message (case-folded, whole), the
// generated automata and the ones built at run time hit the same patterns,
// the naive search's.
func TestACStaticAgrees(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	if len(files) < 100 {
		t.Fatalf("%d corpus files", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		folded, _ := foldInto(nil, string(raw))
		acAgree(t, folded, true)
	}
}

// FuzzACStatic: on any text the generated automata hit what the run-time
// built ones and the naive search hit.
func FuzzACStatic(f *testing.F) {
	for _, s := range []string{"", "550 5.1.1 user unknown", "Mailbox FULL over quota", "spamhaus.org blocked 5.7.1",
		"relay access denied\x00\xff", "dmarc policy reject p=reject"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		if len(text) > 4096 {
			text = text[:4096]
		}
		folded, _ := foldInto(nil, string(text))
		acAgree(t, folded, true)
		acAgree(t, text, false)
	})
}

// TestView: view reads little-endian values from aligned data in place
// and from misaligned data (the copying path) alike.
func TestView(t *testing.T) {
	raw := make([]byte, 1+4*5)
	for i := range raw {
		raw[i] = byte(i*37 + 11)
	}
	s := string(raw)
	for off := 0; off < 4; off++ {
		d := s[off : off+16]
		v16, v32 := view[uint16](d), view[uint32](d)
		for i := range v16 {
			if want := binary.LittleEndian.Uint16([]byte(d[2*i:])); v16[i] != want {
				t.Errorf("offset %d: view[uint16][%d] = %#x, want %#x", off, i, v16[i], want)
			}
		}
		for i := range v32 {
			if want := binary.LittleEndian.Uint32([]byte(d[4*i:])); v32[i] != want {
				t.Errorf("offset %d: view[uint32][%d] = %#x, want %#x", off, i, v32[i], want)
			}
		}
		if len(v16) != 8 || len(v32) != 4 {
			t.Errorf("offset %d: %d and %d values", off, len(v16), len(v32))
		}
	}
}
