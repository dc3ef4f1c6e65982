package bounce

import (
	"regexp"
	"sync/atomic"
	"time"
)

// compileStats counts the regular expressions compiled at first use and
// the time spent compiling them (read by tests and benchmarks: every
// process pays it once).
var compileStats struct {
	n    atomic.Int64
	nano atomic.Int64
}

// compileRE is regexp.MustCompile, counted.
func compileRE(expr string) *regexp.Regexp {
	t := time.Now()
	re := regexp.MustCompile(expr)
	compileStats.n.Add(1)
	compileStats.nano.Add(int64(time.Since(t)))
	return re
}
