package spf

import (
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// TestEvaluationStatus pins docs/contracts.md's spf --ip exit rule.
func TestEvaluationStatus(t *testing.T) {
	for r, want := range map[Result]findings.Status{
		ResultPass: findings.StatusPass, ResultFail: findings.StatusFail, ResultSoftfail: findings.StatusFail,
		ResultPermerror: findings.StatusFail, ResultNeutral: findings.StatusWarn, ResultNone: findings.StatusWarn,
		ResultTemperror: findings.StatusError,
	} {
		if got := (&Evaluation{Result: r}).Status(); got != want {
			t.Errorf("%s: %s, want %s", r, got, want)
		}
	}
	if got := (&Evaluation{Result: ResultTemperror, Err: ErrOffline}).Status(); got != findings.StatusSkip {
		t.Errorf("offline: %s, want skip", got)
	}
}
