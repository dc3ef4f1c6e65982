package dmarcreport

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func FuzzParseAggregate(f *testing.F) {
	f.Add([]byte(`<feedback><report_metadata><org_name>x</org_name><report_id>1</report_id></report_metadata><record><row><source_ip>192.0.2.1</source_ip><count>2</count><policy_evaluated><dkim>Pass</dkim></policy_evaluated></row></record></feedback>`))
	f.Add([]byte(`<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0"><x:report_metadata><email><bad@x></email></x:report_metadata>`))
	f.Add([]byte(`<feedback><!-- c --><![CDATA[<x>]]><a>&lt;&#65;&#x42;&bogus;&</a><b/></feedback>`))
	f.Add([]byte("<feedback><record><row><count>1</count></row><identifiers><header_from>\xff\xfe</header_from></identifiers></record></feedback>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAggregate(data)
		if err != nil {
			return
		}
		if a.DMARCPassMessages() > a.Messages() {
			t.Fatalf("pass %d > messages %d", a.DMARCPassMessages(), a.Messages())
		}
		b, err := json.Marshal(a)
		if err != nil || !utf8.Valid(b) {
			t.Fatalf("report does not marshal to valid JSON: %v", err)
		}
	})
}

func FuzzParseTLS(f *testing.F) {
	f.Add([]byte(`{"organization-name":"x","report-id":"1","date-range":{"start-datetime":"2024-01-01T00:00:00Z"},"policies":[{"policy":{"policy-domain":"Example.com","mx-host":["a"]},"summary":{"total-successful-session-count":"3"},"failure-details":[{"result-type":"X","failed-session-count":1.0}]}]}`))
	f.Add([]byte(`{"policies":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseTLS(data)
		if err != nil {
			return
		}
		if r.SessionsOK() < 0 || r.SessionsFailed() < 0 {
			t.Fatal("negative sessions")
		}
	})
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte("From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/xml\r\n\r\n<feedback><report_metadata><report_id>1</report_id></report_metadata></feedback>\r\n--x--\r\n"))
	f.Add([]byte("From: a@b\r\nSubject: DMARC\r\nContent-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\nSource-IP: 192.0.2.1\r\n\r\n--x--\r\n"))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := Extract("f", data, Limits{MaxSize: 1 << 20, MaxParts: 20, MaxDepth: 4})
		if len(x.Reports) == 0 && len(x.Errors) == 0 {
			t.Fatal("an input gave neither a report nor an error")
		}
	})
}
