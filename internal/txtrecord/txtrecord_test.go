package txtrecord

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
)

var (
	errNone = errors.New("none")
	errMany = errors.New("many")
	sts     = Kind{Version: "STSv1", ErrNoRecord: errNone, ErrMultipleRecords: errMany}
)

func TestIsRecord(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=STSv1; id=1":   true, // RFC 8461 3.1's form
		"v=STSv1;id=1":    true,
		"v=STSv1":         true, // broken, but meant as a record
		"v=STSv1 id=1":    true,
		"v=STSv1\tid=1":   true,
		"v=STSv10; id=1":  false,
		"v=stsv1; id=1":   false, // %s: case-sensitive
		" v=STSv1; id=1":  false,
		"v=spf1 -all":     false,
		"":                false,
		"v=TLSRPTv1; a=b": false,
	} {
		if got := sts.IsRecord(txt); got != want {
			t.Errorf("IsRecord(%q) = %v, want %v", txt, got, want)
		}
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		in      string
		want    []Field
		wantErr string
	}{
		// RFC 8461 3.1's example and RFC 8460 3's.
		{in: "v=STSv1; id=20160831085700Z;", want: []Field{{"id", "20160831085700Z"}}},
		{in: "v=STSv1;id=1", want: []Field{{"id", "1"}}},
		{in: "v=STSv1 ; id=abc ; x=y;", want: []Field{{"id", "abc"}, {"x", "y"}}},
		{in: "v=STSv1; \t id=a\t;", want: []Field{{"id", "a"}}},
		{in: "v=STSv1; id=1; ext=a=b", want: []Field{{"id", "1"}, {"ext", "a=b"}}}, // the value's grammar is the caller's
		{in: "v=STSv1; id=", want: []Field{{"id", ""}}},
		{in: "v=STSv1; =x", want: []Field{{"", "x"}}},
		{in: "v=STSv1"},
		{in: "v=STSv1;"},
		{in: "v=STSv1 ;  "},
		{in: "v=STSv2; id=1", wantErr: `must start with "v=STSv1"`},
		{in: "", wantErr: `must start with "v=STSv1"`},
		{in: "v=STSv1 id=1", wantErr: `expected ";" before "id=1"`},
		{in: "v=STSv1; id=1; x", want: []Field{{"id", "1"}}, wantErr: `field "x" has no "="`},
		{in: "v=STSv1;;", wantErr: `field "" has no "="`},
		{in: "v=STSv1; id=1 2", want: []Field{{"id", "1 2"}}},
		{in: "v=STSv1; x=" + strings.Repeat("y", 100) + " z", wantErr: "", want: []Field{{"x", strings.Repeat("y", 100) + " z"}}},
		{in: "v=STSv1 " + strings.Repeat("y", 100), wantErr: `expected ";" before "` + strings.Repeat("y", 60) + `…"`},
	}
	for _, tc := range tests {
		var got []Field
		var err error
		for f, e := range sts.Fields(tc.in) {
			if e != nil {
				err = e
				break
			}
			got = append(got, f)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Fields(%q) = %q, want %q", tc.in, got, tc.want)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("Fields(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("Fields(%q) error %v, want %s", tc.in, err, tc.wantErr)
		}
	}
}

// Breaking out of the loop stops the scan.
func TestFieldsStops(t *testing.T) {
	n := 0
	for range sts.Fields("v=STSv1; a=1; b=2; c=3") {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("%d fields", n)
	}
}

func TestValidNameValue(t *testing.T) {
	for s, want := range map[string]bool{
		"id": true, "x-ext.1_a": true, "1a": true, strings.Repeat("a", 32): true,
		"": false, "-a": false, "_a": false, strings.Repeat("a", 33): false, "a b": false, "ä": false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"a": true, "mailto:a@example.com": true, "!~:<>": true,
		"": false, "a b": false, "a=b": false, "a;b": false, "\x7f": false, "é": false,
	} {
		if got := ValidValue(s); got != want {
			t.Errorf("ValidValue(%q) = %v", s, got)
		}
	}
}

