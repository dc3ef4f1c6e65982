//go:build race

package bounce

// The equivalence tests (TestPrefilterAgrees, TestMatcherAgrees) are pure,
// single-goroutine comparisons that the race detector slows about tenfold
// (80 s instead of 6 s) without being able to find anything in them. Under
// -race they take every fourth corpus file; .ci/run also runs them in full
// without -race.
func init() { raceEnabled = true }
