package check_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/deliverdoctor/deliverdoctor/internal/bounce"
	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/dnstest"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// brokenZone holds domains that are wrong in as many ways as the checks
// know, so that running every check over them makes (nearly) every kind of
// finding.
const brokenZone = `
nullmx.example.          300 IN MX 0 .
mixed.example.           300 IN MX 0 .
mixed.example.           300 IN MX 10 mx.good.example.
nomail.example.          300 IN TXT "v=spf1 +all"
nomail.example.          300 IN TXT "v=spf1 -all"
cname.example.           300 IN MX 10 alias.cname.example.
alias.cname.example.     300 IN CNAME mx.good.example.
cname.example.           300 IN TXT "v=spf1 ptr ?all"
cname.example.           300 IN SPF "v=spf1 ptr ?all"
_dmarc.cname.example.    300 IN TXT "v=DMARC1; p=none; rua=mailto:d@elsewhere.example; pct=50"
private.example.         300 IN MX 10 mx.private.example.
mx.private.example.      300 IN A 10.0.0.25
private.example.         300 IN TXT "v=spf1 include:l1.private.example include:l2.private.example include:l3.private.example include:l4.private.example include:l5.private.example include:l6.private.example include:missing.private.example -all"
l1.private.example.      300 IN TXT "v=spf1 a mx include:l7.private.example -all"
l2.private.example.      300 IN TXT "v=spf1 a mx -all"
l3.private.example.      300 IN TXT "v=spf1 a mx -all"
l4.private.example.      300 IN TXT "v=spf1 ip4:10.0.0.0/8 -all"
l5.private.example.      300 IN TXT "v=spf1 include:private.example -all"
l6.private.example.      300 IN TXT "v=spf1 exists:nx1.private.example exists:nx2.private.example exists:nx3.private.example -all"
l7.private.example.      300 IN TXT "v=spf1 a:x1.private.example a:x2.private.example -all"
_dmarc.private.example.  300 IN TXT "v=DMARC1; p=reject; sp=none; t=y; rua=bad-uri"
_dmarc.private.example.  300 IN TXT "v=DMARC1; p=none"
s1._domainkey.private.example. 300 IN TXT "v=DKIM1; k=rsa; p="
mx.good.example.         300 IN A 203.0.114.10
good.example.            300 IN MX 10 mx.good.example.
good.example.            300 IN TXT "v=spf1 mx ~all"
_dmarc.good.example.     300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.example"
weak.example.            300 IN MX 10 mx.good.example.
weak.example.            300 IN TXT "v=spf1 mx -all"
s1._domainkey.weak.example. 300 IN TXT "v=DKIM1; k=rsa; t=y; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMm8I7jRjH/oZ2O7V0iC4uMgDtUB8TrXWrgaw1Cqg5AL0Dpux5IW6TYkjrxAyT1ds2b6uNyCgWvRkWU3hhnZIXcCAwEAAQ=="
_mta-sts.weak.example.   300 IN TXT "v=STSv1; id=bad id!"
_smtp._tls.weak.example. 300 IN TXT "v=TLSRPTv1; rua=ftp://x"
default._bimi.weak.example. 300 IN TXT "v=BIMI1; l=http://x/logo.png"
2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.2
2.0.0.127.zen.spamhaus.org. 300 IN TXT "listed"
`

// TestFindingCodesAreInTheKnowledgeBase keeps the two directions of the
// bounce table consistent: every bounce code a finding names must be known
// to the knowledge base, and the knowledge base must name the finding's
// check for at least one of those codes (so "explain CODE" points back at
// the check that found it).
func TestFindingCodesAreInTheKnowledgeBase(t *testing.T) {
	// The test is only as strict as Known: it must not know made-up codes.
	for _, bogus := range []string{"5.9.99", "5.7.999", "4.4.77"} {
		if bounce.Known(bogus) {
			t.Fatalf("the knowledge base claims to know %s", bogus)
		}
	}
	srv := dnstest.Start(t, brokenZone)
	srv.Set("servfail.example", dnstest.Behavior{Rcode: 2})
	r := &check.Runner{Resolver: srv.Client(t), Options: check.Options{Lists: "all", Selectors: []string{"s1"}, Profile: "bulk"}}
	seen := map[string]findings.Finding{}
	for _, in := range []string{"nullmx.example", "mixed.example", "nomail.example", "cname.example", "private.example",
		"good.example", "weak.example", "missing.example", "servfail.example", "127.0.0.2", "203.0.114.10"} {
		tg, err := target.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range r.Run(context.Background(), tg).Findings {
			seen[f.ID] = f
		}
	}
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	withCodes := 0
	for _, id := range ids {
		f := seen[id]
		if len(f.BounceCodes) == 0 {
			continue
		}
		withCodes++
		linked := false
		for _, code := range f.BounceCodes {
			if !bounce.Known(code) {
				t.Errorf("%s names %s, which the knowledge base does not know", id, code)
			}
			for _, c := range bounce.ChecksForCode(code) {
				linked = linked || c == f.Check || (f.Check == "profile")
			}
		}
		if !linked {
			t.Errorf("%s (%s): none of %s links back to the %s check in the knowledge base", id, f.Check, strings.Join(f.BounceCodes, ","), f.Check)
		}
	}
	t.Logf("%d distinct findings, %d with bounce codes, checked against the knowledge base", len(ids), withCodes)
	if withCodes < 25 {
		t.Errorf("only %d findings with codes: the scenario zone no longer exercises the checks", withCodes)
	}
}
