package dmarc

import (
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

func TestResultStatus(t *testing.T) {
	for r, want := range map[Result]findings.Status{
		ResultPass: findings.StatusPass, ResultFail: findings.StatusFail,
		ResultNone: findings.StatusWarn, ResultTempError: findings.StatusError,
	} {
		if got := r.Status(); got != want {
			t.Errorf("%s: %s, want %s", r, got, want)
		}
	}
}
