package mtasts

import (
	"strings"
	"testing"
)

func FuzzParseSTSRecord(f *testing.F) {
	for _, s := range []string{
		"v=STSv1; id=20160831085700Z;", "v=STSv1;id=1", "v=STSv1 ; id=abc ; x=y;",
		"v=STSv1;", "v=STSv1; id=1; id=2", "v=STSv1; id=1; ext=a=b", "v=STSv1;;;",
		"v=STSv1; id=\x00", "v=STSv1; \t id=a\t;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		if !isID(r.ID) {
			t.Fatalf("accepted bad id %q from %q", r.ID, s)
		}
		r2, err := ParseRecord(r.String())
		if err != nil {
			t.Fatalf("record %q printed as %q does not parse: %v", s, r.String(), err)
		}
		if r2.String() != r.String() {
			t.Fatalf("round trip changed %q to %q", r.String(), r2.String())
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		rfcPolicy, strings.ReplaceAll(rfcPolicy, "\n", "\r\n"),
		"version: STSv1\nmode: none\nmax_age: 0",
		"version: STSv1\nmode: testing\nmx: *.example.com\nmax_age: 9999999999\nx: y z\n",
		"version: STSv1\n\nmode: none", "mx: *.\n", "mode:enforce\r\r\n", "\n", "max_age: 0x10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			return
		}
		if p.Mode != ModeEnforce && p.Mode != ModeTesting && p.Mode != ModeNone {
			t.Fatalf("accepted mode %q", p.Mode)
		}
		if p.Mode != ModeNone && len(p.MX) == 0 {
			t.Fatalf("accepted %s without mx", p.Mode)
		}
		for _, m := range p.MX {
			if m.Wildcard && !m.Matches("x."+m.Domain) {
				t.Fatalf("pattern %s does not match x.%s", m, m.Domain)
			}
		}
		p2, err := ParsePolicy(p.String())
		if err != nil {
			t.Fatalf("policy printed as %q does not parse: %v", p.String(), err)
		}
		if p2.String() != p.String() {
			t.Fatalf("round trip changed %q to %q", p.String(), p2.String())
		}
	})
}
