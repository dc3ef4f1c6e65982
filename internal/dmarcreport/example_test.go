package dmarcreport_test

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
)

// A report with a broken tag, an upper-case value and the RFC 9990
// namespace still reads.
func ExampleParseAggregate() {
	a, err := dmarcreport.ParseAggregate([]byte(`<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <report_metadata><org_name>google.com</org_name><email><noreply@google.com></email><report_id>42</report_id>
    <date_range><begin>1730419200</begin><end>1730505599</end></date_range></report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record><row><source_ip>192.0.2.10</source_ip><count>7</count>
    <policy_evaluated><disposition>none</disposition><dkim>Pass</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers></record>
</feedback>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.Org, a.Email, a.ReportID, a.Policy.Domain, a.Begin.Format("2006-01-02"))
	fmt.Println(a.Messages(), "messages,", a.DMARCPassMessages(), "pass DMARC")
	// Output:
	// google.com <noreply@google.com> 42 example.com 2024-11-01
	// 7 messages, 7 pass DMARC
}

// Extract finds the reports in whatever they came in: here a message
// would do as well as the bare XML.
func ExampleExtract() {
	x := dmarcreport.Extract("r.json", []byte(`{"organization-name": "Example Inc.", "report-id": "1",
  "date-range": {"start-datetime": "2024-01-09T00:00:00Z", "end-datetime": "2024-01-09T23:59:59Z"},
  "policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com"},
    "summary": {"total-successful-session-count": 48, "total-failure-session-count": 2}}]}`), dmarcreport.DefaultLimits)
	for _, r := range x.Reports {
		fmt.Println(r.Kind, r.Org(), r.TLS.Domain(), r.TLS.SessionsOK(), r.TLS.SessionsFailed())
	}
	// Output:
	// tls Example Inc. example.com 48 2
}
