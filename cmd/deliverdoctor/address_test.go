package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/smtptest"
)

// TestAddressJSONContract decodes `address --format json` into the shape
// the brief fixes: address, local, domain, syntax_valid, problems,
// mx{...}, smtp{accepted, code, enhanced_code, text, catch_all}.
func TestAddressJSONContract(t *testing.T) {
	srv := dnstest.Start(t, mxCLIZone)
	smtpSrv := smtptest.Start(t, nil, nil)
	port := fmt.Sprint(smtpSrv.Addr.Port())

	out, stderr, code := runCLI(t, "address", "alice@test.example", "--resolver", srv.Addr(), "--format", "json")
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s %s", err, out, stderr)
	}
	for _, f := range []string{"address", "local", "domain", "syntax_valid", "problems", "mx", "smtp", "status", "summary", "findings"} {
		if _, ok := doc[f]; !ok {
			t.Errorf("missing field %q", f)
		}
	}
	if string(doc["smtp"]) != "null" || code != 0 {
		t.Errorf("smtp without --smtp: %s (exit %d)", doc["smtp"], code)
	}

	out, _, code = runCLI(t, "address", "bob@test.example", "--resolver", srv.Addr(), "--smtp", "--smtp-port", port, "--format", "json")
	var r struct {
		Address     string `json:"address"`
		Local       string `json:"local"`
		Domain      string `json:"domain"`
		SyntaxValid bool   `json:"syntax_valid"`
		Problems    []struct {
			ID, Severity, Message string
		} `json:"problems"`
		MX struct {
			Status string `json:"status"`
			Hosts  []struct {
				Name string `json:"name"`
			} `json:"hosts"`
		} `json:"mx"`
		SMTP struct {
			Accepted     bool   `json:"accepted"`
			Code         int    `json:"code"`
			EnhancedCode string `json:"enhanced_code"`
			Text         string `json:"text"`
			CatchAll     *bool  `json:"catch_all"`
			Caveat       string `json:"caveat"`
		} `json:"smtp"`
		Status   string `json:"status"`
		Findings []struct {
			ID          string   `json:"id"`
			BounceCodes []string `json:"bounce_codes"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Address != "bob@test.example" || r.Local != "bob" || r.Domain != "test.example" || !r.SyntaxValid || r.Problems == nil {
		t.Errorf("address fields %+v", r)
	}
	if r.MX.Status != "warn" || len(r.MX.Hosts) != 1 || r.MX.Hosts[0].Name != "mx.test.example" {
		t.Errorf("mx %+v", r.MX)
	}
	if r.SMTP.Accepted || r.SMTP.Code != 550 || r.SMTP.EnhancedCode != "5.1.1" || r.SMTP.Text != "no such user here" ||
		r.SMTP.CatchAll == nil || *r.SMTP.CatchAll || r.SMTP.Caveat == "" {
		t.Errorf("smtp %+v", r.SMTP)
	}
	if r.Status != "fail" || code != 1 {
		t.Errorf("status %s exit %d", r.Status, code)
	}
	for _, f := range r.Findings {
		for _, c := range f.BounceCodes {
			if !enhancedCode.MatchString(c) {
				t.Errorf("%s: bounce code %q", f.ID, c)
			}
		}
	}
	smtpSrv.Log.AssertNoData(t)

	out, _, code = runCLI(t, "address", "alice@test.example", "--resolver", srv.Addr(), "--smtp", "--smtp-port", port)
	if code != 0 || !strings.Contains(out, "RCPT TO answered 250 2.0.0") || !strings.Contains(out, "→ accepted") || !strings.Contains(out, "catch-all  no") {
		t.Errorf("text, exit %d:\n%s", code, out)
	}
}

func TestAddressCommand(t *testing.T) {
	srv := dnstest.Start(t, mxCLIZone)
	r := "--resolver=" + srv.Addr()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"address", "a..b@test.example", r}, 1, "INVALID: the local part \"a..b\" has two dots in a row"},
		{[]string{"address", "bob@nullmx.example", r}, 1, "the domain cannot receive mail"},
		{[]string{"address", "\"John Doe\"@test.example", r}, 0, "valid (quoted local part)"},
		{[]string{"address", "用户@例子.广告", "--offline"}, 0, "例子.广告 = xn--fsqu00a.xn--4rr70v"},
		{[]string{"address", "user\x1b[2J@test.example", r}, 1, `control character \x1b`},
		{[]string{"address", strings.Repeat("x", 5000) + "@test.example", r}, 1, "an address has at most 254"},
	}
	for _, tt := range tests {
		out, stderr, code := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("%.60q: exit %d, want %d; output lacks %q:\n%s%s", tt.args[1], code, tt.code, tt.want, out, stderr)
		}
		if strings.ContainsAny(out, "\x1b") {
			t.Errorf("raw escape in output: %q", out)
		}
	}
	out, _, _ := runCLI(t, "address", "a@test.example", "b@@test.example", r, "--format", "json")
	var arr []map[string]any
	if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) != 2 || arr[1]["syntax_valid"] != false {
		t.Errorf("two addresses: %v %s", err, out)
	}
	for _, args := range [][]string{{"address"}, {"address", "a@b.example", "--format", "html"}, {"address", "a@b.example", "--mail-from", "not an address"}} {
		if _, _, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
