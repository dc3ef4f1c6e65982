package dkim

import (
	"fmt"
	"strings"
)

// Tag is one tag=value pair of a DKIM tag-list (RFC 6376 3.2), as written:
// the value keeps its inner whitespace, its ends are trimmed.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TagListError says where a tag-list is malformed.
type TagListError struct {
	Pos int    // byte offset in the input
	Msg string // what is wrong
}

func (e *TagListError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Pos) }

// parseTagList splits an RFC 6376 3.2 tag-list:
//
//	tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//	tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//	tag-name  =  ALPHA *ALNUMPUNC
//	VALCHAR   =  %x21-3A / %x3C-7E
//
// Empty specs (";;") are tolerated, as every verifier in use does. Control
// characters other than folding whitespace are refused; 8-bit bytes are let
// through (verifiers accept them in n=).
func parseTagList(s string) ([]Tag, error) {
	var tags []Tag
	seen := map[string]bool{}
	pos := 0
	for _, spec := range strings.Split(s, ";") {
		start := pos
		pos += len(spec) + 1
		if strings.TrimSpace(spec) == "" {
			continue
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return tags, &TagListError{Pos: start, Msg: fmt.Sprintf("%q is not a tag=value pair", strings.TrimSpace(spec))}
		}
		name = strings.TrimSpace(name)
		if !validTagName(name) {
			return tags, &TagListError{Pos: start, Msg: fmt.Sprintf("%q is not a valid tag name", name)}
		}
		// RFC 6376 3.2: a tag given twice makes the entire tag-list invalid.
		if seen[name] {
			return tags, &TagListError{Pos: start, Msg: fmt.Sprintf("tag %s= appears more than once", name)}
		}
		seen[name] = true
		value = strings.Trim(value, " \t\r\n")
		for i := 0; i < len(value); i++ {
			if c := value[i]; (c < 0x20 && c != ' ' && c != '\t' && c != '\r' && c != '\n') || c == 0x7f {
				return tags, &TagListError{Pos: start + len(spec) - len(value) + i, Msg: fmt.Sprintf("control character 0x%02x in the value of %s=", c, name)}
			}
		}
		tags = append(tags, Tag{Name: name, Value: value})
	}
	return tags, nil
}

// validTagName: ALPHA *ALNUMPUNC, ALNUMPUNC = ALPHA / DIGIT / "_".
func validTagName(n string) bool {
	if n == "" || !isAlpha(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		if c := n[i]; !isAlpha(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// stripFWS removes all whitespace, as base64 values (p=, b=, bh=) may be
// folded (RFC 6376 3.5, 3.6.1).
func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// splitColonList splits a colon-separated list (h=, s=, t=), trimming
// whitespace and dropping empty items.
func splitColonList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func tagValue(tags []Tag, name string) (string, bool) {
	for _, t := range tags {
		if t.Name == name {
			return t.Value, true
		}
	}
	return "", false
}

// ParseTagList splits an RFC 6376 3.2 tag-list (used by DKIM signatures
// and keys, and by ARC's header fields, RFC 8617 4.1).
func ParseTagList(s string) ([]Tag, error) { return parseTagList(s) }
