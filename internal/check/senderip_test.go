package check_test

import (
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
)

func TestParseSenderIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.25": "192.0.2.25", " [2001:db8::25] ": "2001:db8::25", "::ffff:192.0.2.25": "192.0.2.25",
	} {
		if ip, err := check.ParseSenderIP(in); err != nil || ip.String() != want {
			t.Errorf("ParseSenderIP(%q) = %v, %v; want %s", in, ip, err, want)
		}
	}
	for _, in := range []string{"fe80::1%eth0", "192.0.2", "example.com", ""} {
		if ip, err := check.ParseSenderIP(in); err == nil {
			t.Errorf("ParseSenderIP(%q) = %v, want an error", in, ip)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	good := []check.Options{
		{}, {Lists: "all", Profile: "gmail", Only: []string{"spf", "address"}, SMTPPort: 2525},
		{DNSBL: []string{"zen.spamhaus.org"}},
	}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	o := check.Options{}
	if err := o.Validate(); err != nil || o.SMTPPort != 25 || o.Lists != "major" {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for _, o := range []check.Options{
		{Lists: "some"}, {Profile: "aol"}, {Only: []string{"spf", "nope"}}, {SMTPPort: 70000}, {DNSBL: []string{"not a zone"}},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: accepted", o)
		}
	}
}
