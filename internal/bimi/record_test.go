package bimi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		in       string
		l, a     string
		declined bool
		wantErr  string
	}{
		// The draft's examples (4.3.1) and a typical record.
		{in: "v=BIMI1; l=; a=;", declined: true},
		{in: "v=BIMI1; l=; a=; lps=true;", declined: true},
		{in: "v=BIMI1; l=https://example.com/bimi/logo.svg; a=https://example.com/bimi/vmc.pem", l: "https://example.com/bimi/logo.svg", a: "https://example.com/bimi/vmc.pem"},
		{in: "v=BIMI1;l=https://example.com/l.svg", l: "https://example.com/l.svg"},
		{in: "v = BIMI1 ; l = https://example.com/l.svg ; avp=personal ; x=unknown", l: "https://example.com/l.svg"},
		{in: "v=BIMI1; l=https://example.com/l.svg;", l: "https://example.com/l.svg"},
		{in: "v=BIMI1;", wantErr: "l= is missing"},
		{in: "v=BIMI1; a=https://example.com/vmc.pem", wantErr: "l= is missing"},
		{in: "v=BIMI2; l=", wantErr: "must start with v=BIMI1"},
		{in: "v=bimi1; l=", wantErr: "must start with v=BIMI1"},
		{in: "l=; v=BIMI1", wantErr: "must start with v=BIMI1"},
		{in: "v=BIMI1; l=; l=https://example.com/l.svg", wantErr: "appears twice"},
		{in: "v=BIMI1; l=; v=BIMI1", wantErr: "appears twice"},
		{in: "v=BIMI1;; l=", wantErr: "empty tag"},
		{in: "v=BIMI1; l", wantErr: "has no \"=\""},
		{in: "v=BIMI1; 1x=y; l=", wantErr: "bad tag name"},
		{in: "v=BIMI1; l=; lps=yes", wantErr: "must be true or false"},
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
		if r.Location != tc.l || r.Authority != tc.a || r.Declined() != tc.declined {
			t.Errorf("ParseRecord(%q) = %+v", tc.in, r)
		}
		if r2, err := ParseRecord(r.String()); err != nil || r2.String() != r.String() {
			t.Errorf("round trip via %q: %v", r.String(), err)
		}
	}
}

func TestIsBIMIRecord(t *testing.T) {
	for in, want := range map[string]bool{
		"v=BIMI1; l=": true, "v = BIMI1;l=": true, "v=BIMI1": true,
		"v=BIMI10; l=": false, "v=spf1 -all": false, "l=; v=BIMI1": false,
	} {
		if got := IsBIMIRecord(in); got != want {
			t.Errorf("IsBIMIRecord(%q) = %v", in, got)
		}
	}
}

func TestCheckLocation(t *testing.T) {
	for in, wantErr := range map[string]string{
		"https://example.com/logo.svg":        "",
		"https://cdn.example.com/logo.svgz":   "",
		"https://example.com/logo":            "",
		"http://example.com/logo.svg":         "not an https:// URI",
		"https://example.com/logo.png":        "png image",
		"https://example.com/a.svg,https://x": "single URI",
		"https://localhost/logo.svg":          "fully qualified",
		"logo.svg":                            "not an https:// URI",
	} {
		err := CheckLocation(in)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("CheckLocation(%q) = %v, want %q", in, err, wantErr)
		}
	}
	if err := CheckAuthority("http://example.com/vmc.pem"); err == nil {
		t.Error("http a= accepted")
	}
}

// A logo in the SVG Tiny PS shape BIMI wants.
const goodSVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 512 512">
  <title>Example Inc.</title>
  <desc>The Example logo</desc>
  <defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
  <rect width="512" height="512" fill="url(#g)"/>
  <circle cx="256" cy="256" r="200" fill="#c00"/>
