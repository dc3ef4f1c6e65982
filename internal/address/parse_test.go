package address

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		valid   bool
		local   string
		domain  string
		norm    string   // String() when valid ("" = in)
		problem []string // problem IDs expected (subset, in order)
	}{
		// RFC 5321 4.1.2 / RFC 5322 3.4.1 dot-atom forms
		{"user@example.com", true, "user", "example.com", "", nil},
		{"John.Doe@Example.COM", true, "John.Doe", "example.com", "John.Doe@example.com", nil},
		{"user+tag@example.com", true, "user+tag", "example.com", "", nil},
		{"<user@example.com>", true, "user", "example.com", "user@example.com", []string{"address.angle-brackets"}},
		// RFC 3696 section 3 examples (corrected by erratum 246: specials need quotes)
		{`"Abc@def"@example.com`, true, "Abc@def", "example.com", "", []string{"address.quoted-local-part"}},
		{`"Fred Bloggs"@example.com`, true, "Fred Bloggs", "example.com", "", []string{"address.quoted-local-part"}},
		{`"Joe\\Blow"@example.com`, true, `Joe\Blow`, "example.com", "", []string{"address.quoted-local-part"}},
		{`"Abc\@def"@example.com`, true, "Abc@def", "example.com", `"Abc@def"@example.com`, []string{"address.quoted-local-part"}},
		{"customer/department=shipping@example.com", true, "customer/department=shipping", "example.com", "", nil},
		{"$A12345@example.com", true, "$A12345", "example.com", "", nil},
		{"!def!xyz%abc@example.com", true, "!def!xyz%abc", "example.com", "", nil},
		{"_somename@example.com", true, "_somename", "example.com", "", nil},
		{"!#$%&'*+-/=?^_`{|}~@example.com", true, "!#$%&'*+-/=?^_`{|}~", "example.com", "", nil},
		{`Abc\@def@example.com`, false, "", "", "", []string{"address.invalid-character"}},
		{`Fred\ Bloggs@example.com`, false, "", "", "", []string{"address.invalid-character"}},
		// quoting
		{`"john"@example.com`, true, "john", "example.com", "john@example.com", []string{"address.unneeded-quotes"}},
		{`"a..b"@example.com`, true, "a..b", "example.com", "", []string{"address.quoted-local-part"}},
		{`""@example.com`, true, "", "example.com", "", []string{"address.quoted-local-part"}},
		{`"unterminated@example.com`, false, "", "", "", []string{"address.unterminated-quote"}},
		{`"a"b@example.com`, false, "", "", "", []string{"address.invalid-character"}},
		{`a"b"@example.com`, false, "", "", "", []string{"address.invalid-character"}},
		{"\"tab\there\"@example.com", false, "", "", "", []string{"address.control-character"}},
		// RFC 6531 / RFC 6532 internationalised addresses (A-labels
		// cross-checked with Python's independent IDNA codec)
		{"用户@例子.广告", true, "用户", "xn--fsqu00a.xn--4rr70v", "", []string{"address.smtputf8", "address.idn"}},
		{"अजय@डाटा.भारत", true, "अजय", "xn--c2bd1gb.xn--h2brj9c", "", []string{"address.smtputf8", "address.idn"}},
		{"квіточка@пошта.укр", true, "квіточка", "xn--80a1acn3a.xn--j1amh", "", []string{"address.smtputf8", "address.idn"}},
		{"Dörte@Sörensen.example.com", true, "Dörte", "xn--srensen-90a.example.com", "", []string{"address.smtputf8", "address.idn"}},
		{"user@münchen.de", true, "user", "xn--mnchen-3ya.de", "", []string{"address.idn"}},
		{"e\u0301@example.com", true, "e\u0301", "example.com", "", []string{"address.smtputf8", "address.not-nfc"}},
		// address literals, RFC 5321 4.1.3
		{"user@[192.0.2.1]", true, "user", "[192.0.2.1]", "", []string{"address.address-literal"}},
		{"user@[IPv6:2001:db8::1]", true, "user", "[IPv6:2001:db8::1]", "", []string{"address.address-literal"}},
		{"user@[2001:db8::1]", false, "", "", "", []string{"address.domain-invalid"}},
		{"user@[300.1.1.1]", false, "", "", "", []string{"address.domain-invalid"}},
		{"user@[192.0.2.1", false, "", "", "", []string{"address.domain-invalid"}},
		// invalid
		{"", false, "", "", "", []string{"address.empty"}},
		{"   ", false, "", "", "", []string{"address.empty"}},
		{"plainaddress", false, "", "", "", []string{"address.no-at"}},
		{"@example.com", false, "", "", "", []string{"address.empty-local"}},
		{"user@", false, "", "", "", []string{"address.empty-domain"}},
		{"a@b@example.com", false, "", "", "", []string{"address.multiple-at"}},
		{"a..b@example.com", false, "", "", "", []string{"address.dot-position"}},
		{".a@example.com", false, "", "", "", []string{"address.dot-position"}},
		{"a.@example.com", false, "", "", "", []string{"address.dot-position"}},
		{"a b@example.com", false, "", "", "", []string{"address.invalid-character"}},
		{"user(comment)@example.com", false, "", "", "", []string{"address.invalid-character"}},
		{"a,b@example.com", false, "", "", "", []string{"address.invalid-character"}},
		{"user@example", false, "", "", "", []string{"address.domain-not-fqdn"}},
		{"user@localhost", false, "", "", "", []string{"address.domain-not-fqdn"}},
		{"user@-example.com", false, "", "", "", []string{"address.domain-invalid"}},
		{"user@exa_mple.com", false, "", "", "", []string{"address.domain-invalid"}},
		{"user@example.com.", false, "", "", "", []string{"address.domain-invalid"}},
		{"user@example..com", false, "", "", "", []string{"address.domain-invalid"}},
		{"user@123.123", false, "", "", "", []string{"address.domain-invalid"}},
		{"John Doe <john@example.com>", false, "", "", "", []string{"address.display-name"}},
		// hostile
		{"user\r\nDATA@example.com", false, "", "", "", []string{"address.control-character"}},
		{"us\x00er@example.com", false, "", "", "", []string{"address.control-character"}},
		{"user@exa\x1bmple.com", false, "", "", "", []string{"address.control-character"}},
		{"user\u200b@example.com", false, "", "", "", []string{"address.invisible-character"}},
		{"user\u202e@example.com", false, "", "", "", []string{"address.invisible-character"}},
		{"user\u00a0@example.com", false, "", "", "", []string{"address.invisible-character"}},
		{"\xff@example.com", false, "", "", "", []string{"address.invalid-utf8"}},
		{strings.Repeat("a", 10000) + "@example.com", false, "", "", "", []string{"address.too-long"}},
		// limits: 64-octet local part, 63-octet labels, 254-octet address
		{strings.Repeat("a", 64) + "@example.com", true, strings.Repeat("a", 64), "example.com", "", nil},
		{strings.Repeat("a", 65) + "@example.com", false, "", "", "", []string{"address.local-too-long"}},
		{`"` + strings.Repeat("a b", 21) + `"@example.com`, false, "", "", "", []string{"address.local-too-long"}},
		{"a@" + strings.Repeat("b", 64) + ".com", false, "", "", "", []string{"address.domain-invalid"}},
		{strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 4) + "com", false, "", "", "", []string{"address.too-long"}},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			a := Parse(tt.in)
			if a.Valid() != tt.valid {
				t.Fatalf("valid %v, want %v; problems %+v", a.Valid(), tt.valid, a.Problems)
			}
			var got []string
			for _, p := range a.Problems {
				got = append(got, p.ID)
				if p.Message == "" || !strings.HasPrefix(p.ID, "address.") {
					t.Errorf("problem %+v", p)
				}
				if !utf8.ValidString(p.Message) || strings.ContainsAny(p.Message, "\x00\x1b\r\n") {
					t.Errorf("unsafe message %q", p.Message)
				}
			}
			i := 0
			for _, id := range got {
				if i < len(tt.problem) && id == tt.problem[i] {
					i++
				}
			}
			if i != len(tt.problem) {
				t.Errorf("problems %q, want %q in order", got, tt.problem)
			}
			if !tt.valid {
				return
			}
			if a.Local != tt.local || a.Domain != tt.domain {
				t.Errorf("local %q domain %q, want %q %q", a.Local, a.Domain, tt.local, tt.domain)
			}
			want := tt.norm
			if want == "" {
				want = tt.in
				if !a.Quoted && a.Literal.IsValid() == false && a.DomainUnicode != "" {
					want = a.Local + "@" + tt.domain
				}
			}
			if a.String() != want {
				t.Errorf("String() %q, want %q", a.String(), want)
			}
		})
	}
}

