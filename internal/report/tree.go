package report

import (
	"fmt"
	"io"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// TreeNode is a node of a tree drawn for a person (the SPF include tree):
// its own line, an optional line under it, and its children in order.
type TreeNode struct {
	Line     string
	Body     string
	Children []TreeNode
}

// WriteTree draws root and everything under it with box-drawing branches:
//
//	root
//	│   body
//	├── child
//	└── last child
//
// Every line is sanitized (the text comes from the network).
func WriteTree(w io.Writer, root TreeNode) {
	writeTreeNode(w, root, "", "")
}

func writeTreeNode(w io.Writer, n TreeNode, first, rest string) {
	fmt.Fprintf(w, "%s%s\n", first, sanitize.Line(n.Line))
	if n.Body != "" {
		bar := "    "
		if len(n.Children) > 0 {
			bar = "│   "
		}
		fmt.Fprintf(w, "%s%s%s\n", rest, bar, sanitize.Line(n.Body))
	}
	for i, c := range n.Children {
		branch, cont := "├── ", "│   "
		if i == len(n.Children)-1 {
			branch, cont = "└── ", "    "
		}
		writeTreeNode(w, c, rest+branch, rest+cont)
	}
}
