package dmarcreport

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// node is an element of the forgiving XML tree: a local name in lower
// case, its text and its child elements.
type node struct {
	name     string
	text     strings.Builder
	children []*node
}

// child returns the first child element called name, or nil.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// path follows child names; nil when one is missing.
func (n *node) path(names ...string) *node {
	for _, name := range names {
		n = n.child(name)
		if n == nil {
			return nil
		}
	}
	return n
}

// value is the trimmed, valid-UTF-8 text of the element at path ("" when
// absent).
func (n *node) value(names ...string) string {
	n = n.path(names...)
	if n == nil {
		return ""
	}
	return cleanText(n.text.String())
}

// find returns the first element called name at any depth below n
// (breadth first), for the draft schemas that nest differently.
func (n *node) find(name string) *node {
	if n == nil {
		return nil
	}
	queue := []*node{n}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range cur.children {
			if c.name == name {
				return c
			}
		}
		queue = append(queue, cur.children...)
	}
	return nil
}

func cleanText(s string) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// maxDepth bounds element nesting: a report is four levels deep, hostile
// input can be a million.
const maxDepth = 64

// maxElements bounds the tree: about 100 MB of nodes, a report of 50,000
// rows. A file of nothing but "<a/>" must not cost 20 times its size.
const maxElements = 1 << 20

// parseXML builds a tree from data the way a recovering parser would: an
// unknown or malformed tag ("<bad-xml@example.com>", "bad<xml") is text,
// an end tag closes the nearest open element of its name (closing the
// ones left open inside it) and is ignored when none is open, and the end
// of input closes everything. Namespaces are dropped: RFC 9990's
// urn:ietf:params:xml:ns:dmarc-2.0 elements are the same elements. The
// returned root is a synthetic element holding the document's top-level
// elements.
func parseXML(data []byte) (root *node, complete bool) {
	root = &node{name: "#document"}
	elements := 0
	stack := []*node{root}
	top := func() *node { return stack[len(stack)-1] }
	i := 0
	for i < len(data) {
		if data[i] != '<' {
			j := i + 1
			for j < len(data) && data[j] != '<' {
				j++
			}
			appendText(top(), data[i:j])
			i = j
			continue
		}
		rest := data[i:]
		switch {
		case hasPrefix(rest, "<!--"):
			i = skipPast(data, i+4, "-->")
			continue
		case hasPrefix(rest, "<![CDATA["):
			end := indexFrom(data, i+9, "]]>")
			if end < 0 {
				top().text.Write(data[i+9:])
				i = len(data)
			} else {
				top().text.Write(data[i+9 : end])
				i = end + 3
			}
			continue
		case hasPrefix(rest, "<?"):
			i = skipPast(data, i+2, "?>")
			continue
		case hasPrefix(rest, "<!"):
			i = skipPast(data, i+2, ">")
			continue
		}
		closing := len(rest) > 1 && rest[1] == '/'
		start := i + 1
		if closing {
			start++
		}
		j := start
		for j < len(data) && isNameByte(data[j], j == start) {
			j++
		}
		name := data[start:j]
		// After the name: white space, "/" or ">" — anything else means
		// this "<" is not markup ("<bad-xml@example.com>").
		if len(name) == 0 || j >= len(data) || !(data[j] == '>' || data[j] == '/' || isSpace(data[j])) {
			top().text.WriteByte('<')
			i++
			continue
		}
		// The tag ends at the next ">", unless a "<" comes first: then the
		// tag was never closed and the "<" is text ("bad<xml.net</x>").
		k := j
		for k < len(data) && data[k] != '>' && data[k] != '<' {
			k++
		}
		if k >= len(data) || data[k] == '<' {
			top().text.WriteByte('<')
			i++
			continue
		}
		local := localName(name)
		i = k + 1
		if closing {
			for d := len(stack) - 1; d > 0; d-- {
				if stack[d].name == local {
					stack = stack[:d]
					break
				}
			}
			continue
		}
		selfClosing := data[k-1] == '/'
		if elements++; elements > maxElements {
			return root, false
		}
		n := &node{name: local}
		parent := top()
		parent.children = append(parent.children, n)
		if !selfClosing && len(stack) < maxDepth {
			stack = append(stack, n)
		}
	}
	return root, true
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

func indexFrom(data []byte, from int, s string) int {
	if from > len(data) {
		return -1
	}
	k := bytes.Index(data[from:], []byte(s))
	if k < 0 {
		return -1
	}
	return from + k
}

// skipPast returns the position after the next s at or after from (the
// end of data when there is none).
func skipPast(data []byte, from int, s string) int {
	k := indexFrom(data, from, s)
	if k < 0 {
		return len(data)
	}
	return k + len(s)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isNameByte accepts the ASCII subset of XML 1.0 name characters plus any
// non-ASCII byte.
func isNameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':', c >= 0x80:
		return true
	case c >= '0' && c <= '9', c == '-', c == '.':
		return !first
	}
	return false
}

