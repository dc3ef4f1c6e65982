package zone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const text = `$ORIGIN example.com.
@        300 IN SOA ns hostmaster 1 7200 3600 1209600 300
@        300 IN MX 10 mx
mx       300 IN A 192.0.2.1
a.b      300 IN TXT "deep"
alias    300 IN CNAME mx
*.w      300 IN TXT "wild"
x.w      300 IN A 192.0.2.9
`

func TestLookup(t *testing.T) {
	s := NewStore(false)
	if err := s.LoadString(text, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		qtype uint16
		want  Outcome
		n     int
	}{
		{"example.com", dns.TypeMX, Answer, 1},
		{"EXAMPLE.COM.", dns.TypeMX, Answer, 1},
		{"example.com", dns.TypeTXT, NoData, 0},
		{"b.example.com", dns.TypeTXT, NoData, 0}, // empty non-terminal (RFC 8020)
		{"nope.example.com", dns.TypeA, NXDomain, 0},
		{"alias.example.com", dns.TypeA, Answer, 1}, // the CNAME, for the caller to chase
		{"alias.example.com", dns.TypeCNAME, Answer, 1},
		{"q.w.example.com", dns.TypeTXT, Answer, 1},   // wildcard
		{"x.w.example.com", dns.TypeTXT, NoData, 0},   // existing name blocks the wildcard
		{"a.q.w.example.com", dns.TypeTXT, Answer, 1}, // RFC 4592: closest encloser w.example.com
		{"example.org", dns.TypeA, NotAuthoritative, 0},
	}
	for _, tt := range tests {
		got, rrs := s.Lookup(tt.name, tt.qtype)
		if got != tt.want || len(rrs) != tt.n {
			t.Errorf("%s %s: %s %d, want %s %d", tt.name, dns.TypeToString[tt.qtype], got, len(rrs), tt.want, tt.n)
		}
		if got == Answer && !strings.EqualFold(rrs[0].Header().Name, dns.Fqdn(tt.name)) {
			t.Errorf("%s: owner %s", tt.name, rrs[0].Header().Name)
		}
	}
}

func TestLoadFileOrigin(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "example.net.zone")
	os.WriteFile(p, []byte("@ 300 IN TXT \"v=spf1 -all\"\nwww 300 IN A 192.0.2.1\n"), 0o644)
	s := NewStore(false)
	if err := s.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.Lookup("www.example.net", dns.TypeA); o != Answer {
		t.Errorf("origin from file name not used: %s", o)
	}
	bad := filepath.Join(dir, "bad.zone")
	os.WriteFile(bad, []byte("this is not a zone\n"), 0o644)
	if err := s.LoadFile(bad); err == nil {
		t.Error("garbage zone accepted")
	}
	inc := filepath.Join(dir, "inc.zone")
	os.WriteFile(inc, []byte("$INCLUDE /etc/passwd\n"), 0o644)
	if err := NewStore(false).LoadFile(inc); err == nil {
		t.Error("$INCLUDE followed")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(text)
	f.Add("$ORIGIN .\n@ IN TXT \"a\" \"b\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		st := NewStore(true)
		if err := st.Load(strings.NewReader(s), ".", "fuzz"); err != nil {
			return
		}
		st.Lookup("example.com", dns.TypeTXT)
		st.Lookup("a.b.c.example.com", dns.TypeA)
	})
}
