package bounce

import (
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
)

// indexFold returns the byte offset in s of the first match of sub, ASCII
// letters compared without case, or -1. sub must be ASCII and lower case.
// Unlike strings.Index(strings.ToLower(s), sub) the offset is one of s
// itself, whatever bytes s holds.
func indexFold(s, sub string) int {
	n := len(sub)
	if n == 0 {
		return 0
	}
	first := sub[0]
	upper := first
	if first >= 'a' && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); i++ {
		c := s[i]
		if c != first && c != upper {
			continue
		}
		if hasPrefixFold(s[i:], sub) {
			return i
		}
	}
	return -1
}

// hasPrefixFold reports whether s starts with sub (ASCII, lower case),
// ignoring ASCII case in s.
func hasPrefixFold(s, sub string) bool {
	if len(s) < len(sub) {
		return false
	}
	for j := 0; j < len(sub); j++ {
		c := s[j]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != sub[j] {
			return false
		}
	}
	return true
}

// lastIndexFold is indexFold from the end.
func lastIndexFold(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		if hasPrefixFold(s[i:], sub) {
			return i
		}
	}
	return -1
}

// indexFoldAny is indexFold for any sub: ASCII letters of an ASCII sub
// match without case; a sub with other bytes must match exactly.
func indexFoldAny(s, sub string) int {
	for i := 0; i < len(sub); i++ {
		if sub[i] >= 0x80 {
			return strings.Index(s, sub)
		}
	}
	return indexFold(s, ascii.Lower(sub))
}
