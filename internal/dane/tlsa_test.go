package dane

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

func chainOf(t *testing.T, c tls.Certificate) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, der := range c.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func TestLint(t *testing.T) {
	ca := testpki.NewCA(t)
	h32 := strings.Repeat("ab", 32)
	tests := []struct {
		r    Record
		want string // comma-joined problem codes
	}{
		{Record{3, 1, 1, h32}, ""},
		{Record{2, 0, 1, h32}, ""},
		{Record{3, 1, 2, strings.Repeat("cd", 64)}, ""},
		{Record{3, 0, 0, hex.EncodeToString(ca.Cert.Raw)}, ""},
		{Record{2, 1, 0, hex.EncodeToString(ca.Cert.RawSubjectPublicKeyInfo)}, ""},
		{Record{0, 0, 1, h32}, "pkix-usage"},
		{Record{1, 1, 1, h32}, "pkix-usage"},
		{Record{4, 1, 1, h32}, "unknown-usage"},
		{Record{3, 2, 1, h32}, "unknown-selector"},
		{Record{3, 1, 3, h32}, "unknown-matching-type"},
		{Record{3, 1, 1, strings.Repeat("ab", 20)}, "digest-length"},
		{Record{3, 1, 2, h32}, "digest-length"},
		{Record{3, 1, 1, "zz"}, "bad-hex"},
		{Record{3, 0, 0, "0102"}, "bad-full-data"},
		{Record{3, 1, 0, "0102"}, "bad-full-data"},
		{Record{1, 2, 1, h32}, "pkix-usage,unknown-selector"},
	}
	for _, tc := range tests {
		var codes []string
		for _, p := range Lint(tc.r) {
			codes = append(codes, p.Code)
			if p.Text == "" {
				t.Errorf("%s: empty text for %s", tc.r.Short(), p.Code)
			}
		}
		if got := strings.Join(codes, ","); got != tc.want {
			t.Errorf("Lint(%s) = %q, want %q", tc.r.Short(), got, tc.want)
		}
		if Usable(tc.r) != (tc.want == "") {
			t.Errorf("Usable(%s) wrong", tc.r.Short())
		}
	}
}

func TestMatchTLSA(t *testing.T) {
	ca := testpki.NewCA(t)
	other := testpki.NewCA(t)
	leaf := ca.Issue(t, testpki.Leaf{Names: []string{"mx1.example.com"}})
	chain := chainOf(t, leaf) // leaf, CA
	otherLeaf := chainOf(t, other.Issue(t, testpki.Leaf{Names: []string{"mx1.example.com"}}))
	expired := chainOf(t, ca.Issue(t, testpki.Leaf{Names: []string{"mx1.example.com"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}))
	// The leaf presented with a CA that did not sign it.
	wrongIntermediate := []*x509.Certificate{chain[0], other.Cert}

	spki := sha256.Sum256(chain[0].RawSubjectPublicKeyInfo)
	r311 := Record{3, 1, 1, hex.EncodeToString(spki[:])}
	r201 := RecordFor(ca.Cert, 2, 0, 1)
	r210 := RecordFor(ca.Cert, 2, 1, 0)
	tests := []struct {
		name    string
		records []Record
		chain   []*x509.Certificate
		names   []string
		want    bool
		detail  string
	}{
		{name: "3 1 1 SPKI SHA-256", records: []Record{r311}, chain: chain, want: true, detail: "DANE-EE"},
		{name: "3 0 1 cert SHA-256", records: []Record{RecordFor(chain[0], 3, 0, 1)}, chain: chain, want: true},
		{name: "3 1 2 SPKI SHA-512", records: []Record{RecordFor(chain[0], 3, 1, 2)}, chain: chain, want: true},
		{name: "3 0 0 full cert", records: []Record{RecordFor(chain[0], 3, 0, 0)}, chain: chain, want: true},
		{name: "second record matches", records: []Record{RecordFor(otherLeaf[0], 3, 1, 1), r311}, chain: chain, want: true},
		{name: "3 1 1 other key", records: []Record{RecordFor(otherLeaf[0], 3, 1, 1)}, chain: chain, want: false,
			detail: "a record matching its key would be \"3 1 1 " + hex.EncodeToString(spki[:]) + "\""},
		{name: "DANE-EE ignores expiry", records: []Record{RecordFor(expired[0], 3, 1, 1)}, chain: expired, want: true},
		{name: "DANE-EE ignores names", records: []Record{r311}, chain: chain, names: []string{"other.example.net"}, want: true},
		{name: "2 0 1 CA cert", records: []Record{r201}, chain: chain, names: []string{"mx1.example.com", "example.com"}, want: true, detail: "trust anchor"},
		{name: "2 0 1 without name check", records: []Record{r201}, chain: chain, want: true},
		{name: "2 0 1 wrong name", records: []Record{r201}, chain: chain, names: []string{"mx2.example.com", "example.com"}, want: false, detail: "names none of mx2.example.com, example.com"},
		{name: "2 0 1 expired leaf", records: []Record{r201}, chain: expired, names: []string{"mx1.example.com"}, want: false, detail: "outside its validity period"},
		{name: "2 0 1 wrong intermediate", records: []Record{RecordFor(other.Cert, 2, 0, 1)}, chain: wrongIntermediate, want: false, detail: "is not signed by"},
		{name: "2 1 0 key, anchor not in chain", records: []Record{r210}, chain: chain[:1], names: []string{"mx1.example.com"}, want: true, detail: "is the key that signed"},
		{name: "2 on the leaf itself does not count", records: []Record{RecordFor(chain[0], 2, 1, 1)}, chain: chain, want: false},
		{name: "PKIX usage unusable", records: []Record{RecordFor(chain[0], 1, 1, 1)}, chain: chain, want: false, detail: "no usable TLSA record"},
		{name: "malformed digest unusable", records: []Record{{3, 1, 1, "abcd"}}, chain: chain, want: false, detail: "no usable TLSA record"},
		{name: "no certificate", records: []Record{r311}, chain: nil, want: false, detail: "no certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, detail := MatchTLSA(tc.records, tc.chain, tc.names...)
			if got != tc.want || !strings.Contains(detail, tc.detail) {
				t.Fatalf("MatchTLSA = %v, %q; want %v containing %q", got, detail, tc.want, tc.detail)
			}
		})
	}
}

func FuzzLint(f *testing.F) {
	ca := testpki.NewCA(f)
	cert := ca.Issue(f, testpki.Leaf{Names: []string{"mx.example.com"}})
	chain := []*x509.Certificate{cert.Leaf, ca.Cert}
	f.Add(uint8(3), uint8(1), uint8(1), strings.Repeat("ab", 32))
	f.Add(uint8(2), uint8(0), uint8(0), "3082")
	f.Add(uint8(2), uint8(1), uint8(0), hex.EncodeToString(ca.Cert.RawSubjectPublicKeyInfo))
	f.Add(uint8(3), uint8(1), uint8(1), RecordFor(cert.Leaf, 3, 1, 1).Data)
	f.Fuzz(func(t *testing.T, u, s, m uint8, data string) {
		r := Record{u, s, m, data}
		if len(Lint(r)) == 0 && (u < 2 || u > 3 || s > 1 || m > 2) {
			t.Fatalf("%s accepted", r)
		}
		// Any record must be compared without panicking.
		MatchTLSA([]Record{r}, chain, "mx.example.com")
	})
}
