// Package sanitize makes strings read off the network (TXT records, SMTP
// banners, bounce texts) safe to print: control characters, including the
// ESC that starts terminal escape sequences, become visible \xNN escapes,
// as do invalid UTF-8 and Unicode bidirectional overrides.
package sanitize

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLen bounds one sanitized string; longer input is cut with a marker so a
// hostile 10 MB record cannot flood a terminal or a report.
const MaxLen = 4096

// Line returns s on one line: newlines and tabs become spaces, other
// control characters become \xNN.
func Line(s string) string { return clean(s, false) }

// Text is Line but keeps newlines (for multi-line banners and diagnostics).
func Text(s string) string { return clean(s, true) }

// Clean reports whether s needs no change.
func Clean(s string) bool { return Text(s) == s }

func clean(s string, keepNL bool) string {
	if isPlain(s) && len(s) <= MaxLen {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), MaxLen) + 16)
	for i := 0; i < len(s); {
		if b.Len() >= MaxLen {
			fmt.Fprintf(&b, "… [%d more bytes]", len(s)-i)
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNL:
			b.WriteByte('\n')
		case r == '\r' && keepNL && i+1 < len(s) && s[i+1] == '\n':
			// CRLF: keep the LF only.
		case r == '\n' || r == '\t' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case isBidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// isBidi reports the Unicode format characters that reorder text on screen
// (RFC 9839 problematic code points; "Trojan Source").
func isBidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// Strings applies Line to each element, returning a new slice.
func Strings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Line(s)
	}
	return out
}

// Truncate cuts s to at most n bytes on a rune boundary and marks the cut
// with "…"; s is returned as it is when it is not longer than n.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
