package receive

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

func TestVerifyARC(t *testing.T) {
	raw, err := os.ReadFile("testdata/arc-mailauth.eml")
	if err != nil {
		t.Fatal(err)
	}
	zone, err := os.ReadFile("testdata/arc-mailauth.zone")
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.ReplaceAll(string(raw), "\r\n", "\n")
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	srv := dnstest.Start(t, string(zone))
	noKey := dnstest.Start(t, "")
	tests := []struct {
		name    string
		msg     string
		noKey   bool
		want    ARCStatus
		present bool
		reason  string
	}{
		{name: "two instances sealed by mailauth", msg: msg, want: ARCPass, present: true},
		{name: "body changed after sealing", msg: strings.Replace(msg, "algebraic", "arithmetic", 1), want: ARCFail, present: true, reason: "body hash"},
		{name: "first hop's results changed", msg: strings.Replace(msg, "i=1; forwarder.example;", "i=1; forwarder.example; dkim=pass;", 1), want: ARCFail, present: true, reason: "ARC-Seal i=2"},
		{name: "newest seal says cv=fail", msg: strings.Replace(msg, "cv=pass", "cv=fail", 1), want: ARCFail, present: true, reason: "cv=fail"},
		{name: "a set is incomplete", msg: dropField(msg, "ARC-Seal: i=1"), want: ARCFail, present: true, reason: "incomplete"},
		{name: "no key published", msg: msg, noKey: true, want: ARCFail, present: true, reason: "no usable key"},
		{name: "no ARC", msg: "From: a@example.com\r\n\r\nhi\r\n", want: ARCNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s := srv
			if tc.noKey {
				s = noKey
			}
			fields, _, _ := dkim.SplitHeader([]byte(tc.msg))
			res := VerifyARC(ctx, s.Client(t), []byte(tc.msg), fields)
			if res.Result != tc.want || res.Present != tc.present || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("got %s present=%v %q, want %s present=%v containing %q", res.Result, res.Present, res.Reason, tc.want, tc.present, tc.reason)
			}
			cr := res.CheckResult()
			if cr.Name != "arc" {
				t.Errorf("check %q", cr.Name)
			}
		})
	}
}

// dropField removes the header field starting with prefix (and its
// continuation lines).
func dropField(msg, prefix string) string {
	lines := strings.SplitAfter(msg, "\r\n")
	var out []string
	skip := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, prefix):
			skip = true
			continue
		case skip && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			continue
		}
		skip = false
		out = append(out, l)
	}
	return strings.Join(out, "")
}

func FuzzCanonicalization(f *testing.F) {
	f.Add([]byte("ARC-Seal: i=1; a=rsa-sha256; b=abc\r\n def; cv=none\r\n\r\n a  b \t\r\n\r\n"))
	f.Add([]byte("X: y\n\nbody\n\n\n"))
	f.Add([]byte("ARC-Message-Signature: i=99; b=\r\n\r\n"))
	r, err := dnsx.New(dnsx.Config{Offline: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, body, _ := dkim.SplitHeader(msg)
		for i := range fields {
			h := relaxedHeader(withoutB(&fields[i]))
			if !strings.HasSuffix(h, "\r\n") || strings.Count(h, "\r\n") != 1 {
				t.Fatalf("relaxed header %q", h)
			}
		}
		for _, relaxed := range []bool{false, true} {
			b := canonBody(body, relaxed)
			if len(b) > 0 && !strings.HasSuffix(string(b), "\r\n") {
				t.Fatalf("canonical body %q does not end in CRLF", b)
			}
		}
		// Offline nothing verifies, but nothing panics.
		_ = VerifyARC(context.Background(), r, msg, fields)
	})
}
