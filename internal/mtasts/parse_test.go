package mtasts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		in      string
		id      string
		ext     []Extension
		dups    []string
		wantErr string
	}{
		// RFC 8461 3.1's example.
		{in: "v=STSv1; id=20160831085700Z;", id: "20160831085700Z"},
		{in: "v=STSv1; id=20160831085700Z", id: "20160831085700Z"},
		{in: "v=STSv1;id=abc", id: "abc"},
		{in: "v=STSv1 ;\tid=abc ; ", id: "abc"}, // sts-field-delim = *WSP ";" *WSP
		{in: "v=STSv1; id=abc; ext_1.x-y=val!ue", id: "abc", ext: []Extension{{"ext_1.x-y", "val!ue"}}},
		{in: "v=STSv1; id=1; id=2", id: "1", dups: []string{"id"}},
		{in: "v=STSv1; id=" + strings.Repeat("a", 32), id: strings.Repeat("a", 32)},
		{in: "v=STSv1;", wantErr: "no fields"},
		{in: "v=STSv1", wantErr: "no fields"},
		{in: "v=STSv1; id=", wantErr: "1 to 32 letters"},
		{in: "v=STSv1; id=2016-08-31", wantErr: "1 to 32 letters"},
		{in: "v=STSv1; id=" + strings.Repeat("a", 33), wantErr: "1 to 32 letters"},
		{in: "v=STSv1; foo=bar", wantErr: "id= is missing"},
		{in: "v=STSv1 id=1", wantErr: "expected \";\""},
		{in: "v=STSv2; id=1", wantErr: "must start with"},
		{in: "V=STSv1; id=1", wantErr: "must start with"},
		{in: "v=STSv1; id=1; ext=a b", wantErr: "bad value"},
		{in: "v=STSv1; id=1; ext", wantErr: "has no \"=\""},
		{in: "v=STSv1; id=1; -x=1", wantErr: "bad field name"},
		{in: "v=STSv1; id=1; v=STSv1", wantErr: "only once"},
	}
	for _, tc := range tests {
		r, err := ParseRecord(tc.in)
		if tc.wantErr != "" {
			if err == nil || !errors.Is(err, ErrRecordSyntax) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRecord(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRecord(%q): %v", tc.in, err)
			continue
		}
		if r.ID != tc.id || !reflect.DeepEqual(r.Extensions, tc.ext) || !reflect.DeepEqual(r.Duplicates, tc.dups) {
			t.Errorf("ParseRecord(%q) = %+v", tc.in, r)
		}
		// A parsed record prints back to an equivalent record.
		r2, err := ParseRecord(r.String())
		if err != nil || r2.ID != r.ID || !reflect.DeepEqual(r2.Extensions, r.Extensions) {
			t.Errorf("round trip of %q via %q: %+v, %v", tc.in, r.String(), r2, err)
		}
	}
}

func TestIsSTSRecord(t *testing.T) {
	for in, want := range map[string]bool{
		"v=STSv1; id=1": true, "v=STSv1": true, "v=STSv1 ;id=1": true,
		"v=STSv10; id=1": false, "v=spf1 -all": false, " v=STSv1": false,
	} {
		if got := IsSTSRecord(in); got != want {
			t.Errorf("IsSTSRecord(%q) = %v", in, got)
		}
	}
}

// The example policy of RFC 8461 3.2.
const rfcPolicy = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n"

