package dnsx

import (
	"testing"

	"github.com/miekg/dns"
)

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":          "example.com",
		"a b.example.com":      `a\ b.example.com`,
		"x@y;z.example":        `x\@y\;z.example`,
		`q"(p)'\.example`:      `q\"\(p\)\'\\.example`,
		"\x00\x1f\x7f\xff.ex":  `\000\031\127\255.ex`,
		"_spf.例.example":       `_spf.\228\190\139.example`,
		"":                     "",
		"1.2.3.4.in-addr.arpa": "1.2.3.4.in-addr.arpa",
	} {
		if got := EscapeName(in); got != want {
			t.Errorf("EscapeName(%q) = %s, want %s", in, got, want)
		}
	}
}

// An escaped name reads back, through miekg/dns, to the original bytes.
func TestEscapeNameRoundTrip(t *testing.T) {
	for _, in := range []string{"a b.example", "x@y;z.example", `q"(p)'\x.example`, "\x01\xfe.example", "plain.example"} {
		rr, err := dns.NewRR(EscapeName(in) + ". 300 IN TXT \"x\"")
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		labels := dns.SplitDomainName(rr.Header().Name)
		var got []byte
		for i, l := range labels {
			if i > 0 {
				got = append(got, '.')
			}
			got = append(got, unescapeLabel(l)...)
		}
		if string(got) != in {
			t.Errorf("%q read back as %q", in, got)
		}
	}
}

func unescapeLabel(l string) []byte {
	var out []byte
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+3 < len(l) && l[i+1] >= '0' && l[i+1] <= '9':
			out = append(out, (l[i+1]-'0')*100+(l[i+2]-'0')*10+(l[i+3]-'0'))
			i += 3
		case l[i] == '\\':
			out = append(out, l[i+1])
			i++
		default:
			out = append(out, l[i])
		}
	}
	return out
}
