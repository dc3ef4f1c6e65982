package spf

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// RFC 7208 examples (section 5, 7.4 and appendix D) and the mistakes real
// records make.
func TestParseRecord(t *testing.T) {
	ok := []struct {
		rec, norm string
	}{
		{"v=spf1 +all", "v=spf1 +all"},
		{"v=spf1 a -all", "v=spf1 a -all"},
		{"v=spf1 a:example.org -all", ""},
		{"v=spf1 mx -all", ""},
		{"v=spf1 mx:example.org -all", ""},
		{"v=spf1 mx mx:example.org -all", ""},
		{"v=spf1 mx/30 mx:example.org/30 -all", ""},
		{"v=spf1 ptr -all", ""},
		{"v=spf1 ip4:192.0.2.128/28 -all", ""},
		{"v=spf1 ip6:2001:db8::/32 ~all", ""},
		{"v=spf1 include:example.com include:example.net -all", ""},
		{"v=spf1 redirect=example.org", ""},
		{"v=spf1 mx -all exp=explain._spf.%{d}", ""},
		{"v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all", ""},
		{"v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all", ""},
		{"v=spf1 a/24//64 mx//48 ?all", ""},
		{"V=SPF1 A MX:Example.COM -ALL", "v=spf1 a mx:Example.COM -all"},
		{"v=spf1    a     -all   ", "v=spf1 a -all"},
		{"v=spf1", "v=spf1"},
		{"v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", ""},
		{"v=spf1 a:foo:bar/baz.example.com", ""},
		{"v=spf1 mx:%%%_/.Clara.de/27", ""},
		{"v=spf1 a:foo.example.xn--zckzah -all", ""},
		{"v=spf1 ip6:::FFFF:1.2.3.4", "v=spf1 ip6:::ffff:1.2.3.4"},
		{"v=spf1 default=pass", ""},
		{"v=spf1 exists:%{p}.should.example.com", ""},
	}
	for _, tt := range ok {
		rec, err := ParseRecord(tt.rec)
		if err != nil {
			t.Errorf("%q: %v", tt.rec, err)
			continue
		}
		want := tt.norm
		if want == "" {
			want = tt.rec
		}
		if got := rec.String(); got != want {
			t.Errorf("%q: String() = %q, want %q", tt.rec, got, want)
		}
	}

	bad := []struct {
		rec, term, msg string
	}{
		{"v=spf1 ip4:1.2.3.4 -all moo", "moo", "unknown mechanism"},
		{"v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all", "moo.cow/far_out=man:dog/cat", "unknown mechanism"},
		{"v=spf1 ip4:1.2.3.4 redirect:t2.example.com", "redirect:t2.example.com", "is a modifier"},
		{"v=spf1 a:foo-bar -all", "a:foo-bar", "fully qualified"},
		{"v=spf1 -all.", "-all.", "unknown mechanism"},
		{"v=spf1 -all:foobar", "-all:foobar", "takes no"},
		{"v=spf1 -all/8", "-all/8", "takes no"},
		{"v=spf1 ptr/0 -all", "ptr/0", "no CIDR"},
		{"v=spf1 ptr:", "ptr:", "empty domain"},
		{"v=spf1 a/33 -all", "a/33", "out of range"},
		{"v=spf1 a//129 -all", "a//129", "out of range"},
		{"v=spf1 a/24/64 -all", "a/24/64", "CIDR"},
		{"v=spf1 a:111.222.33.44", "a:111.222.33.44", "IP address"},
		{"v=spf1 a:abc.123", "a:abc.123", "top-level label"},
		{"v=spf1 a:museum.", "a:museum.", "fully qualified"},
		{"v=spf1 a:example.com:8080", "a:example.com:8080", "top-level label"},
		{"v=spf1 a:example.-com", "a:example.-com", "top-level label"},
		{"v=spf1 include:ip5.example.com/24 -all", "include:ip5.example.com/24", "no CIDR"},
		{"v=spf1 include -all", "include", "needs a domain"},
		{"v=spf1 exists", "exists", "needs a domain"},
		{"v=spf1 ip4:1.2.3.4/032", "ip4:1.2.3.4/032", "leading zero"},
		{"v=spf1 ip4:1.2.3", "ip4:1.2.3", "not an IPv4 address"},
		{"v=spf1 ip4:1.2.3.4:8080", "ip4:1.2.3.4:8080", "not an IPv4 address"},
		{"v=spf1 ip4:1.2.3.4//32", "ip4:1.2.3.4//32", "dual CIDR"},
		{"v=spf1 ip6::CAFE::BABE", "ip6::CAFE::BABE", "not an IPv6 address"},
		{"v=spf1 ip6:::1.1.1.1/129", "ip6:::1.1.1.1/129", "out of range"},
		{"v=spf1 1up=foo", "1up=foo", "must start with a letter"},
		{"v=spf1 =all", "=all", "empty name"},
		{"v=spf1 exp= -all", "exp=", "needs a domain"},
		{"v=spf1 exp=-all", "exp=-all", "top-level label"},
		{"v=spf1 -all foo=%abc", "foo=%abc", "not a macro"},
		{"v=spf1 exp=a.com exp=b.com", "exp=b.com", "more than once"},
		{"v=spf1 redirect=a.com -all redirect=a.com", "redirect=a.com", "more than once"},
		{"v=spf1 -all exp=%{r}.example.com", "exp=%{r}.example.com", "only in explanation"},
		{"v=spf1 a:%{a}.example.com -all", "a:%{a}.example.com", "unknown macro letter"},
		{"v=spf1 a:ctrl.example.com\rptr -all", "a:ctrl.example.com\rptr", "control character"},
		{"v=spf1 a:\xef\xbb\xbfgarbage.example.net -all", "a:\xef\xbb\xbfgarbage.example.net", "non-ASCII"},
		{"v=spf1 192.0.2.1 -all", "192.0.2.1", "write ip4:"},
		{"v=spf1 exists:%{d0}.example.com", "exists:%{d0}.example.com", "must not be zero"},
	}
	for _, tt := range bad {
		_, err := ParseRecord(tt.rec)
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err = %v, want a *SyntaxError", tt.rec, err)
			continue
		}
		first := se.Errors[0]
		if first.Term != tt.term || !strings.Contains(first.Msg, tt.msg) {
			t.Errorf("%q: first error %+v, want term %q with %q", tt.rec, first, tt.term, tt.msg)
		}
		if got := tt.rec[first.Pos : first.Pos+len(first.Term)]; got != first.Term {
			t.Errorf("%q: position %d points at %q", tt.rec, first.Pos, got)
		}
	}
}

