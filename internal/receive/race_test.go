//go:build race

package receive

// The race detector slows go-smtp's byte-at-a-time DATA reader about
// twentyfold; the 100 MB client then sends less.
func init() { raceEnabled = true }
