package bounce

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// decodeWords makes a diagnostic readable: RFC 2047 encoded words
// ("=?utf-8?B?...?=", which MTAs copy from the address or the reply into
// a DSN field that has no charset of its own) and ISO-2022-JP escape
// sequences (Japanese MTAs write replies in it) become UTF-8. Text that
// does not decode is kept as it is.
func decodeWords(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return decodeISO2022JP(s)
}

// decodeISO2022JP converts text with ISO-2022-JP escape sequences (ESC $ B
// ... ESC ( B) to UTF-8: a part without a charset label, or a DSN field.
func decodeISO2022JP(s string) string {
	if !strings.Contains(s, "\x1b$B") && !strings.Contains(s, "\x1b$@") {
		return s
	}
	if d, _, err := transform.String(japanese.ISO2022JP.NewDecoder(), s); err == nil {
		return d
	}
	return s
}

// decodeAddress decodes RFC 2047 encoded words that an MTA wrote into a
// recipient address ("=?utf-8?B?8J+QiA==?=@example.org" is
// "🐈@example.org", an SMTPUTF8 local part), so the bounce row and
// the suppression list carry the address the mail went to. An address
// whose decoded form would hold spaces, control characters or invalid
// UTF-8 is kept as written: it cannot be a real mailbox, and decoding must
// not let a bounce smuggle terminal escapes into a report.
func decodeAddress(a string) string {
	if !strings.Contains(a, "=?") {
		return a
	}
	d, err := wordDecoder.DecodeHeader(a)
	if err != nil || d == a || !utf8.ValidString(d) {
		return a
	}
	for _, r := range d {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return a
		}
	}
	return d
}
