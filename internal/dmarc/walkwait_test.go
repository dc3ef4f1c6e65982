package dmarc

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// inFlight is a resolver whose first name fails at once and whose other
// names answer only when their context ends; it counts lookups running.
type inFlight struct{ running atomic.Int64 }

func (f *inFlight) Lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Result, error) {
	f.running.Add(1)
	defer f.running.Add(-1)
	if strings.HasPrefix(name, "_dmarc.a.b.") {
		return nil, &dnsx.Error{Name: name, Type: qtype, Reason: "SERVFAIL", Err: dnsx.ErrTemporary}
	}
	<-ctx.Done()
	return nil, &dnsx.Error{Name: name, Type: qtype, Reason: "deadline exceeded", Err: dnsx.ErrTemporary}
}

// TestWalkWaitsForItsGoroutines is the regression test for issue 23.2: the
// walk returned on the first error with lookups still running, which then
// used a resolver scope its target had already released.
func TestWalkWaitsForItsGoroutines(t *testing.T) {
	r := &inFlight{}
	steps, err := treeWalk(context.Background(), r, "a.b.example.com")
	if err == nil || len(steps) != 1 || steps[0].Status != StepError {
		t.Fatalf("steps=%+v err=%v", steps, err)
	}
	if n := r.running.Load(); n != 0 {
		t.Errorf("%d lookups still running after Walk returned", n)
	}
}
