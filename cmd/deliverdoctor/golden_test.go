package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// varying are the parts of text output that change from run to run.
var varying = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d+ ms\b`), "N ms"},
	{regexp.MustCompile(`\d+ms\b`), "Nms"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
}

// TestGoldenText pins the text output of every single-check command over
// the engine zone (go test -run TestGoldenText -update rewrites them).
func TestGoldenText(t *testing.T) {
	srv := dnstest.Start(t, engineZone)
	r := "--resolver=" + srv.Addr()
	cases := map[string][]string{
		"mx-good":          {"mx", "good.example"},
		"mx-nullmx":        {"mx", "nullmx.example"},
		"ptr":              {"ptr", "192.0.2.10"},
		"spf-loose":        {"spf", "loose.example"},
		"spf-ip":           {"spf", "good.example", "--ip", "192.0.2.25"},
		"dkim":             {"dkim", "good.example", "--selector", "s1"},
		"dmarc-nospf":      {"dmarc", "nospf.example"},
		"dmarc-ip":         {"dmarc", "good.example", "--ip", "192.0.2.25", "--dkim-domain", "good.example"},
		"mta-sts-dane":     {"mta-sts", "dane.example"},
		"rbl-ip":           {"rbl", "192.0.2.25", "--dnsbl", "bl.test"},
		"check-good-some":  {"check", "good.example", "--checks", "mx,spf,dmarc"},
		"check-loose-spf":  {"check", "loose.example", "--checks", "spf"},
		"address-nullmx":   {"address", "bob@nullmx.example"},
		"address-badsyntx": {"address", "bob@@good.example"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, stderr, _ := runCLI(t, append(args, r, "--no-color")...)
			got := out + stderr
			for _, v := range varying {
				got = v.re.ReplaceAllString(got, v.with)
			}
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", strings.Join(args, " "), path, got)
			}
		})
	}
}