// knownNames are the element names of the report schemas: looking them up
// costs no allocation per tag (the compiler does not copy b for a map
// index), which matters for reports of thousands of rows.
var knownNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"feedback", "version", "report_metadata", "org_name", "email", "extra_contact_info",
		"report_id", "date_range", "begin", "end", "error", "generator", "policy_published", "domain", "adkim", "aspf",
		"p", "sp", "np", "pct", "fo", "testing", "discovery_method", "record", "row", "source_ip", "count",
		"policy_evaluated", "disposition", "dkim", "spf", "reason", "type", "comment", "identifiers", "header_from",
		"envelope_from", "envelope_to", "auth_results", "selector", "result", "human_result", "scope"} {
		m[n] = n
	}
	return m
})

// localName drops a namespace prefix and lower-cases.
func localName(b []byte) string {
	if n, ok := knownNames()[string(b)]; ok {
		return n
	}
	s := string(b)
	if k := strings.LastIndexByte(s, ':'); k >= 0 {
		s = s[k+1:]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// appendText adds character data to n, decoding the predefined entities
// and character references; an unknown entity stays as written.
func appendText(n *node, b []byte) {
	if n.name == "#document" {
		return
	}
	// White space between elements is not a value (values are trimmed):
	// skip it before it costs a copy.
	if n.text.Len() == 0 {
		i := 0
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		b = b[i:]
	}
	for len(b) > 0 {
		amp := -1
		for k, c := range b {
			if c == '&' {
				amp = k
				break
			}
		}
		if amp < 0 {
			n.text.Write(b)
			return
		}
		n.text.Write(b[:amp])
		b = b[amp:]
		semi := -1
		for k := 1; k < len(b) && k < 12; k++ {
			if b[k] == ';' {
				semi = k
				break
			}
		}
		if semi < 0 {
			n.text.WriteByte('&')
			b = b[1:]
			continue
		}
		if r, ok := entity(string(b[1:semi])); ok {
			n.text.WriteString(r)
		} else {
			n.text.Write(b[:semi+1])
		}
		b = b[semi+1:]
	}
}

func entity(name string) (string, bool) {
	switch name {
	case "lt":
		return "<", true
	case "gt":
		return ">", true
	case "amp":
		return "&", true
	case "quot":
		return `"`, true
	case "apos":
		return "'", true
	}
	if len(name) > 1 && name[0] == '#' {
		var v uint64
		var err error
		if name[1] == 'x' || name[1] == 'X' {
			v, err = strconv.ParseUint(name[2:], 16, 32)
		} else {
			v, err = strconv.ParseUint(name[1:], 10, 32)
		}
		if err == nil && utf8.ValidRune(rune(v)) && v != 0 {
			return string(rune(v)), true
		}
	}
	return "", false
}
