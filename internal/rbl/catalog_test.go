package rbl

import (
	"net/netip"
	"strings"
	"testing"
)

func TestDefaultCatalog(t *testing.T) {
	cat := Default()
	if n := len(cat.Lists); n < 20 || n > 30 {
		t.Errorf("%d lists in the catalogue; want 20-30 well-known ones", n)
	}
	dead := []string{"sorbs.net", "ix.dnsbl.manitu.net", "cbl.abuseat.org", "invaluement.com"}
	for _, l := range cat.Lists {
		for _, d := range dead {
			if strings.Contains(l.Zone, d) || strings.Contains(l.KeyZone, d) {
				t.Errorf("%s: %s is dead or not public", l.ID, d)
			}
		}
		if !strings.HasPrefix(l.Source, "http") || !strings.HasPrefix(l.Delist, "http") {
			t.Errorf("%s: source and delist must be URLs", l.ID)
		}
	}
	for _, want := range []string{"spamhaus-zen", "spamhaus-dbl", "spamcop", "barracuda", "surbl", "uribl", "uceprotect-1", "uceprotect-2", "uceprotect-3", "psbl", "mailspike-bl", "dronebl", "0spam", "abusix"} {
		if _, ok := cat.ByID(want); !ok {
			t.Errorf("catalogue lacks %s", want)
		}
	}
	major, _ := cat.Select("major")
	all, _ := cat.Select("all")
	if len(major) == 0 || len(all) <= len(major) {
		t.Errorf("major %d, all %d", len(major), len(all))
	}
	for _, l := range all {
		if l.NeedsKey || l.Zone == "" {
			t.Errorf("%s needs a key but is selected by default", l.ID)
		}
	}
	for _, l := range major {
		if l.Weight != WeightMajor {
			t.Errorf("%s is minor but selected as major", l.ID)
		}
	}
	if _, err := cat.Select("some"); err == nil {
		t.Error("--lists some accepted")
	}
}

func TestMeaning(t *testing.T) {
	cat := Default()
	get := func(id string) List {
		l, ok := cat.ByID(id)
		if !ok {
			t.Fatalf("no %s", id)
		}
		return l
	}
	tests := []struct {
		list    string
		answer  string
		contain string
		refused bool
		known   bool
	}{
		{"spamhaus-zen", "127.0.0.2", "SBL", false, true},
		{"spamhaus-zen", "127.0.0.3", "CSS", false, true},
		{"spamhaus-zen", "127.0.0.6", "XBL", false, true},
		{"spamhaus-zen", "127.0.0.9", "DROP", false, true},
		{"spamhaus-zen", "127.0.0.10", "PBL", false, true},
		{"spamhaus-zen", "127.0.0.11", "PBL", false, true},
		{"spamhaus-zen", "127.255.255.252", "typing error", true, true},
		{"spamhaus-zen", "127.255.255.254", "public or open resolver", true, true},
		{"spamhaus-zen", "127.255.255.255", "excessive", true, true},
		{"spamhaus-zen", "127.255.255.250", "error code", true, true},
		{"spamhaus-zen", "127.0.0.1", "never a listing", true, true},
		{"spamhaus-zen", "127.0.0.99", "", false, false},
		{"spamhaus-dbl", "127.0.1.2", "low-reputation", false, true},
		{"spamhaus-dbl", "127.0.1.104", "phishing", false, true},
		{"spamhaus-dbl", "127.0.1.255", "IP address was queried", true, true},
		{"uribl", "127.0.0.1", "URIBL's free use", true, true},
		{"uribl", "127.0.0.2", "black", false, true},
		{"uribl", "127.0.0.6", "grey", false, true},
		{"uribl", "127.0.0.14", "red", false, true},
		{"surbl", "127.0.0.80", "MW: malware", false, true},
		{"surbl", "127.0.0.80", "ABUSE", false, true},
		{"surbl", "127.0.0.1", "never a listing", true, true},
		{"surbl", "127.0.0.2", "", false, false},
		{"spamrats", "127.0.0.37", "no reverse DNS", false, true},
		{"dronebl", "127.0.0.8", "SOCKS", false, true},
	}
	for _, tt := range tests {
		m, refused, ok := get(tt.list).Meaning(netip.MustParseAddr(tt.answer))
		if ok != tt.known || refused != tt.refused || !strings.Contains(m, tt.contain) {
			t.Errorf("%s %s: meaning %q refused=%v known=%v; want %q refused=%v known=%v",
				tt.list, tt.answer, m, refused, ok, tt.contain, tt.refused, tt.known)
		}
	}
}