</svg>`

func TestCheckSVG(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	tests := []struct {
		name  string
		in    []byte
		codes string
	}{
		{name: "good", in: []byte(goodSVG)},
		{name: "svgz", in: gz(goodSVG)},
		{name: "wrong profile", in: []byte(strings.Replace(goodSVG, `baseProfile="tiny-ps"`, `baseProfile="tiny"`, 1)), codes: "profile"},
		{name: "svg 1.1", in: []byte(strings.Replace(strings.Replace(goodSVG, `version="1.2" baseProfile="tiny-ps" `, ``, 1), `<svg `, `<svg version="1.1" `, 1)), codes: "profile,version"},
		{name: "no title", in: []byte(strings.Replace(goodSVG, "<title>Example Inc.</title>", "", 1)), codes: "no-title"},
		{name: "nested title does not count", in: []byte(strings.Replace(strings.Replace(goodSVG, "<title>Example Inc.</title>", "", 1), "<desc>", "<g><title>x</title></g><desc>", 1)), codes: "no-title"},
		{name: "not square", in: []byte(strings.Replace(goodSVG, `viewBox="0 0 512 512"`, `viewBox="0 0 640 480"`, 1)), codes: "not-square"},
		{name: "width/height square", in: []byte(strings.Replace(goodSVG, `viewBox="0 0 512 512"`, `width="96px" height="96"`, 1))},
		{name: "no size", in: []byte(strings.Replace(goodSVG, ` viewBox="0 0 512 512"`, ``, 1)), codes: "no-viewbox"},
		{name: "root x y", in: []byte(strings.Replace(goodSVG, `<svg `, `<svg x="0" y="0" `, 1)), codes: "root-xy,root-xy"},
		{name: "script", in: []byte(strings.Replace(goodSVG, "</svg>", "<script>alert(1)</script></svg>", 1)), codes: "forbidden-element"},
		{name: "event handler", in: []byte(strings.Replace(goodSVG, `r="200"`, `r="200" onclick="x()"`, 1)), codes: "script"},
		{name: "external image", in: []byte(strings.Replace(goodSVG, "</svg>", `<image xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="https://evil.example/x.png"/></svg>`, 1)), codes: "forbidden-element,external"},
		{name: "external use", in: []byte(strings.Replace(goodSVG, "</svg>", `<use href="https://evil.example/s.svg#a"/></svg>`, 1)), codes: "external"},
		{name: "external fill", in: []byte(strings.Replace(goodSVG, `fill="#c00"`, `fill="url(https://evil.example/p.svg#p)"`, 1)), codes: "external"},
		{name: "animation", in: []byte(strings.Replace(goodSVG, "</svg>", `<animate attributeName="r" to="10"/><set attributeName="r" to="1"/></svg>`, 1)), codes: "forbidden-element,forbidden-element"},
		{name: "entities", in: []byte(strings.Replace(goodSVG, "<svg ", `<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg `, 1)), codes: "entity"},
		{name: "too large", in: []byte(strings.Replace(goodSVG, "<desc>", "<desc>"+strings.Repeat("x", MaxLogoSize), 1)), codes: "too-large"},
		{name: "html", in: []byte("<html><body>404</body></html>"), codes: "not-svg"},
		{name: "png", in: []byte("\x89PNG\r\n\x1a\n\x00\x00"), codes: "not-svg"},
		{name: "empty", in: nil, codes: "not-svg"},
		{name: "truncated", in: []byte(goodSVG[:200]), codes: "bad-xml"},
		{name: "truncated before title", in: []byte(goodSVG[:160]), codes: "bad-xml,no-title"},
		{name: "bad gzip", in: []byte{0x1f, 0x8b, 0, 0}, codes: "not-svg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, ps := CheckSVG(tc.in)
			var codes []string
			for _, p := range ps {
				codes = append(codes, p.Code)
			}
			if got := strings.Join(codes, ","); got != tc.codes {
				t.Fatalf("codes = %q, want %q (%v)", got, tc.codes, ps)
			}
			if tc.codes == "" && (info.Title != "Example Inc." || !info.Square || info.BaseProfile != "tiny-ps") && tc.name != "width/height square" {
				t.Fatalf("info = %+v", info)
			}
		})
	}
}

func FuzzParseBIMI(f *testing.F) {
	for _, s := range []string{
		"v=BIMI1; l=; a=;", "v=BIMI1; l=https://example.com/bimi/logo.svg; a=https://example.com/bimi/vmc.pem",
		"v = BIMI1 ; l = x ; avp=personal", "v=BIMI1;;", "v=BIMI1; l=a,b", "v=BIMI1; l=; lps=true; x_y=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		if r.Version != "BIMI1" || !r.HasL {
			t.Fatalf("accepted %q as %+v", s, r)
		}
		_ = CheckLocation(r.Location)
		_ = CheckAuthority(r.Authority)
		r2, err := ParseRecord(r.String())
		if err != nil || r2.String() != r.String() || r2.Location != r.Location || r2.Authority != r.Authority {
			t.Fatalf("round trip of %q via %q: %v", s, r.String(), err)
		}
	})
}

func FuzzCheckSVG(f *testing.F) {
	f.Add([]byte(goodSVG))
	f.Add([]byte("<svg/>"))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><svg x="1">&a;</svg>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, _ := CheckSVG(b) // must not panic or hang
		if info == nil {
			t.Fatal("nil info")
		}
	})
}
