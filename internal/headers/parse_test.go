package headers

import (
	"maps"
	"testing"
)

func TestParseAuthResults(t *testing.T) {
	tests := []struct {
		name, value string
		id          string
		want        []AuthResult
	}{
		{
			"RFC 8601 appendix B.4 style",
			"example.com; spf=pass smtp.mailfrom=example.net",
			"example.com",
			[]AuthResult{{Method: "spf", Result: "pass", Properties: map[string]string{"smtp.mailfrom": "example.net"}}},
		},
		{
			"RFC 8601 appendix B.6: several methods, comments, reason",
			`example.com;
              dkim=pass (good signature) header.i=@mail-router.example.net;
              dkim=fail (bad signature) header.i=@newyork.example.com`,
			"example.com",
			[]AuthResult{
				{Method: "dkim", Result: "pass", Comment: "good signature", Properties: map[string]string{"header.i": "@mail-router.example.net"}},
				{Method: "dkim", Result: "fail", Comment: "bad signature", Properties: map[string]string{"header.i": "@newyork.example.com"}},
			},
		},
		{
			"Gmail",
			`mx.google.com;
       dkim=pass header.i=@example.com header.s=s1 header.b=Ab12Cd34;
       spf=pass (google.com: domain of bounce@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=bounce@example.com;
       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com`,
			"mx.google.com",
			[]AuthResult{
				{Method: "dkim", Result: "pass", Properties: map[string]string{"header.i": "@example.com", "header.s": "s1", "header.b": "Ab12Cd34"}},
				{Method: "spf", Result: "pass", Comment: "google.com: domain of bounce@example.com designates 192.0.2.10 as permitted sender", Properties: map[string]string{"smtp.mailfrom": "bounce@example.com"}},
				{Method: "dmarc", Result: "pass", Comment: "p=REJECT sp=REJECT dis=NONE", Properties: map[string]string{"header.from": "example.com"}},
			},
		},
		{
			"Microsoft 365 (no authserv-id)",
			"spf=pass (sender IP is 192.0.2.20) smtp.mailfrom=example.com; dkim=fail (body hash did not verify) header.d=example.com;dmarc=fail action=oreject header.from=example.com;compauth=fail reason=000",
			"",
			[]AuthResult{
				{Method: "spf", Result: "pass", Comment: "sender IP is 192.0.2.20", Properties: map[string]string{"smtp.mailfrom": "example.com"}},
				{Method: "dkim", Result: "fail", Comment: "body hash did not verify", Properties: map[string]string{"header.d": "example.com"}},
				{Method: "dmarc", Result: "fail", Properties: map[string]string{"action": "oreject", "header.from": "example.com"}},
				{Method: "compauth", Result: "fail", Reason: "000", Properties: map[string]string{}},
			},
		},
		{
			"version, quoted reason, upper case",
			`mx.example.org 1; DKIM=PermError reason="no key; for signature" header.d=example.com`,
			"mx.example.org",
			[]AuthResult{{Method: "dkim", Result: "permerror", Reason: "no key; for signature", Properties: map[string]string{"header.d": "example.com"}}},
		},
		{"none", "mx.example.org; none", "mx.example.org", []AuthResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ar := ParseAuthResults(tt.value)
			if ar.AuthServID != tt.id || ar.Error != "" {
				t.Errorf("authserv-id %q error %q", ar.AuthServID, ar.Error)
			}
			if len(ar.Results) != len(tt.want) {
				t.Fatalf("results %+v", ar.Results)
			}
			for i, w := range tt.want {
				g := ar.Results[i]
				if g.Method != w.Method || g.Result != w.Result || g.Reason != w.Reason || g.Comment != w.Comment || !maps.Equal(g.Properties, w.Properties) {
					t.Errorf("result %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

func TestParseReceivedSPF(t *testing.T) {
	// RFC 7208 9.1's examples.
	rs := ParseReceivedSPF(`pass (mybox.example.org: domain of
    myname@example.com designates 192.0.2.1 as permitted sender)
       receiver=mybox.example.org; client-ip=192.0.2.1;
       envelope-from="myname@example.com"; helo=foo.example.com;`)
	want := map[string]string{"receiver": "mybox.example.org", "client-ip": "192.0.2.1", "envelope-from": "myname@example.com", "helo": "foo.example.com"}
	if rs.Result != "pass" || !maps.Equal(rs.Properties, want) {
		t.Errorf("%+v", rs)
	}
	rs = ParseReceivedSPF(`fail (mybox.example.org: domain of myname@example.com does not designate 192.0.2.1 as permitted sender) identity=mailfrom; client-ip=192.0.2.1; envelope-from=<>;`)
	if rs.Result != "fail" || rs.Properties["identity"] != "mailfrom" || rs.Properties["envelope-from"] != "<>" {
		t.Errorf("%+v", rs)
	}
	if rs := ParseReceivedSPF("Pass (protection.outlook.com: domain of example.com designates 192.0.2.20 as permitted sender) receiver=protection.outlook.com; client-ip=192.0.2.20; helo=mail.example.com; pr=C"); rs.Result != "pass" || rs.Properties["client-ip"] != "192.0.2.20" || rs.Properties["pr"] != "C" {
		t.Errorf("Microsoft: %+v", rs)
	}
}

func TestParseReceived(t *testing.T) {
	tests := []struct {
		name, value        string
		helo, rdns, ip, by string
	}{
		{"Postfix", "from mail.example.com (mail.example.com [192.0.2.30])\r\n\tby mx.receiver.example (Postfix) with ESMTPS id 4Abc for <u@receiver.example>; Mon, 23 Nov 2026 10:00:00 +0000",
			"mail.example.com", "mail.example.com", "192.0.2.30", "mx.receiver.example"},
		{"Postfix, no rDNS", "from helo.example.net (unknown [198.51.100.7]) by mx.receiver.example (Postfix) with ESMTP id X; Mon, 23 Nov 2026 10:00:00 +0000",
			"helo.example.net", "", "198.51.100.7", "mx.receiver.example"},
		{"Gmail", "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a1sor.2026; Mon, 23 Nov 2026 02:00:00 -0800 (PST)",
			"mail-sor-f41.google.com", "mail-sor-f41.google.com", "209.85.220.41", "mx.google.com"},
		{"Gmail internal", "by 2002:a05:7300:5c12:b0:10a:1234:abcd with SMTP id x18csp; Mon, 23 Nov 2026 02:00:01 -0800 (PST)",
			"", "", "", "2002:a05:7300:5c12:b0:10a:1234:abcd"},
		{"Exim", "from mail.example.com ([192.0.2.40] helo=client.example.com) by mx.receiver.example with esmtps (TLS1.3) (Exim 4.96) (envelope-from <a@example.com>) id 1x-2; Mon, 23 Nov 2026 10:00:00 +0000",
			"client.example.com", "mail.example.com", "192.0.2.40", "mx.receiver.example"},
		{"Exim, literal", "from [192.0.2.41] (helo=laptop) by smtp.example.com with esmtpsa id 1; Mon, 23 Nov 2026 10:00:00 +0000",
			"laptop", "", "192.0.2.41", "smtp.example.com"},
		{"qmail", "from unknown (HELO mail.example.com) (192.0.2.42) by mx.receiver.example with SMTP; 23 Nov 2026 10:00:00 -0000",
			"mail.example.com", "", "192.0.2.42", "mx.receiver.example"},
		{"Exchange Online", "from AM6PR0102MB3456.eurprd01.prod.exchangelabs.com (2603:10a6:209:2d::13) by AM6PR0102MB1234.eurprd01.prod.exchangelabs.com with HTTPS; Mon, 23 Nov 2026 10:00:00 +0000",
			"AM6PR0102MB3456.eurprd01.prod.exchangelabs.com", "", "2603:10a6:209:2d::13", "am6pr0102mb1234.eurprd01.prod.exchangelabs.com"},
		{"IPv6 literal", "from mail.example.com (mail.example.com [IPv6:2001:db8::25]) by mx.receiver.example (Postfix) with ESMTPS; Mon, 23 Nov 2026 10:00:00 +0000",
			"mail.example.com", "mail.example.com", "2001:db8::25", "mx.receiver.example"},
		{"garbage", "((( from [not-an-ip] by", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ParseReceived(tt.value)
			if h.HELO != tt.helo || h.RDNS != tt.rdns || h.IP != tt.ip || h.By != tt.by {
				t.Errorf("got helo=%q rdns=%q ip=%q by=%q", h.HELO, h.RDNS, h.IP, h.By)
			}
		})
	}
}

func FuzzParseAuthResults(f *testing.F) {
	f.Add("mx.google.com; dkim=pass header.i=@example.com; spf=pass (c; d) smtp.mailfrom=a@b")
	f.Add(`x; dkim=fail reason="a \"q\" (b" header.d=x`)
	f.Add("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=x;;;")
	f.Add("((((")
	f.Fuzz(func(t *testing.T, s string) {
		ar := ParseAuthResults(s)
		for _, r := range ar.Results {
			if r.Method == "" {
				t.Fatalf("%q: empty method in %+v", s, r)
			}
		}
		_ = ParseReceivedSPF(s)
	})
}

func FuzzParseReceived(f *testing.F) {
	f.Add("from a (b [192.0.2.1]) by c with d; date")
	f.Add("from [IPv6:::1] (helo=x) by y; z")
	f.Add("from unknown (HELO a) (1.2.3.4) by b")
	f.Add(")(;from")
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseReceived(s)
		if h.IP != "" && !validIP(h.IP) {
			t.Fatalf("%q: invalid IP %q", s, h.IP)
		}
	})
}
