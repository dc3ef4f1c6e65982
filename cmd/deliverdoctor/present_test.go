package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// TestEveryFormatIsRenderedOrRefused: for every command that checks
// something and every --format, the output is in that format, or the
// command refuses it with exit 2. Nothing prints text for html and exits 0.
func TestEveryFormatIsRenderedOrRefused(t *testing.T) {
	t.Parallel()
	zone := []string{"--zone", "../../examples/example.com.zone", "--offline"}
	commands := [][]string{
		{"check", "example.com"},
		{"mx", "example.com"},
		{"spf", "example.com"},
		{"spf", "example.com", "--ip", "192.0.2.25"},
		{"dmarc", "example.com"},
		{"dmarc", "example.com", "--ip", "192.0.2.25"},
		{"dkim", "example.com", "--selector", "s1"},
		{"mta-sts", "example.com"},
		{"rbl", "example.com"},
		{"ptr", "192.0.2.25"},
		{"address", "bob@example.com"},
	}
	looksLike := map[string]func(string) bool{
		"text":     func(s string) bool { return !strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "<") },
		"json":     func(s string) bool { return json.Valid([]byte(s)) },
		"jsonl":    func(s string) bool { return json.Valid([]byte(strings.Split(s, "\n")[0])) },
		"html":     func(s string) bool { return strings.HasPrefix(s, "<!DOCTYPE html>") },
		"markdown": func(s string) bool { return strings.HasPrefix(s, "## ") || strings.HasPrefix(s, "# ") },
		"csv":      func(s string) bool { return strings.HasPrefix(s, "target,") },
		"prometheus": func(s string) bool {
			return strings.HasPrefix(s, "# HELP deliverdoctor_") || strings.HasPrefix(s, "# TYPE deliverdoctor_")
		},
	}
	for _, format := range report.Formats() {
		check, ok := looksLike[format]
		if !ok {
			t.Fatalf("no check for format %s: add one", format)
		}
		for _, c := range commands {
			args := append(append(append([]string{}, c...), zone...), "--format", format)
			out, stderr, code := runCLI(t, args...)
			if code == 2 {
				if !strings.Contains(stderr, "is not supported") {
					t.Errorf("%v: exit 2 but %q", args, stderr)
				}
				continue
			}
			if !check(out) {
				t.Errorf("%v: exit %d, output is not %s:\n%s", args, code, format, out)
			}
		}
	}
}