func TestParsePolicy(t *testing.T) {
	rfc := &Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 604800, MX: []MXPattern{
		{Domain: "mail.example.com"}, {Wildcard: true, Domain: "example.net"}, {Domain: "backupmx.example.com"}}}
	tests := []struct {
		name    string
		in      string
		want    *Policy
		wantErr string
	}{
		{name: "rfc example", in: rfcPolicy, want: rfc},
		{name: "crlf", in: strings.ReplaceAll(rfcPolicy, "\n", "\r\n"), want: rfc},
		{name: "no final newline", in: strings.TrimSuffix(rfcPolicy, "\n"), want: rfc},
		{name: "trailing and inner whitespace", in: "version:STSv1 \nmode:\tenforce\t\nmx:   mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800  \n", want: rfc},
		{name: "mode none needs no mx", in: "version: STSv1\nmode: none\nmax_age: 86400\n", want: &Policy{Version: "STSv1", Mode: ModeNone, MaxAge: 86400}},
		{name: "upper-case mx and trailing dot", in: "version: STSv1\nmode: testing\nmx: MX.Example.COM.\nmax_age: 1\n", want: &Policy{Version: "STSv1", Mode: ModeTesting, MaxAge: 1, MX: []MXPattern{{Domain: "mx.example.com"}}}},
		{name: "extension kept", in: "version: STSv1\nmode: none\nmax_age: 0\nfoo_bar: some value here\n", want: &Policy{Version: "STSv1", Mode: ModeNone, Extensions: []Extension{{"foo_bar", "some value here"}}}},
		{name: "first of duplicates", in: "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 5\nmax_age: 6\n", want: &Policy{Version: "STSv1", Mode: ModeTesting, MaxAge: 5, MX: []MXPattern{{Domain: "a.example"}}, Duplicates: []string{"mode", "max_age"}}},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "blank line", in: "version: STSv1\n\nmode: none\nmax_age: 1\n", wantErr: "line 2: blank line"},
		{name: "two final newlines", in: "version: STSv1\nmode: none\nmax_age: 1\n\n", wantErr: "line 4: blank line"},
		{name: "stray CR", in: "version: STSv1\rmode: none\nmax_age: 1\n", wantErr: "stray carriage return"},
		{name: "leading space", in: " version: STSv1\nmode: none\nmax_age: 1\n", wantErr: "bad field name"},
		{name: "no colon", in: "version STSv1\n", wantErr: "not a \"key: value\""},
		{name: "version", in: "version: STSv2\nmode: none\nmax_age: 1\n", wantErr: "must be STSv1"},
		{name: "mode case", in: "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", wantErr: "must be enforce, testing or none"},
		{name: "key case", in: "version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 1\n", wantErr: "mode field is missing"},
		{name: "missing version", in: "mode: none\nmax_age: 1\n", wantErr: "version field is missing"},
		{name: "missing max_age", in: "version: STSv1\nmode: none\n", wantErr: "max_age field is missing"},
		{name: "enforce without mx", in: "version: STSv1\nmode: enforce\nmax_age: 1\n", wantErr: "no mx field"},
		{name: "max_age 11 digits", in: "version: STSv1\nmode: none\nmax_age: 12345678901\n", wantErr: "1 to 10 digits"},
		{name: "max_age negative", in: "version: STSv1\nmode: none\nmax_age: -1\n", wantErr: "1 to 10 digits"},
		{name: "max_age empty", in: "version: STSv1\nmode: none\nmax_age:\n", wantErr: "1 to 10 digits"},
		{name: "double wildcard", in: "version: STSv1\nmode: enforce\nmx: *.*.example.com\nmax_age: 1\n", wantErr: "leftmost label"},
		{name: "inner wildcard", in: "version: STSv1\nmode: enforce\nmx: mail.*.example.com\nmax_age: 1\n", wantErr: "leftmost label"},
		{name: "bad label", in: "version: STSv1\nmode: enforce\nmx: -mx.example.com\nmax_age: 1\n", wantErr: "not allowed"},
		{name: "u-label", in: "version: STSv1\nmode: enforce\nmx: mx.bücher.example\nmax_age: 1\n", wantErr: "A-label"},
		{name: "empty label", in: "version: STSv1\nmode: enforce\nmx: mx..example\nmax_age: 1\n", wantErr: "empty or over-long"},
		{name: "html", in: "<html><body>Not found</body></html>", wantErr: "not a \"key: value\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy(tc.in)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrPolicySyntax) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tc.want) {
				t.Fatalf("got %+v\nwant %+v", p, tc.want)
			}
			p2, err := ParsePolicy(p.String())
			if err != nil {
				t.Fatalf("round trip %q: %v", p.String(), err)
			}
			p.Duplicates = nil
			if !reflect.DeepEqual(p2, p) {
				t.Fatalf("round trip: %+v != %+v", p2, p)
			}
		})
	}
}

func TestMXPatternMatches(t *testing.T) {
	p, err := ParsePolicy(rfcPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"mail.example.com":      true,
		"MAIL.EXAMPLE.COM.":     true,
		"backupmx.example.com":  true,
		"mx1.example.net":       true, // RFC 8461 4.1: *.example.net matches one label
		"example.net":           false,
		"a.b.example.net":       false,
		"mail.example.com.evil": false,
		"other.example.com":     false,
		".example.net":          false,
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("Matches(%q) = %v, want %v", host, got, want)
		}
	}
}
