package spf

import (
	"fmt"
	"io"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// WriteTree renders the include/redirect tree for a person: each record
// with what its lookups cost, each DNS-querying term with what it found.
// Strings from the DNS are sanitized.
func WriteTree(w io.Writer, n *Node) {
	writeNode(w, n, "", "")
}

func writeNode(w io.Writer, n *Node, first, rest string) {
	head := n.Domain
	if n.Term != "" {
		head = n.Term
	}
	info := ""
	switch n.Status {
	case "ok":
		// An include or redirect shows what it costs the record, itself
		// counted (as the lookup evidence does); the root its total.
		info = fmt.Sprintf("  [%s]", plural(n.Cost(), "lookup"))
		if n.TotalVoid > 0 {
			info = fmt.Sprintf("  [%s, %d void]", plural(n.Cost(), "lookup"), n.TotalVoid)
		}
	default:
		info = "  [" + strings.ReplaceAll(n.Status, "-", " ") + "]"
	}
	fmt.Fprintf(w, "%s%s%s\n", first, sanitize.Line(head), info)
	body := rest + "    "
	if len(n.Children) > 0 || len(lookupTerms(n)) > 0 {
		body = rest + "│   "
	}
	switch {
	case n.Record != "":
		fmt.Fprintf(w, "%s%s\n", body, sanitize.Line(n.Record))
	case n.Error != "":
		fmt.Fprintf(w, "%s%s\n", body, sanitize.Line(n.Error))
	}
	// Children and annotated terms, in record order.
	type item struct {
		line  string
		child *Node
	}
	var items []item
	for i, ti := range n.Terms {
		var child *Node
		for _, c := range n.Children {
			if c.termIdx == i {
				child = c
			}
		}
		switch {
		case child != nil:
			items = append(items, item{child: child})
		case ti.Unreached && ti.Lookup:
			items = append(items, item{line: ti.Text + "  (never evaluated)"})
		case ti.Lookup:
			line := ti.Text
			if ti.Note != "" {
				line += "  → " + ti.Note
			}
			if ti.Void {
				line += "  (void)"
			}
			items = append(items, item{line: line})
		}
	}
	for i, it := range items {
		branch, cont := "├── ", "│   "
		if i == len(items)-1 {
			branch, cont = "└── ", "    "
		}
		if it.child != nil {
			writeNode(w, it.child, rest+branch, rest+cont)
		} else {
			fmt.Fprintf(w, "%s%s%s\n", rest, branch, sanitize.Line(it.line))
		}
	}
}

func lookupTerms(n *Node) []TermInfo {
	var out []TermInfo
	for _, t := range n.Terms {
		if t.Lookup {
			out = append(out, t)
		}
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
