package findings

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

func TestDNSError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err      error
		id       string
		severity Severity
		title    string
	}{
		{errors.New("SERVFAIL from 127.0.0.1:53"), "mx.dns-error", SeverityError, "could not look up the MX records of example.com: the DNS did not answer"},
		{fmt.Errorf("lookup: %w", dnsx.ErrInvalidName), "mx.invalid-name", SeverityFail, "the MX records of example.com is not a valid DNS name"},
		{fmt.Errorf("lookup: %w", dnsx.ErrCNAMELoop), "mx.cname-loop", SeverityFail, "the MX records of example.com: its CNAME chain loops or is longer than 10"},
	}
	for _, tt := range tests {
		f := DNSError("mx", "the MX records of example.com", tt.err)
		if f.ID != tt.id || f.Severity != tt.severity || f.Title != tt.title || f.Check != "mx" {
			t.Errorf("%v: got %+v", tt.err, f)
		}
		if !IsDeclared(f.ID) {
			t.Errorf("%s is not declared", f.ID)
		}
		if tt.severity == SeverityError && (!strings.Contains(f.Detail, tt.err.Error()) || !strings.Contains(f.Detail, "not the same as no record") || f.Fix == "") {
			t.Errorf("detail/fix: %+v", f)
		}
	}
	if StatusFromFindings([]Finding{DNSError("mx", "x", errors.New("timeout"))}) != StatusError {
		t.Error("a DNS error must make the check's status error, never fail or pass")
	}
}
