package main

import (
	"strings"
	"testing"
)

// TestDidYouMean (issue 22): mistyped commands and flags get a one-line
// usage error that names what was meant.
func TestDidYouMean(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"chek", "example.com"}, `unknown command "chek" for "deliverdoctor" (did you mean check?)`},
		{[]string{"dkim", "example.com", "--selecter", "s1"}, "unknown flag: --selecter (did you mean --selector?)"},
		{[]string{"check", "example.com", "--formt", "json"}, "(did you mean --format?)"},
		{[]string{"check", "192.0.2.10:25"}, "drop the port (192.0.2.10)"},
	} {
		_, stderr, code := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d %q, want %q", tt.args, code, stderr, tt.want)
		}
	}
	_, stderr, _ := runCLI(t, "check", "example.com", "--zzzzzzzz")
	if strings.Contains(stderr, "did you mean") {
		t.Errorf("nothing close: %q", stderr)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"selecter", "selector", 1}, {"chek", "check", 1}, {"", "abc", 3}, {"same", "same", 0}, {"kitten", "sitting", 3}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}

// TestFlagValueCompletion (issue 22): shell completion offers the values of
// --format, --checks (the last comma-separated item), --profile and
// --provider.
func TestFlagValueCompletion(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "check", "example.com", "--format", "j"}, []string{"json", "jsonl"}},
		{[]string{"__complete", "check", "example.com", "--checks", "spf,dk"}, []string{"spf,dkim"}},
		{[]string{"__complete", "check", "example.com", "--profile", ""}, []string{"gmail", "yahoo", "microsoft", "bulk"}},
		{[]string{"__complete", "explain", "5.1.1", "--provider", "i"}, []string{"icloud"}},
	} {
		out, _, code := runCLI(t, tt.args...)
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, l)
			}
		}
		if code != 0 || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%v: exit %d, got %q, want %q", tt.args[1:], code, got, tt.want)
		}
	}
}
