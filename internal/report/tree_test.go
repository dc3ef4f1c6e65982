package report

import (
	"strings"
	"testing"
)

func TestWriteTree(t *testing.T) {
	tests := []struct {
		name string
		root TreeNode
		want string
	}{
		{"leaf", TreeNode{Line: "a"}, "a\n"},
		{"body without children", TreeNode{Line: "a", Body: "v=spf1 -all"}, "a\n    v=spf1 -all\n"},
		{"nested", TreeNode{Line: "root", Body: "rec", Children: []TreeNode{
			{Line: "one"},
			{Line: "two", Body: "rec2", Children: []TreeNode{{Line: "two.a"}, {Line: "two.b"}}},
			{Line: "three", Body: "rec3"},
		}}, `root
│   rec
├── one
├── two
│   │   rec2
│   ├── two.a
│   └── two.b
└── three
        rec3
`},
		{"hostile text is escaped", TreeNode{Line: "a\x1b[2J", Body: "b\nc"}, "a\\x1b[2J\n    b c\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		WriteTree(&b, tt.root)
		if b.String() != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, b.String(), tt.want)
		}
	}
}
