// Package txtrecord holds what the checks of policies published as DNS TXT
// records share: finding the records of one kind among the TXT strings at a
// name, quoting them as evidence, and the record grammar that MTA-STS
// (RFC 8461 3.1) and TLS-RPT (RFC 8460 3, which copies it) have in common:
//
//	record      = version 1*(field-delim field) [field-delim]
//	version     = %s"v=" VERSION
//	field-delim = *WSP ";" *WSP
//	field       = name "=" value
//	ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//	ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
//
// What each standard requires of its own fields (MTA-STS's id=, TLS-RPT's
// rua=, which repeats are allowed) stays in its package. This is not the
// RFC 6376 tag-list of DKIM, DMARC and BIMI, which allows whitespace around
// "=" and has other name rules.
package txtrecord

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// Kind is one kind of versioned TXT record.
type Kind struct {
	// Version is the value of the leading v= tag: "STSv1", "TLSRPTv1".
	Version string
	// ErrNoRecord and ErrMultipleRecords are what Lookup returns when no
	// TXT string, or more than one, is a record of this kind. Each package
	// passes its own, so callers keep matching them with errors.Is.
	ErrNoRecord, ErrMultipleRecords error
}

// IsRecord reports whether a TXT string is meant as a record of this kind.
// RFC 8461 3.1 and RFC 8460 3 discard records that do not begin with
// "v=VERSION;"; "v=VERSION" followed by white space or the end counts too,
// so that a broken record is reported as broken, not ignored.
func (k Kind) IsRecord(txt string) bool {
	prefix := "v=" + k.Version
	if !strings.HasPrefix(txt, prefix) {
		return false
	}
	rest := txt[len(prefix):]
	return rest == "" || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t'
}

// Lookup finds the records of this kind at name. RFC 8461 3.1 and RFC 8460
// 3: if the number of TXT strings that are records of the kind is not one,
// the domain does not implement the mechanism. It returns the records
// found and the DNS answer; the error is a dnsx error (then nothing else
// is returned), k.ErrNoRecord (with the answer) or k.ErrMultipleRecords
// (with the records and the answer). With a nil error, txts holds exactly
// one record.
func (k Kind) Lookup(ctx context.Context, r dnsx.Resolver, name string) (txts []string, res *dnsx.Result, err error) {
	txts, res, err = Lookup(ctx, r, name, k.IsRecord)
	switch {
	case err != nil:
		return nil, nil, err
	case len(txts) == 0:
		return nil, res, k.ErrNoRecord
	case len(txts) > 1:
		return txts, res, k.ErrMultipleRecords
	}
	return txts, res, nil
}

// LookupParsed is k.Lookup followed by parse of the one record found, the
// whole of a package's LookupRecord. The records found are returned with
// a parse error too, for evidence; with any error the record is R's zero
// value.
func LookupParsed[R any](ctx context.Context, r dnsx.Resolver, k Kind, name string, parse func(string) (R, error)) (R, []string, *dnsx.Result, error) {
	txts, res, err := k.Lookup(ctx, r, name)
	if err != nil {
		var zero R
		return zero, txts, res, err
	}
	rec, err := parse(txts[0])
	return rec, txts, res, err
}

// Field is one name=value field of a record, as written.
type Field struct {
	Name, Value string
}

// Fields checks the record's version and yields its fields in order. At
// the first syntax error it yields the error (with a zero Field) and stops;
// the messages quote at most 60 bytes of the record. Whether a name or
// value is allowed is the caller's to judge (see ValidName, ValidValue),
// as are "v=" repeated and a record without fields.
func (k Kind) Fields(txt string) iter.Seq2[Field, error] {
	return func(yield func(Field, error) bool) {
		prefix := "v=" + k.Version
		if !strings.HasPrefix(txt, prefix) {
			yield(Field{}, fmt.Errorf("must start with %q", prefix))
			return
		}
		rest := txt[len(prefix):]
		for {
			rest = trimWSP(rest)
			if rest == "" {
				return
			}
			if rest[0] != ';' {
				yield(Field{}, fmt.Errorf("expected \";\" before %q", clip(rest)))
				return
			}
			rest = trimWSP(rest[1:])
			if rest == "" {
				return // the optional trailing field-delim
			}
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			field := strings.TrimRight(rest[:end], " \t")
			rest = rest[end:]
			name, value, ok := strings.Cut(field, "=")
			if !ok {
				yield(Field{}, fmt.Errorf("field %q has no \"=\"", clip(field)))
				return
			}
			if !yield(Field{name, value}, nil) {
				return
			}
		}
	}
}

// ValidName reports whether s is an ext-name: (ALPHA / DIGIT)
// *31(ALPHA / DIGIT / "_" / "-" / ".") (RFC 8461 3.1 sts-ext-name, also its
// policy keys in 3.2; RFC 8460 3 tlsrpt-ext-name).
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 32 || !ascii.IsAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !ascii.IsAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// ValidValue reports whether s is an ext-value: 1*(%x21-3A / %x3C /
// %x3E-7E), visible ASCII but ";" and "=" (RFC 8461 3.1 sts-ext-value,
// RFC 8460 3 tlsrpt-ext-value).
func ValidValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}

// Lookup returns the TXT strings at name for which isRecord holds and the
// DNS answer. A DNS error is returned as it is, with nothing else.
func Lookup(ctx context.Context, r dnsx.Resolver, name string, isRecord func(string) bool) ([]string, *dnsx.Result, error) {
	all, res, err := dnsx.LookupTXT(ctx, r, name)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, t := range all {
		if isRecord(t) {
			out = append(out, t)
		}
	}
	return out, res, nil
}

// Evidence quotes each TXT string as a finding's evidence line:
// `NAME TXT "..."`, escaped as Go quotes strings.
func Evidence(name string, txts []string) []string {
	var ev []string
	for _, t := range txts {
		ev = append(ev, fmt.Sprintf("%s TXT %q", name, t))
	}
	return ev
}

func trimWSP(s string) string { return strings.TrimLeft(s, " \t") }

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
