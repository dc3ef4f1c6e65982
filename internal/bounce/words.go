package bounce

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// nextField finds the first field of s at or after i as strings.Fields
// splits (runs of unicode.IsSpace, an invalid byte not a space): its start
// and end, or start == len(s) when none is left. Walking fields with it
// allocates nothing, where strings.Fields makes a slice per call.
func nextField(s string, i int) (start, end int) {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !asciiSpace[c] {
				break
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += w
	}
	start = i
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiSpace[c] {
				break
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			break
		}
		i += w
	}
	return start, i
}

// asciiSpace is unicode.IsSpace for ASCII.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// collapse joins a text's lines and squeezes white space:
// strings.Join(strings.Fields(s), " "), in one allocation (the result is
// always new: s is often a piece of a whole message, which a substring
// would keep alive).
func collapse(s string) string {
	size, n := 0, 0
	for i := 0; ; n++ {
		start, end := nextField(s, i)
		if start == len(s) {
			break
		}
		size += end - start
		i = end
	}
	if n == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(size + n - 1)
	for i := 0; ; {
		start, end := nextField(s, i)
		if start == len(s) {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[start:end])
		i = end
	}
	return b.String()
}

// firstWord is the first field of s (strings.Fields), up to a '('.
func firstWord(s string) string {
	start, end := nextField(s, 0)
	w, _, _ := strings.Cut(s[start:end], "(")
	return w
}
