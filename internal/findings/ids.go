package findings

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
)

// idsText is the declared finding IDs, one a line, grouped by check.
//
//go:embed ids.txt
var idsText string

var declared = sync.OnceValue(func() []string {
	var ids []string
	for _, l := range strings.Split(idsText, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ids = append(ids, l)
		}
	}
	slices.Sort(ids)
	return ids
})

// Declared returns every declared finding ID, sorted.
func Declared() []string { return slices.Clone(declared()) }

// IsDeclared reports whether id is a declared finding ID.
func IsDeclared(id string) bool {
	_, ok := slices.BinarySearch(declared(), id)
	return ok
}
