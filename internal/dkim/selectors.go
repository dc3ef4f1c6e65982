package dkim

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

//go:embed selectors.tsv
var selectorsTSV string

// KnownSelector is one entry of the built-in selector list.
type KnownSelector struct {
	Selector string `json:"selector"`
	UsedBy   string `json:"used_by"`
	Source   string `json:"source"`
}

// knownSelectors is parsed from the embedded file at first use.
var knownSelectors = sync.OnceValue(func() []KnownSelector { return mustParseSelectors(selectorsTSV) })

// builtinSelectors are knownSelectors' names, in order. Read only.
var builtinSelectors = sync.OnceValue(func() []string {
	known := knownSelectors()
	out := make([]string, len(known))
	for i, k := range known {
		out[i] = k.Selector
	}
	return out
})

// KnownSelectors returns the built-in list of common selectors, in the
// order of the data file (most used first).
func KnownSelectors() []KnownSelector { return append([]KnownSelector(nil), knownSelectors()...) }

func mustParseSelectors(data string) []KnownSelector {
	var out []KnownSelector
	seen := map[string]bool{}
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[0] == "" || f[2] == "" {
			panic(fmt.Sprintf("dkim: selectors.tsv line %d: want selector<TAB>used by<TAB>source", i+1))
		}
		if f[0] != strings.ToLower(strings.TrimSpace(f[0])) {
			panic(fmt.Sprintf("dkim: selectors.tsv line %d: write selector %q in lower case without spaces", i+1, f[0]))
		}
		if seen[f[0]] {
			panic(fmt.Sprintf("dkim: selectors.tsv line %d: %s listed twice", i+1, f[0]))
		}
		seen[f[0]] = true
		out = append(out, KnownSelector{Selector: f[0], UsedBy: f[1], Source: f[2]})
	}
	return out
}

func knownSelector(s string) (KnownSelector, bool) {
	for _, k := range knownSelectors() {
		if k.Selector == s {
			return k, true
		}
	}
	return KnownSelector{}, false
}
