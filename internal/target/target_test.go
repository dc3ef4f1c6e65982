package target

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, name string
		kind     Kind
		email    bool
		uni      string
	}{
		{"example.com", "example.com", KindDomain, false, ""},
		{"Example.COM.", "example.com", KindDomain, false, ""},
		{"  mail.example.org ", "mail.example.org", KindDomain, false, ""},
		{"bob@example.com", "example.com", KindDomain, true, ""},
		{"\"a@b\"@example.com", "example.com", KindDomain, true, ""},
		{"bücher.example", "xn--bcher-kva.example", KindDomain, false, "bücher.example"},
		{"user@münchen.de", "xn--mnchen-3ya.de", KindDomain, true, "münchen.de"},
		{"192.0.2.1", "192.0.2.1", KindIP, false, ""},
		{"2001:db8::1", "2001:db8::1", KindIP, false, ""},
		{"[2001:db8::1]", "2001:db8::1", KindIP, false, ""},
		{"::ffff:192.0.2.1", "192.0.2.1", KindIP, false, ""},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got.Name != tt.name || got.Kind != tt.kind || (got.Email != "") != tt.email || got.Unicode != tt.uni {
			t.Errorf("Parse(%q) = %+v", tt.in, got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]string{
		"":                                       "empty",
		"exa mple.com":                           "contains a space",
		"https://example.com/x":                  "URL",
		"localhost":                              "one label",
		"example..com":                           "empty label",
		"-bad.example.com":                       "hyphen",
		"@example.com":                           "nothing before the @",
		"bob@":                                   "empty",
		"192.0.2":                                "all digits",
		"fe80::1%eth0":                           "zone",
		"a\x1b[31m.com":                          "control",
		strings.Repeat("a", 64) + ".com":         "longer than 63",
		strings.Repeat("abcdefghi.", 26) + "com": "253",
		"ex!ample.com":                           "contains",
		"192.0.2.10:25":                          "drop the port (192.0.2.10)",
		"[2001:db8::1]:25":                       "drop the port (2001:db8::1)",
		"mx.example.com:587":                     "drop the port (mx.example.com)",
	}
	for in, want := range tests {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrBadTarget) {
			t.Errorf("Parse(%q) err = %v, want it to mention %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q): error spans lines", in)
		}
	}
}

func TestDomain(t *testing.T) {
	if _, err := Domain("bob@example.com"); err == nil || !strings.Contains(err.Error(), "give its domain (example.com)") {
		t.Errorf("email as domain: %v", err)
	}
	if _, err := Domain("192.0.2.1"); err == nil {
		t.Error("IP as domain accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"example.com", "a@b.c", "::1", "xn--bcher-kva.example", "bücher.de", "[::1]", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") && !strings.Contains(s, "\n") {
				t.Fatalf("multi-line error for %q", s)
			}
			return
		}
		if tg.Kind == KindDomain {
			again, err := Parse(tg.Name)
			if err != nil || again.Name != tg.Name {
				t.Fatalf("%q -> %q does not re-parse: %v", s, tg.Name, err)
			}
		}
	})
}