func TestLookup(t *testing.T) {
	srv := dnstest.Start(t, `
_mta-sts.one.example.   300 IN TXT "v=STSv1; id=1"
_mta-sts.one.example.   300 IN TXT "v=spf1 -all"
_mta-sts.two.example.   300 IN TXT "v=STSv1; id=1"
_mta-sts.two.example.   300 IN TXT "v=STSv1; id=2"
_mta-sts.other.example. 300 IN TXT "something else"
_mta-sts.fail.example.  300 IN TXT "v=STSv1; id=1"
`)
	srv.Set("_mta-sts.fail.example", dnstest.Behavior{Rcode: dns.RcodeServerFailure})
	c := srv.Client(t)
	ctx := context.Background()

	txts, res, err := sts.Lookup(ctx, c, "_mta-sts.one.example")
	if err != nil || len(txts) != 1 || txts[0] != "v=STSv1; id=1" || res == nil {
		t.Errorf("one: %q %v %v", txts, res, err)
	}
	txts, res, err = sts.Lookup(ctx, c, "_mta-sts.two.example")
	if !errors.Is(err, errMany) || len(txts) != 2 || res == nil {
		t.Errorf("two: %q %v %v", txts, res, err)
	}
	for _, name := range []string{"_mta-sts.other.example", "_mta-sts.missing.example"} {
		txts, res, err = sts.Lookup(ctx, c, name)
		if !errors.Is(err, errNone) || txts != nil || res == nil {
			t.Errorf("%s: %q %v %v", name, txts, res, err)
		}
	}
	txts, res, err = sts.Lookup(ctx, c, "_mta-sts.fail.example")
	if err == nil || errors.Is(err, errNone) || txts != nil || res != nil {
		t.Errorf("SERVFAIL: %q %v %v", txts, res, err)
	}

	all, res, err := Lookup(ctx, c, "_mta-sts.one.example", func(s string) bool { return true })
	if err != nil || len(all) != 2 || res == nil {
		t.Errorf("Lookup: %q %v %v", all, res, err)
	}
}

func TestEvidence(t *testing.T) {
	got := Evidence("_smtp._tls.example.com", []string{"v=TLSRPTv1; rua=mailto:a@example.com", "a\"\x1b"})
	want := []string{`_smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:a@example.com"`, `_smtp._tls.example.com TXT "a\"\x1b"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Evidence = %q", got)
	}
	if Evidence("x", nil) != nil {
		t.Error("Evidence of nothing is not nil")
	}
}

func FuzzFields(f *testing.F) {
	for _, s := range []string{
		"v=STSv1; id=20160831085700Z;", "v=STSv1;id=1", "v=STSv1 ; id=abc ; x=y;",
		"v=STSv1;", "v=STSv1; id=1; id=2", "v=STSv1; id=1; ext=a=b", "v=STSv1;;;",
		"v=STSv1; id=\x00", "v=STSv1; \t id=a\t;", "v=STSv1 id", "v=STSv1; x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var parts []string
		for fl, err := range sts.Fields(s) {
			if err != nil {
				return
			}
			if strings.ContainsRune(fl.Name+fl.Value, ';') || strings.ContainsRune(fl.Name, '=') {
				t.Fatalf("field %q from %q", fl, s)
			}
			if strings.TrimLeft(fl.Name, " \t") != fl.Name || strings.TrimRight(fl.Value, " \t") != fl.Value {
				t.Fatalf("untrimmed field %q from %q", fl, s)
			}
			parts = append(parts, fl.Name+"="+fl.Value)
		}
		// A record that scans prints back to one that scans to the same fields.
		again := "v=STSv1"
		for _, p := range parts {
			again += "; " + p
		}
		var parts2 []string
		for fl, err := range sts.Fields(again) {
			if err != nil {
				t.Fatalf("%q printed as %q: %v", s, again, err)
			}
			parts2 = append(parts2, fl.Name+"="+fl.Value)
		}
		if !reflect.DeepEqual(parts, parts2) {
			t.Fatalf("%q printed as %q: %q, then %q", s, again, parts, parts2)
		}
	})
}

func TestLookupParsed(t *testing.T) {
	srv := dnstest.Start(t, `
_mta-sts.one.example.   300 IN TXT "v=STSv1; id=1"
_mta-sts.bad.example.   300 IN TXT "v=STSv1 id=1"
_mta-sts.two.example.   300 IN TXT "v=STSv1; id=1"
_mta-sts.two.example.   300 IN TXT "v=STSv1; id=2"
`)
	c := srv.Client(t)
	ctx := context.Background()
	parse := func(txt string) (*[]Field, error) {
		var fs []Field
		for f, err := range sts.Fields(txt) {
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
		}
		return &fs, nil
	}
	rec, txts, res, err := LookupParsed(ctx, c, sts, "_mta-sts.one.example", parse)
	if err != nil || rec == nil || len(*rec) != 1 || (*rec)[0] != (Field{"id", "1"}) || len(txts) != 1 || res == nil {
		t.Errorf("one: %v %q %v %v", rec, txts, res, err)
	}
	rec, txts, res, err = LookupParsed(ctx, c, sts, "_mta-sts.bad.example", parse)
	if err == nil || rec != nil || len(txts) != 1 || res == nil {
		t.Errorf("bad: %v %q %v %v", rec, txts, res, err)
	}
	rec, txts, _, err = LookupParsed(ctx, c, sts, "_mta-sts.two.example", parse)
	if !errors.Is(err, errMany) || rec != nil || len(txts) != 2 {
		t.Errorf("two: %v %q %v", rec, txts, err)
	}
}
