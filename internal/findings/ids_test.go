package findings

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// idLiteral is a string literal that names a finding: "CHECK.slug".
var idLiteral = regexp.MustCompile(`"(mx|ptr|spf|dkim|dmarc|rbl|smtp|relay|mta-sts|tls-rpt|dnssec|dane|bimi|profile|address|headers|reports|tls|bulk|arc|receive)\.([a-z0-9][a-z0-9-]*)"`)

// notIDs are literals of that shape that are not finding IDs.
var notIDs = []string{
	"smtp.helo", "smtp.mailfrom", "smtp.remote-ip", // Authentication-Results ptypes
	"relay.accepts-", // the prefix of relay.accepts-FAMILY
}

// emittedIDs finds the finding IDs in the source of the packages under
// internal/: the literals, and the IDs built by the helpers that prefix a
// check name (dkim's finding, address's add/fail, relay's families, the
// profile rules).
func emittedIDs(t *testing.T) map[string]string {
	t.Helper()
	ids := map[string]string{}
	dkimHelper := regexp.MustCompile(`\bfinding\("([a-z0-9-]+)"`)
	addrHelper := regexp.MustCompile(`\ba\.(?:fail|add)\("([a-z0-9-]+)"`)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range idLiteral.FindAllStringSubmatch(string(b), -1) {
			if id := m[1] + "." + m[2]; !slices.Contains(notIDs, id) {
				ids[id] = path
			}
		}
		dir := filepath.Base(filepath.Dir(path))
		if dir == "dkim" {
			for _, m := range dkimHelper.FindAllStringSubmatch(string(b), -1) {
				ids["dkim."+m[1]] = path
			}
		}
		if dir == "address" {
			for _, m := range addrHelper.FindAllStringSubmatch(string(b), -1) {
				ids["address."+m[1]] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// spf.RESULT: the check_host() result of --ip (spf/report.go).
	for _, r := range []string{"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"} {
		ids["spf."+r] = "spf/report.go"
	}
	b, err := os.ReadFile("../relay/variants.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && !strings.HasPrefix(l, "#") {
			ids["relay.accepts-"+f[2]] = "relay/variants.txt"
		}
	}
	b, err = os.ReadFile("../profile/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Requirements []struct {
			ID string `json:"id"`
		} `json:"requirements"`
	}
	if err := json.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.Requirements {
		ids["profile."+r.ID] = "profile/rules.json"
	}
	return ids
}

func TestEveryEmittedIDIsDeclared(t *testing.T) {
	t.Parallel()
	for id, where := range emittedIDs(t) {
		if !IsDeclared(id) {
			t.Errorf("%s (in %s) is not declared in internal/findings/ids.txt", id, where)
		}
	}
}

func TestDeclaredIDs(t *testing.T) {
	t.Parallel()
	ids := Declared()
	if len(ids) < 200 {
		t.Fatalf("only %d declared IDs", len(ids))
	}
	for i, id := range ids {
		if i > 0 && ids[i-1] == id {
			t.Errorf("%s declared twice", id)
		}
		if !regexp.MustCompile(`^[a-z-]+\.[a-z0-9][a-z0-9-]*$`).MatchString(id) {
			t.Errorf("%q is not CHECK.lower-case-slug", id)
		}
	}
}

// TestDocumentedIDsAreDeclared: docs/findings.md lists exactly the
// declared IDs, each as `id` at the start of a table row.
func TestDocumentedIDsAreDeclared(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)`").FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(documented)
	declared := Declared()
	for _, id := range declared {
		if _, ok := slices.BinarySearch(documented, id); !ok {
			t.Errorf("%s is declared but not in docs/findings.md", id)
		}
	}
	for _, id := range documented {
		if !IsDeclared(id) {
			t.Errorf("docs/findings.md lists %s, which is not declared", id)
		}
	}
}
