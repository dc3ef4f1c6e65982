package relay

import (
	"errors"
	"strings"
	"testing"
)

// TestDecideCountsTriedApart (issue 23.11): one attempt tried and lost, five
// never tried, must not read "6 relay attempt(s) got no usable reply".
func TestDecideCountsTriedApart(t *testing.T) {
	res := &Result{Attempts: []Attempt{{Variant: "plain", Kind: KindForeign, Outcome: OutcomeFailed, Error: "timeout"}}}
	p := &prober{sessionErr: errors.New("read: i/o timeout"), sessionFailure: "timeout"}
	for i := 0; i < 5; i++ {
		p.untested = append(p.untested, Step{Variant: Variant{ID: "v", Kind: KindForeign}})
	}
	v, _, why := decide(res, p)
	if v != VerdictUnknown {
		t.Fatalf("verdict %s", v)
	}
	if strings.Contains(why, "6 relay attempt") || !strings.Contains(why, "1 relay attempt(s) got no usable reply") || !strings.Contains(why, "5 were never tried") {
		t.Errorf("why = %q", why)
	}
}