func TestSeverities(t *testing.T) {
	a := Parse("用户@例子.广告")
	sev := map[string]findings.Severity{}
	for _, p := range a.Problems {
		sev[p.ID] = p.Severity
	}
	if sev["address.smtputf8"] != findings.SeverityWarn || sev["address.idn"] != findings.SeverityInfo || !a.UTF8 || a.DomainUnicode != "例子.广告" {
		t.Errorf("%+v", a)
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"user@example.com", `"John Doe"@example.com`, `"a\"b"@example.com`, "用户@例子.广告", "user@[192.0.2.1]",
		"user@[IPv6:2001:db8::1]", "a..b@example.com", "a@b@c", "<a@b.example>", "x <a@b.example>", "\"@\"@x.example",
		"user\r\n@example.com", "\xff\xfe@x", "a@xn--mnchen-3ya.de", "a@-x.com", "\"\\", "@", "\"\"@a.b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a := Parse(in)
		if !a.Valid() {
			return
		}
		s := a.String()
		if len(s) > MaxAddress {
			t.Fatalf("valid address of %d octets: %q", len(s), s)
		}
		if strings.ContainsAny(s, "\x00\r\n\x1b") {
			t.Fatalf("control characters in %q", s)
		}
		b := Parse(s)
		if !b.Valid() || b.Local != a.Local || b.Domain != a.Domain || b.String() != s {
			t.Fatalf("round trip: %q -> %q -> %q (valid %v, problems %+v)", in, s, b.String(), b.Valid(), b.Problems)
		}
	})
}
