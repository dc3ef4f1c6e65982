// Package ascii holds the byte-level text helpers that protocol grammars
// need: their keywords are ASCII, and a value read off the network may not be
// valid UTF-8, so the Unicode-aware functions of package strings (which
// replace each invalid byte by a three-byte U+FFFD) would change its length.
package ascii

// Lower lowercases ASCII letters only, keeping every other byte (and so
// every offset and the length) as it is. It returns s itself when there is
// nothing to change.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// IsAlnum reports whether c is an ASCII letter or digit (ABNF ALPHA /
// DIGIT).
func IsAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Only reports whether every byte of s is ASCII (below 0x80).
func Only(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
