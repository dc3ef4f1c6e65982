package bounce

import (
	"crypto/sha256"
	_ "embed" // the generated automata
	"encoding/binary"
	"unsafe"
)

// The two Aho-Corasick automata (the knowledge base's and the prefilter's)
// as go generate writes them (acgen_test.go, TestACGenerated -update-ac):
// built once from the factor lists and stored whole, so that a process
// maps them from the binary instead of building them. They are strings:
// the data stays in the read-only segment and is not copied.
var (
	//go:embed data/ac_kb.bin
	acKBData string
	//go:embed data/ac_fre.bin
	acFreData string
)

// The data's layout, all integers little-endian:
//
//	0    "ddAC" 1 w k-1 0   magic, version, cell width w (2 or 4), shift
//	8    nstates nclass nids npatterns stride   uint32 each
//	28   sha256 of the factor lists (factorHash)
//	60   the byte-to-class table, 256 bytes, then 4 zero bytes
//	320  cells: nstates*stride of w bytes, padded to a multiple of 4
//	     outOff: nstates+1 uint32
//	     outIDs: nids uint32
const (
	acMagic     = "ddAC\x01"
	acHeaderLen = 320
)

// factorHash identifies factor lists: the generated data is used only by a
// process whose factors hash the same. nil and empty lists hash alike
// (both add nothing to the automaton).
func factorHash(factors [][]string) [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, 8<<10)
	buf = binary.AppendUvarint(buf, uint64(len(factors)))
	for _, fs := range factors {
		buf = binary.AppendUvarint(buf, uint64(len(fs)))
		for _, f := range fs {
			buf = binary.AppendUvarint(buf, uint64(len(f)))
			buf = append(buf, f...)
		}
		if len(buf) > 4<<10 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// encodeAC writes m in the layout above, for factors (npatterns lists
// hashing to hash).
func encodeAC(m *acMachine, hash [32]byte, npatterns int) []byte {
	w := 2
	if m.cells16 == nil {
		w = 4
	}
	b := make([]byte, 0, acHeaderLen+m.nstates*m.nclass*w+4*(m.nstates+1+len(m.outIDs))+4)
	b = append(b, acMagic...)
	b = append(b, byte(w), byte(m.shift), 0)
	for _, v := range []int{m.nstates, m.nclass, len(m.outIDs), npatterns, m.stride} {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	b = append(b, hash[:]...)
	b = append(b, m.class[:]...)
	b = append(b, 0, 0, 0, 0)
	for _, c := range m.cells16 {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	for _, c := range m.cells32 {
		b = binary.LittleEndian.AppendUint32(b, c)
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	for _, v := range m.outOff {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	for _, v := range m.outIDs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// loadAC is the automaton over factors: a view over data when data was
// generated from these factors, else built (a stale build: someone changed
// a pattern or an expression and did not run go generate).
func loadAC(data string, factors [][]string) *acMachine {
	if m := decodeAC(data, factorHash(factors), len(factors)); m != nil {
		return m
	}
	return buildAC(factors)
}

// decodeAC is the automaton data holds when it is one of npatterns factor
// lists hashing to hash, else nil. Only the layout's sizes are checked: the
// cells are what TestACGenerated proves current, and reading them all here
// would fault in the pages a scan never visits.
func decodeAC(data string, hash [32]byte, npatterns int) *acMachine {
	if len(data) < acHeaderLen || data[:len(acMagic)] != acMagic || data[28:60] != string(hash[:]) {
		return nil
	}
	w, shift := int(data[5]), int(data[6])
	u32 := func(off int) int { return int(binary.LittleEndian.Uint32([]byte(data[off : off+4]))) }
	nstates, nclass, nids, stride := u32(8), u32(12), u32(16), u32(24)
	if u32(20) != npatterns || (w != 2 && w != 4) || shift > 7 || stride%(2<<shift) != 0 ||
		nstates < 1 || nstates > 1<<24 || nclass < 1 || nclass > 256 || stride < nclass || stride > 512 {
		return nil
	}
	// The largest cell must fit the width, and every class a row.
	if top := int64(nstates-1) * int64(stride) >> shift; (w == 2 && top|1 > 0xffff) || top|1 > 0xffffffff {
		return nil
	}
	top := 0
	for i := 60; i < 60+256; i++ {
		top = max(top, int(data[i]))
	}
	if top+1 != nclass {
		return nil
	}
	cellsLen := (nstates*stride*w + 3) &^ 3
	if len(data) != acHeaderLen+cellsLen+4*(nstates+1+nids) {
		return nil
	}
	m := &acMachine{nclass: nclass, nstates: nstates, stride: stride, shift: uint(shift), static: true}
	m.class = (*[256]uint8)(unsafe.Pointer(unsafe.StringData(data[60:])))
	cells := data[acHeaderLen : acHeaderLen+cellsLen]
	if w == 2 {
		m.cells16 = view[uint16](cells[:nstates*stride*2])
	} else {
		m.cells32 = view[uint32](cells)
	}
	rest := data[acHeaderLen+cellsLen:]
	m.outOff = view[uint32](rest[:4*(nstates+1)])
	m.outIDs = view[uint32](rest[4*(nstates+1):])
	return m
}

// littleEndian: the generated data's byte order is the machine's.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// view is s read as little-endian uint16s or uint32s: s's own bytes when
// the machine is little-endian and s aligned, else a copy.
func view[T uint16 | uint32](s string) []T {
	w := int(unsafe.Sizeof(T(0)))
	n := len(s) / w
	if n == 0 {
		return []T{}
	}
	p := unsafe.StringData(s)
	if littleEndian && uintptr(unsafe.Pointer(p))%uintptr(w) == 0 {
		return unsafe.Slice((*T)(unsafe.Pointer(p)), n)
	}
	out := make([]T, n)
	for i := range out {
		var v T
		for k := w - 1; k >= 0; k-- {
			v = v<<8 | T(s[w*i+k])
		}
		out[i] = v
	}
	return out
}
