package dmarc

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The records of RFC 9989 Appendix B.2, verbatim (the zone file strings
// joined, as 4.5 requires).
var rfcExamples = []struct {
	name string
	txt  string
	want Record
}{
	{"B.2.1", "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
		Record{Policy: PolicyNone, RUA: []URI{{Raw: "mailto:dmarc-feedback@example.com", Scheme: "mailto", Address: "dmarc-feedback@example.com", Host: "example.com"}}}},
	{"B.2.2", "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@example.com",
		Record{Policy: PolicyNone,
			RUA: []URI{{Raw: "mailto:dmarc-feedback@example.com", Scheme: "mailto", Address: "dmarc-feedback@example.com", Host: "example.com"}},
			RUF: []URI{{Raw: "mailto:auth-reports@example.com", Scheme: "mailto", Address: "auth-reports@example.com", Host: "example.com"}}}},
	{"B.2.3", "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net",
		Record{Policy: PolicyNone,
			RUA: []URI{{Raw: "mailto:dmarc-feedback@example.com", Scheme: "mailto", Address: "dmarc-feedback@example.com", Host: "example.com"}},
			RUF: []URI{{Raw: "mailto:auth-reports@thirdparty.example.net", Scheme: "mailto", Address: "auth-reports@thirdparty.example.net", Host: "thirdparty.example.net"}}}},
	{"B.2.3 authorisation", "v=DMARC1;", Record{}},
	{"B.2.5", "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net; t=y",
		Record{Policy: PolicyQuarantine, Testing: "y", RUA: []URI{
			{Raw: "mailto:dmarc-feedback@example.com", Scheme: "mailto", Address: "dmarc-feedback@example.com", Host: "example.com"},
			{Raw: "mailto:tld-test@thirdparty.example.net", Scheme: "mailto", Address: "tld-test@thirdparty.example.net", Host: "thirdparty.example.net"}}}},
	{"B.3.1", "v=DMARC1; p=reject; aspf=r;\n        rua=mailto:dmarc-feedback@example.com",
		Record{Policy: PolicyReject, ASPF: AlignRelaxed, RUA: []URI{{Raw: "mailto:dmarc-feedback@example.com", Scheme: "mailto", Address: "dmarc-feedback@example.com", Host: "example.com"}}}},
}

func TestParseRecordRFCExamples(t *testing.T) {
	for _, tt := range rfcExamples {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := ParseRecord(tt.txt)
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			got := *rec
			got.Tags, got.Errors = nil, nil
			tt.want.Version = "DMARC1"
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestParseRecordTags covers every tag of RFC 9989 4.7 and the legacy
// tags of RFC 7489, valid and invalid.
func TestParseRecordTags(t *testing.T) {
	type check func(*Record) bool
	tests := []struct {
		txt     string
		ok      check
		errTag  string // "" for no error
		errText string
		legacy  bool
	}{
		{"v=DMARC1; p=none", func(r *Record) bool { return r.Policy == PolicyNone }, "", "", false},
		{"v=DMARC1; p=quarantine", func(r *Record) bool { return r.P() == PolicyQuarantine }, "", "", false},
		{"v=DMARC1; p=REJECT", func(r *Record) bool { return r.Policy == PolicyReject }, "", "", false},
		{"v=DMARC1; p=rejected", func(r *Record) bool { return r.Policy == "" }, "p", "want none, quarantine or reject", false},
		{"v=DMARC1; p=", nil, "p", "the value is empty", false},
		{"v=DMARC1; p=reject; sp=quarantine", func(r *Record) bool { return r.SP() == PolicyQuarantine && r.NP() == PolicyQuarantine }, "", "", false},
		{"v=DMARC1; p=reject; sp=maybe", nil, "sp", "want none, quarantine or reject", false},
		{"v=DMARC1; p=none; np=reject", func(r *Record) bool { return r.NP() == PolicyReject && r.SP() == PolicyNone }, "", "", false},
		{"v=DMARC1; p=none; np=yes", nil, "np", "want none", false},
		{"v=DMARC1; p=reject; psd=y", func(r *Record) bool { return r.PSD == PSDYes }, "", "", false},
		{"v=DMARC1; p=reject; psd=n", func(r *Record) bool { return r.PSD == PSDNo }, "", "", false},
		{"v=DMARC1; p=reject; psd=u", func(r *Record) bool { return r.PSD == PSDUnknown }, "", "", false},
		{"v=DMARC1; p=reject; psd=yes", nil, "psd", "want y, n or u", false},
		{"v=DMARC1; p=reject; t=y", func(r *Record) bool { return r.TestMode() }, "", "", false},
		{"v=DMARC1; p=reject; t=n", func(r *Record) bool { return !r.TestMode() && r.Testing == "n" }, "", "", false},
		{"v=DMARC1; p=reject; t=1", nil, "t", "want y or n", false},
		{"v=DMARC1; p=reject; adkim=s; aspf=s", func(r *Record) bool { return r.ADKIMMode() == AlignStrict && r.ASPFMode() == AlignStrict }, "", "", false},
		{"v=DMARC1; p=reject", func(r *Record) bool { return r.ADKIMMode() == AlignRelaxed && r.ASPFMode() == AlignRelaxed }, "", "", false},
		{"v=DMARC1; p=reject; adkim=strict", nil, "adkim", "want r (relaxed) or s (strict)", false},
		{"v=DMARC1; p=reject; aspf=x", nil, "aspf", "want r", false},
		{"v=DMARC1; p=none; fo=1", func(r *Record) bool { return reflect.DeepEqual(r.FO, []string{"1"}) }, "", "", false},
		{"v=DMARC1; p=none; fo=0:d:s", func(r *Record) bool { return reflect.DeepEqual(r.FO, []string{"0", "d", "s"}) }, "", "", false},
		{"v=DMARC1; p=none; fo=d:1", func(r *Record) bool { return len(r.FO) == 2 }, "", "", false},
		{"v=DMARC1; p=none; fo=0:1", nil, "fo", "mutually exclusive", false},
		{"v=DMARC1; p=none; fo=d:d", nil, "fo", "appears twice", false},
		{"v=DMARC1; p=none; fo=x", nil, "fo", "unknown option", false},
		{"v=DMARC1; p=none; rua=mailto:a@example.com, mailto:b@example.org!10m", func(r *Record) bool {
			return len(r.RUA) == 2 && r.RUA[1].Size == "10m" && r.RUA[1].Host == "example.org"
		}, "", "", false},
		{"v=DMARC1; p=none; rua=a@example.com", nil, "rua", "has no scheme: write mailto:a@example.com", false},
		{"v=DMARC1; p=none; rua=mailto:a@example.com!x", nil, "rua", "must be percent-encoded", false},
		{"v=DMARC1; p=none; rua=mailto:not-an-address", nil, "rua", "is not an e-mail address", false},
		{"v=DMARC1; p=none; rua=mailto:a@example.com,", nil, "rua", "empty URI", false},
		{"v=DMARC1; p=none; ruf=mailto:a@b", nil, "ruf", "is not a domain name", false},
		{"v=DMARC1; p=none; rua=https://reports.example.com/dmarc", func(r *Record) bool { return r.RUA[0].Scheme == "https" && r.RUA[0].Host == "reports.example.com" }, "", "", false},
		{"v=DMARC1; p=none; pct=50", func(r *Record) bool { return r.Pct != nil && *r.Pct == 50 }, "", "", false},
		{"v=DMARC1; p=none; pct=150", nil, "pct", "0 to 100", true},
		{"v=DMARC1; p=none; pct=-1", nil, "pct", "0 to 100", true},
		{"v=DMARC1; p=none; rf=afrf", func(r *Record) bool { return reflect.DeepEqual(r.RF, []string{"afrf"}) }, "", "", false},
		{"v=DMARC1; p=none; rf=iodef", nil, "rf", "want afrf", true},
		{"v=DMARC1; p=none; ri=86400", func(r *Record) bool { return r.RI != nil && *r.RI == 86400 }, "", "", false},
		{"v=DMARC1; p=none; ri=daily", nil, "ri", "seconds", true},
		{"v=DMARC1; p=none; foo=bar", func(r *Record) bool { return len(r.Unknown) == 1 && r.Unknown[0].Name == "foo" }, "", "", false},
		{"v=DMARC1; p=none; p=reject", func(r *Record) bool { return r.Policy == PolicyNone }, "p", "appears twice", false},
		{"v=DMARC1; p=none; garbage", nil, "", "is not a tag=value pair", false},
		{"v=DMARC1; p=none; p1=x", nil, "p1", "may contain only letters", false},
		{"v=DMARC1; p=none; rua=mailto:a@example.com\x1b[31m", nil, "rua", "0x1b", false},
		{"v=DMARC1;p=reject;;", func(r *Record) bool { return r.Policy == PolicyReject }, "", "", false},
		{"v = DMARC1 ; p = reject ;", func(r *Record) bool { return r.Policy == PolicyReject }, "", "", false},
		{"V=DMARC1; P=Reject; SP=None", func(r *Record) bool { return r.Policy == PolicyReject && r.SubdomainPolicy == PolicyNone }, "", "", false},
		{"v=DMARC1; rua=mailto:a@example.com", func(r *Record) bool { return r.Policy == "" && r.Applies() }, "", "", false},
		{"v=DMARC1", func(r *Record) bool { return !r.Applies() }, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.txt, func(t *testing.T) {
			rec, err := ParseRecord(tt.txt)
			if rec == nil {
				t.Fatalf("not parsed as DMARC: %v", err)
			}
			if tt.errTag == "" && tt.errText == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("error %v does not match ErrSyntax", err)
				}
				var te *TagError
				if !errors.As(err, &te) || te.Tag != tt.errTag || !strings.Contains(te.Reason, tt.errText) || te.Legacy != tt.legacy {
					t.Fatalf("error %#v, want tag %q reason ~%q legacy %v", te, tt.errTag, tt.errText, tt.legacy)
				}
			}
			if tt.ok != nil && !tt.ok(rec) {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

func TestParseRecordNotDMARC(t *testing.T) {
	tests := []struct{ txt, reason string }{
		{"", "first tag must be v=DMARC1"},
		{"p=reject; v=DMARC1", "first tag must be v=DMARC1"},
		{"v=spf1 -all", "the only DMARC version is DMARC1"},
		{"v=dmarc1; p=reject", "case-sensitive"},
		{"v=DMARC1 p=reject", "expected \";\" after v=DMARC1"},
		{"v=DMARC2; p=reject", "the only DMARC version"},
		{"  p=none", "first tag must be"},
		{strings.Repeat("v=DMARC1; ", 2000), "bytes long"},
	}
	for _, tt := range tests {
		rec, err := ParseRecord(tt.txt)
		if rec != nil || !errors.Is(err, ErrNotDMARC) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%.40q: rec %v err %v, want ErrNotDMARC ~%q", tt.txt, rec, err, tt.reason)
		}
		if isDMARC(tt.txt) && len(tt.txt) < maxRecordLen {
			t.Errorf("%q: IsDMARC true", tt.txt)
		}
	}
}

func TestEffectivePolicies(t *testing.T) {
	tests := []struct {
		txt       string
		p, sp, np Policy
		applies   bool
	}{
		{"v=DMARC1; p=reject", PolicyReject, PolicyReject, PolicyReject, true},
		{"v=DMARC1; p=reject; sp=none", PolicyReject, PolicyNone, PolicyNone, true},
		{"v=DMARC1; p=reject; sp=none; np=quarantine", PolicyReject, PolicyNone, PolicyQuarantine, true},
		{"v=DMARC1; p=none; np=reject", PolicyNone, PolicyNone, PolicyReject, true},
		// RFC 9989 4.10.1: invalid or missing p with a valid rua: as p=none.
		{"v=DMARC1; p=bogus; rua=mailto:a@example.com", PolicyNone, PolicyNone, PolicyNone, true},
		{"v=DMARC1; p=reject; sp=bogus; rua=mailto:a@example.com", PolicyNone, PolicyNone, PolicyNone, true},
		// ...and without one, the record is ignored.
		{"v=DMARC1; p=bogus", PolicyNone, PolicyNone, PolicyNone, false},
		{"v=DMARC1; p=reject; np=bogus", PolicyNone, PolicyNone, PolicyNone, false},
	}
	for _, tt := range tests {
		rec, _ := ParseRecord(tt.txt)
		p, sp, np := rec.Effective()
		if p != tt.p || sp != tt.sp || np != tt.np || rec.Applies() != tt.applies {
			t.Errorf("%q: p=%s sp=%s np=%s applies=%v", tt.txt, p, sp, np, rec.Applies())
		}
	}
}

func TestRecordString(t *testing.T) {
	for _, tt := range []struct{ in, out string }{
		{"v=DMARC1;p=reject;  rua=mailto:a@example.com ,mailto:b@example.com;", "v=DMARC1; p=reject; rua=mailto:a@example.com ,mailto:b@example.com"},
		{"V = DMARC1 ; P = none", "v=DMARC1; p=none"},
		{"v=DMARC1; p=none; x=1; pct=20", "v=DMARC1; p=none; x=1; pct=20"},
		// A tag name with bytes that are not UTF-8 keeps them (it is reported
		// as a bad name); lowercasing must not turn each into a U+FFFD.
		{"v=DMARC1; R\x8c\x8cA=1", "v=DMARC1; r\x8c\x8ca=1"},
	} {
		rec, _ := ParseRecord(tt.in)
		if got := rec.String(); got != tt.out {
			t.Errorf("%q: String() = %q, want %q", tt.in, got, tt.out)
		}
	}
}

func TestPolicyOrder(t *testing.T) {
	if !PolicyNone.Weaker(PolicyQuarantine) || !PolicyQuarantine.Weaker(PolicyReject) || PolicyReject.Weaker(PolicyNone) {
		t.Error("policy order wrong")
	}
	if PolicyReject.OneLevelDown() != PolicyQuarantine || PolicyQuarantine.OneLevelDown() != PolicyNone || PolicyNone.OneLevelDown() != PolicyNone {
		t.Error("t=y steps wrong")
	}
}