func TestParseRecordCollectsEveryError(t *testing.T) {
	_, err := ParseRecord("v=spf1 a:bad include ip4:1.2.3.4 moo -all")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	if len(se.Errors) != 3 || se.Errors[0].Index != 1 || se.Errors[1].Index != 2 || se.Errors[2].Index != 4 {
		t.Errorf("errors %+v", se.Errors)
	}
	if !strings.Contains(err.Error(), "(and 2 more)") {
		t.Errorf("message %q", err)
	}
}

func TestNotSPF(t *testing.T) {
	for _, s := range []string{"v=spf10", "v=spf1mx", "spf1 -all", "", " v=spf1 -all", "v=spf2.0/pra -all"} {
		if IsSPFRecord(s) {
			t.Errorf("%q taken for an SPF record", s)
		}
		if _, err := ParseRecord(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err %v", s, err)
		}
	}
	_, err := ParseRecord("v=spf1mx")
	if !strings.Contains(err.Error(), "joined without a space") {
		t.Errorf("message %q", err)
	}
}

func TestTermFields(t *testing.T) {
	rec, err := ParseRecord("v=spf1 ~a:mail.%{d}/24//64 ip4:192.0.2.0/24 ip6:2001:db8::1 -mx exp=e.%{d} redirect=r.example")
	if err != nil {
		t.Fatal(err)
	}
	a := rec.Terms[0]
	if a.Name != "a" || a.Qualifier != QualifierSoftfail || !a.QualifierExplicit || a.CIDR4 != 24 || a.CIDR6 != 64 || a.DomainSpec.Raw != "mail.%{d}" || a.Pos != 7 {
		t.Errorf("a: %+v", a)
	}
	if got := Addresses(rec); len(got) != 2 || got[0] != netip.MustParsePrefix("192.0.2.0/24") || got[1] != netip.MustParsePrefix("2001:db8::1/128") {
		t.Errorf("Addresses = %v", got)
	}
	if rec.Redirect() == nil || rec.Exp() == nil || rec.HasAll() {
		t.Error("modifiers")
	}
	n := 0
	for _, tt := range rec.Terms {
		if tt.CausesLookup() {
			n++
		}
	}
	if n != 3 { // a, mx, redirect
		t.Errorf("lookup terms %d", n)
	}
}
