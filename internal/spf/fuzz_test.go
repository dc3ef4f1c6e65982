package spf

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// suiteStrings returns every TXT/SPF string of the suites' zone data: the
// suites collect the odd records implementations got wrong.
func suiteStrings(tb testing.TB) []string {
	var out []string
	for _, file := range []string{"testdata/rfc7208-tests.yml", "testdata/rfc4408-tests.yml"} {
		for _, sc := range loadSuite(tb, file) {
			for _, entries := range sc.Zone {
				for _, e := range entries {
					if e.Type == "TXT" || e.Type == "SPF" {
						out = append(out, strings.Join(e.Strings, ""))
					}
				}
			}
		}
	}
	return out
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range suiteStrings(f) {
		f.Add(s)
	}
	f.Add("v=spf1 a/24//64 mx:%{d2}//48 ip6:::ffff:1.2.3.4/128 exists:%{ir}.%{l1r+-}._spf.%{d} redirect=x.example exp=%{d}")
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := ParseRecord(s)
		if rec == nil {
			t.Fatal("nil record")
		}
		for _, tm := range rec.Terms {
			if tm.Pos < 0 || tm.Pos+len(tm.Text) > len(s) || s[tm.Pos:tm.Pos+len(tm.Text)] != tm.Text {
				t.Fatalf("term %q at %d does not match the input", tm.Text, tm.Pos)
			}
		}
		if err != nil {
			if se, ok := err.(*SyntaxError); !ok || len(se.Errors) == 0 {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		// A parsed record prints back to a record that parses to the same.
		out := rec.String()
		rec2, err := ParseRecord(out)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, out, err)
		}
		if out2 := rec2.String(); out2 != out || len(rec2.Terms) != len(rec.Terms) {
			t.Fatalf("%q: %q reparses as %q", s, out, out2)
		}
		for i := range rec.Terms {
			a, b := rec.Terms[i], rec2.Terms[i]
			if a.Name != b.Name || a.Qualifier != b.Qualifier || a.CIDR4 != b.CIDR4 || a.CIDR6 != b.CIDR6 || a.IP != b.IP {
				t.Fatalf("%q: term %d differs after printing: %+v vs %+v", s, i, a, b)
			}
		}
	})
}

func FuzzExpandMacro(f *testing.F) {
	for _, s := range suiteStrings(f) {
		f.Add(s, "strong-bad@email.example.com", true)
	}
	for _, s := range []string{"%{ir}.%{v}._spf.%{d2}", "%{l2r+-}.user.%{d2}", "%{S}%{L}%{O}%{D}%{I}%{P}%{H}%{V}", "%%%_%-", "%{c}%{r}%{t}", "%{d99999999999999999999}"} {
		f.Add(s, "a-b+c@x.example", false)
	}
	f.Fuzz(func(t *testing.T, s, sender string, v6 bool) {
		local, dom, _ := strings.Cut(sender, "@")
		ip := netip.MustParseAddr("192.0.2.3")
		if v6 {
			ip = netip.MustParseAddr("2001:db8::cb01")
		}
		env := &MacroEnv{Sender: sender, Local: local, SenderDomain: dom, Domain: dom, IP: ip, HELO: dom,
			Now: time.Unix(0, 0), ValidatedDomain: func() (string, error) { return "mx." + dom, nil }}
		for _, ctx := range []macroContext{macroDomain, macroExplain, macroModifier} {
			ms, err := ParseMacroString(s, ctx)
			if err != nil {
				continue
			}
			if ms.Raw != s {
				t.Fatalf("raw %q != %q", ms.Raw, s)
			}
			out, err := ms.Expand(env)
			if err != nil {
				t.Fatal(err)
			}
			// Expansion is bounded: each byte of input yields at most one
			// escaped copy of the longest value.
			if limit := (len(s) + 1) * (3*len(sender) + 3*len("mx.") + 200); len(out) > limit {
				t.Fatalf("expansion of %d bytes gave %d", len(s), len(out))
			}
			if d, err := expandDomain(ms, env); err == nil && len(d) > 253 && strings.Contains(d, ".") {
				t.Fatalf("domain expansion of %d octets with dots was not truncated", len(d))
			}
		}
	})
}
