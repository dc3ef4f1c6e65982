package report

import (
	"os"
	"sync"

	"github.com/clipperhouse/displaywidth"
)

// displayWidth is the number of terminal columns s takes: the sum of its
// runes' widths (East Asian wide and fullwidth runes 2, combining marks and
// other zero-width runes 0). Table cells are sanitized before they are
// measured, so they hold no tabs or escape sequences.
//
// It replaces tablewriter's twwidth, whose package init built a 660 KB
// cache and probed the environment in every run of the binary, tables or
// not (about 200 page faults at start-up).
func displayWidth(s string) int {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return len(s)
	}
	opts := widthOptions()
	n := 0
	for _, r := range s {
		n += opts.Rune(r)
	}
	return n
}

// widthOptions counts ambiguous-width runes (such as "…" or "°") as wide
// only when RUNEWIDTH_EASTASIAN=1, the variable go-runewidth and tablewriter
// honour too; the default is narrow, as modern terminals draw them.
var widthOptions = sync.OnceValue(func() displaywidth.Options {
	return displaywidth.Options{EastAsianWidth: os.Getenv("RUNEWIDTH_EASTASIAN") == "1"}
})