func TestResolve(t *testing.T) {
	cat := Default()
	ls, err := cat.Resolve([]string{"zen.spamhaus.org", "ABC123XYZ.zen.dq.spamhaus.net.", "ip:bl.example.net", "bl.other.test", "zen.spamhaus.org"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 4 {
		t.Fatalf("%d lists, want 4 (duplicate dropped): %+v", len(ls), ls)
	}
	if ls[0].ID != "spamhaus-zen" || !ls[0].UserGiven || len(ls[0].Refused) == 0 {
		t.Errorf("known zone not matched: %+v", ls[0])
	}
	if ls[1].ID != "spamhaus-zen" || ls[1].Zone != "abc123xyz.zen.dq.spamhaus.net" {
		t.Errorf("keyed zone not matched to ZEN: %+v", ls[1])
	}
	if ls[2].Kind != KindIP || ls[2].Zone != "bl.example.net" {
		t.Errorf("ip: prefix: %+v", ls[2])
	}
	if ls[3].Kind != KindAny || !ls[3].answersDomain() || !ls[3].answersIP(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("unknown zone should be asked about both: %+v", ls[3])
	}
	for _, bad := range []string{"not a zone", "com", "", "url:bl.example.net", "domain:zen.spamhaus.org", "a..b.example"} {
		if _, err := cat.Resolve([]string{bad}); err == nil {
			t.Errorf("--dnsbl %q accepted", bad)
		}
	}
	// A key must be one label: deeper names are not the keyed zone.
	if ls, _ := cat.Resolve([]string{"a.b.zen.dq.spamhaus.net"}); ls[0].ID == "spamhaus-zen" {
		t.Errorf("two-label key matched ZEN")
	}
}

func TestParseCatalogRejects(t *testing.T) {
	good := `lists:
  - id: x
    name: X
    zone: bl.example.net
    kind: ip
    ipv4: true
    weight: major
    about: x
    codes: [{code: 127.0.0.2, meaning: listed}]
    delist: https://example.net/
    source: https://example.net/doc
    reviewed: 2026-11-23
`
	if _, err := ParseCatalog([]byte(good)); err != nil {
		t.Fatalf("good catalogue rejected: %v", err)
	}
	for name, edit := range map[string][2]string{
		"unknown field":   {"about: x", "abuot: x"},
		"code outside":    {"127.0.0.2,", "10.0.0.2,"},
		"bad range":       {"127.0.0.2,", "127.0.0.9-127.0.0.2,"},
		"no meaning":      {"meaning: listed", "meaning: \"\""},
		"bad kind":        {"kind: ip", "kind: url"},
		"no family":       {"ipv4: true", "ipv4: false"},
		"bad weight":      {"weight: major", "weight: huge"},
		"no source":       {"source: https://example.net/doc", "source: \"\""},
		"bad zone":        {"zone: bl.example.net", "zone: \"bl example\""},
		"keyless no zone": {"zone: bl.example.net", "zone: \"\""},
		"bit on non-mask": {"{code: 127.0.0.2, meaning: listed}", "{bit: 2, meaning: listed}"},
	} {
		bad := strings.Replace(good, edit[0], edit[1], 1)
		if bad == good {
			t.Fatalf("%s: edit did not apply", name)
		}
		if _, err := ParseCatalog([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	dup := good + strings.Replace(good[len("lists:\n"):], "id: x", "id: y", 1)
	if _, err := ParseCatalog([]byte(dup)); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate zone: %v", err)
	}
}

func FuzzParseCatalog(f *testing.F) {
	// Small seeds only (issue 23 item 12: the whole lists.yaml made the
	// fuzzer spend its time minimising); the full file is a table test.
	f.Add([]byte("lists:\n  - id: z\n    zone: zen.example\n    kind: ip\n    ipv4: true\n    weight: major\n    codes:\n      - {code: 127.0.0.2, meaning: \"SBL\"}\n      - code: 127.0.0.10\n        meaning: PBL\n        fix: smarthost\n    refused:\n      - {code: 127.255.255.254, meaning: refused}\n    delist: https://d.example/\n    source: https://s.example/\n"))
	f.Add([]byte("lists: [{id: a, name: b, zone: c.d, kind: ip, ipv4: true, weight: minor, codes: [{code: 127.0.0.2-127.0.0.9, meaning: m}], delist: u, source: s, reviewed: r}]"))
	f.Add([]byte("lists: [{id: a, bitmask: true, codes: [{bit: 3}]}]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cat, err := ParseCatalog(data)
		if err != nil {
			return
		}
		for _, l := range cat.Lists {
			for _, a := range []string{"127.0.0.1", "127.0.0.2", "127.255.255.255", "127.0.1.2"} {
				l.Meaning(netip.MustParseAddr(a))
			}
		}
	})
}
