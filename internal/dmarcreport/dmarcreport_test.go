package dmarcreport

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const samples = "testdata/dmarc-reports"

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAggregateSamples: every real aggregate report comes out with the
// right org, id, domain, time span and totals.
func TestAggregateSamples(t *testing.T) {
	tests := []struct {
		file, org, id, domain, begin, end string
		rows                              int
		messages, pass                    int64
	}{
		{"!example.com!1538204542!1538463818.xml", "accurateplastics.com", "example.com:1538463741", "example.com", "2018-10-01T17:07:12Z", "2018-10-01T17:07:12Z", 1, 1, 0},
		{"addisonfoods.com!example.com!1536105600!1536191999.xml", "addisonfoods.com", "3ceb5548498640beaeb47327e202b0b9", "example.com", "2018-09-05T00:00:00Z", "2018-09-05T23:59:59Z", 1, 1, 0},
		{"empty_reason.xml", "example.org", "20240125141224705995", "example.com", "2024-01-25T05:12:24Z", "2024-01-25T12:28:53Z", 1, 2, 2},
		{"estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!2940.xml.zip", "XYZ Corporation", "2940", "example.com", "2018-09-13T15:41:42Z", "2018-09-14T15:41:42Z", 1, 1, 0},
		{"example.net!example.com!1529366400!1529452799.xml", "example.net", "b043f0e264cf4ea995e93765242f6dfb", "example.com", "2018-06-19T00:00:00Z", "2018-06-19T23:59:59Z", 1, 1, 0},
		{"fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz", "FastMail Pty Ltd", "102675056", "indemed.com", "2018-01-16T00:00:00Z", "2018-01-16T23:59:59Z", 1, 1, 0},
		{"ikea.com!example.de!1538690400!1538776800.xml", "ikea.com", "aggr_report_2018_10_05_5bc7e9b4f3e8a", "example.de", "2018-10-04T22:00:00Z", "2018-10-05T22:00:00Z", 1, 1, 0},
		{"invalid_utf_8.xml", "accurateplastics.com", "example.com:1538463741", "example.com", "2018-10-01T17:07:12Z", "2018-10-01T17:07:12Z", 1, 1, 0},
		{"invalid_xml.xml", "veeam.com", "sonexushealth.com:1530233361", "example.com", "2018-06-27T21:00:00Z", "2018-06-28T21:00:00Z", 1, 1, 0},
		{"old_draft_from_wiki.xml", "acme.com", "9391651994964116463", "example.com", "2012-04-28T00:00:00Z", "2012-04-28T23:59:59Z", 1, 2, 2},
		{"protection.outlook.com!example.com!1711756800!1711843200.xml", "Outlook.com", "cfeafefe4129445e8c81018bd9177197", "example.com", "2024-03-30T00:00:00Z", "2024-03-31T00:00:00Z", 1, 1, 0},
		{"report_with_upper_cased_pass.xml", "example.com", "aggr_report_example.com_20191202_1638", "example.com", "2019-11-28T15:35:00Z", "2019-12-02T16:38:03Z", 1, 1, 1},
		{"rfc9990-sample.xml", "Sample Reporter", "3v98abbp8ya9n3va8yr8oa3ya", "example.com", "1979-08-07T00:00:00Z", "1979-08-07T23:59:59Z", 1, 123, 123},
		{"usssa.com!example.com!1538784000!1538870399.xml", "usssa.com", "8953b4d4a4ee4218b6ac0e2cb2667ee1", "example.com", "2018-10-06T00:00:00Z", "2018-10-06T23:59:59Z", 2, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			x := Extract(tt.file, readSample(t, "aggregate/"+tt.file), DefaultLimits)
			if len(x.Errors) != 0 || len(x.Reports) != 1 {
				t.Fatalf("got %d reports, errors %v", len(x.Reports), x.Errors)
			}
			a := x.Reports[0].Aggregate
			if a == nil {
				t.Fatalf("kind %s, want aggregate", x.Reports[0].Kind)
			}
			got := fmt.Sprintf("%s|%s|%s|%s|%s|%d|%d|%d", a.Org, a.ReportID, a.Policy.Domain,
				a.Begin.Format(time.RFC3339), a.End.Format(time.RFC3339), len(a.Rows), a.Messages(), a.DMARCPassMessages())
			want := fmt.Sprintf("%s|%s|%s|%s|%s|%d|%d|%d", tt.org, tt.id, tt.domain, tt.begin, tt.end, tt.rows, tt.messages, tt.pass)
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestAggregateDetails(t *testing.T) {
	// Upper-case values are lower-cased.
	a, err := ParseAggregate(readSample(t, "aggregate/report_with_upper_cased_pass.xml"))
	if err != nil {
		t.Fatal(err)
	}
	r := a.Rows[0]
	if r.Disposition != "none" || r.DKIM != "pass" || r.SPF != "pass" || r.DKIMAuth[0].Result != "pass" {
		t.Errorf("values not normalised: %+v", r)
	}
	// RFC 9990: namespace, np, selector.
	a, err = ParseAggregate(readSample(t, "aggregate/rfc9990-sample.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Policy.P != "quarantine" || a.Policy.NP != "none" || a.Policy.DiscoveryMethod != "treewalk" || a.Rows[0].DKIMAuth[0].Selector != "abc123" {
		t.Errorf("RFC 9990 fields: %+v %+v", a.Policy, a.Rows[0])
	}
	// Recovered XML: a bogus tag is text, "bad<xml.net" is text.
	a, err = ParseAggregate(readSample(t, "aggregate/invalid_xml.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "<bad-xml@bad-xml.net>" || a.Rows[0].HeaderFrom != "bad<xml.net" || a.Rows[0].SourceIP != "199.230.200.36" {
		t.Errorf("recovery: email %q header_from %q", a.Email, a.Rows[0].HeaderFrom)
	}
	// Invalid UTF-8 becomes U+FFFD, never invalid JSON.
	a, err = ParseAggregate(readSample(t, "aggregate/invalid_utf_8.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Rows[0].HeaderFrom != "bad_byte\uFFFD" {
		t.Errorf("header_from %q", a.Rows[0].HeaderFrom)
	}
	// A policy override reason.
	a, err = ParseAggregate([]byte(`<feedback><report_metadata><org_name>x</org_name><report_id>1</report_id></report_metadata>
<record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated><disposition>none</disposition>
<dkim>fail</dkim><spf>fail</spf><reason><type>Forwarded</type><comment>list</comment></reason></policy_evaluated></row>
<identifiers><header_from>Example.COM.</header_from></identifiers></record></feedback>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Rows[0].Reasons) != 1 || a.Rows[0].Reasons[0].Type != "forwarded" || a.Rows[0].HeaderFrom != "example.com" {
		t.Errorf("reason/header_from: %+v", a.Rows[0])
	}
}

func TestAggregateErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrNoReport},
		{"spaces", "  \n", ErrNoReport},
		{"other XML", `<?xml version="1.0"?><html><body>hi</body></html>`, ErrNoReport},
		{"bad count", `<feedback><report_metadata><report_id>1</report_id></report_metadata><record><row><count>many</count></row></record></feedback>`, ErrSyntax},
		{"bad date", `<feedback><report_metadata><report_id>1</report_id><date_range><begin>yesterday</begin></date_range></report_metadata></feedback>`, ErrSyntax},
		{"empty feedback", `<feedback></feedback>`, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAggregate([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTLSSamples(t *testing.T) {
	tests := []struct {
		file, org, id, domain string
		ok, failed            int64
		failures              int
	}{
		{"mail.ru.json", "Mail.ru", "b28254de-7b2e-be36-bb5c-4c3b92da8b25@mail.ru", "example.com", 0, 1, 2},
		{"rfc8460.json", "Company-X", "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "company-y.example", 5326, 303, 3},
		{"smtp_tls.json", "Example Inc.", "2024-01-09T00:00:00Z_example.com", "example.com", 0, 3, -1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			x := Extract(tt.file, readSample(t, "smtp_tls/"+tt.file), DefaultLimits)
			if len(x.Errors) != 0 || len(x.Reports) != 1 || x.Reports[0].TLS == nil {
				t.Fatalf("reports %d errors %v", len(x.Reports), x.Errors)
			}
			r := x.Reports[0].TLS
			if r.Org != tt.org || r.ReportID != tt.id || r.Domain() != tt.domain || r.SessionsOK() != tt.ok || r.SessionsFailed() != tt.failed {
				t.Errorf("got %q %q %q ok=%d failed=%d", r.Org, r.ReportID, r.Domain(), r.SessionsOK(), r.SessionsFailed())
			}
			if tt.failures >= 0 && len(r.Policies[0].Failures) != tt.failures {
				t.Errorf("%d failure details, want %d", len(r.Policies[0].Failures), tt.failures)
			}
		})
	}
	r, _ := ParseTLS(readSample(t, "smtp_tls/rfc8460.json"))
	f := r.Policies[0].Failures[0]
	if f.ResultType != "certificate-expired" || f.ReceivingMX != "mx1.mail.company-y.example" || f.Count != 100 || r.Begin.Format(time.RFC3339) != "2016-04-01T00:00:00Z" {
		t.Errorf("failure detail %+v begin %v", f, r.Begin)
	}
	if _, err := ParseTLS([]byte(`{"policies": [{"summary": {"total-successful-session-count": -4}}], "report-id": "x"}`)); !errors.Is(err, ErrSyntax) {
		t.Errorf("negative count: %v", err)
	}
	if _, err := ParseTLS([]byte(`{"a": 1}`)); !errors.Is(err, ErrNoReport) {
		t.Errorf("unrelated JSON: %v", err)
	}
}

func TestFailureSamples(t *testing.T) {
	tests := []struct {
		file, org, domain, ip, authFailure, headerFrom string
		arf                                            bool
	}{
		{"DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml", "domain.de", "domain.de", "10.10.10.10", "dmarc", `"Interaktive Wettbewerber-Übersicht" <sharepoint@domain.de>`, true},
		{"[Netease DMARC Failure Report] Rent Reminder.eml", "163.com", "cardinal.com", "167.89.69.24", "", "700 on Washington <info@cardinal.com>", true},
		{"dmarc_ruf_report_linkedin.eml", "linkedin.com", "example.com", "10.10.10.10", "dmarc", "Sender <sender@example.com>", true},
		{"dmarc_ruf_report_linkedin.crlf.eml", "linkedin.com", "example.com", "10.10.10.10", "dmarc", "Sender <sender@example.com>", true},
		{"exim_plain_text_only_no_arf_part.eml", "node01.mailgate.example.net", "example.com", "203.0.113.68", "dmarc", "<user@example.com>", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			x := Extract(tt.file, readSample(t, "failure/"+tt.file), DefaultLimits)
			if len(x.Errors) != 0 || len(x.Reports) != 1 || x.Reports[0].Failure == nil {
				t.Fatalf("reports %d errors %v", len(x.Reports), x.Errors)
			}
			f := x.Reports[0].Failure
			if f.Org != tt.org || f.Domain != tt.domain || f.SourceIP != tt.ip || f.AuthFailure != tt.authFailure || f.HeaderFrom != tt.headerFrom || f.ARF != tt.arf {
				t.Errorf("got %+v", *f)
			}
			if f.ReportID == "" || f.Arrival.IsZero() {
				t.Errorf("no id or arrival: %+v", *f)
			}
		})
	}
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zipOf(t testing.TB, files map[string][]byte) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, b := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
	}
	w.Close()
	return buf.Bytes()
}

func agg(org, id string, rows ...string) []byte {
	s := fmt.Sprintf(`<?xml version="1.0"?><feedback><report_metadata><org_name>%s</org_name><report_id>%s</report_id>
<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>none</p></policy_published>`, org, id)
	for _, r := range rows {
		s += r
	}
	return []byte(s + "</feedback>")
}

func row(ip string, n int, dkim, spf string) string {
	return fmt.Sprintf(`<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated><disposition>none</disposition>
<dkim>%s</dkim><spf>%s</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>
<auth_results><spf><domain>example.com</domain><result>%s</result></spf></auth_results></record>`, ip, n, dkim, spf, spf)
}

// message builds a multipart message with the attachments.
func mailWith(parts ...[3]string) []byte {
	var b strings.Builder
	b.WriteString("From: noreply-dmarc-support@google.com\r\nSubject: Report domain: example.com\r\nMessage-ID: <1@google.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nThis is a DMARC aggregate report.\r\n")
	for _, p := range parts {
		fmt.Fprintf(&b, "--BB\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n", p[0], p[1], p[2])
	}
	b.WriteString("--BB--\r\n")
	return []byte(b.String())
}

func b64(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var s strings.Builder
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for k := 0; k < 3; k++ {
			v <<= 8
			if k < n {
				v |= uint32(b[i+k])
			}
		}
		for k := 0; k < 4; k++ {
			if k <= n {
				s.WriteByte(enc[(v>>(18-6*k))&63])
			} else {
				s.WriteByte('=')
			}
		}
		if (i/3)%19 == 18 {
			s.WriteString("\r\n")
		}
	}
	return s.String()
}

func TestContainers(t *testing.T) {
	a1 := agg("google.com", "r1", row("192.0.2.1", 10, "pass", "pass"), row("192.0.2.2", 5, "fail", "fail"))
	a2 := agg("yahoo.com", "r2", row("192.0.2.1", 7, "fail", "pass"))
	a3 := agg("outlook.com", "r3", row("192.0.2.9", 1, "fail", "fail"))
	tlsJSON := readSample(t, "smtp_tls/rfc8460.json")
	trailing := append(gz(t, a1), []byte("\x00\x00garbage after the gzip member")...)
	tests := []struct {
		name     string
		data     []byte
		reports  int
		messages int64
		errors   int
	}{
		{"gzip with trailing bytes", trailing, 1, 15, 0},
		{"zip of two", zipOf(t, map[string][]byte{"a.xml": a1, "b.xml": a2}), 2, 22, 0},
		{"zip with a gzip inside", zipOf(t, map[string][]byte{"a.xml.gz": gz(t, a1)}), 1, 15, 0},
		{"message with several reports", mailWith(
			[3]string{"application/gzip", "google.com!example.com!1.xml.gz", b64(gz(t, a1))},
			[3]string{"application/zip", "yahoo.com!example.com!1.zip", b64(zipOf(t, map[string][]byte{"r.xml": a2}))},
			[3]string{"text/xml", "r3.xml", b64(a3)},
			[3]string{"application/tlsrpt+gzip", "tls.json.gz", b64(gz(t, tlsJSON))},
			[3]string{"application/octet-stream", "logo.png", b64([]byte("\x89PNG\r\n"))},
		), 4, 23, 0},
		{"message with a broken attachment", mailWith(
			[3]string{"application/gzip", "a.xml.gz", b64([]byte("\x1f\x8bnot gzip at all"))},
			[3]string{"text/xml", "r3.xml", b64(a3)},
		), 1, 1, 1},
		{"message without a report", []byte("From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n"), 0, 0, 1},
		{"binary junk", []byte{0, 1, 2, 3}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := Extract("in", tt.data, DefaultLimits)
			var msgs int64
			for _, r := range x.Reports {
				if r.Aggregate != nil {
					msgs += r.Aggregate.Messages()
				}
			}
			if len(x.Reports) != tt.reports || msgs != tt.messages || len(x.Errors) != tt.errors {
				t.Errorf("reports %d messages %d errors %v; want %d %d %d", len(x.Reports), msgs, x.Errors, tt.reports, tt.messages, tt.errors)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	lim := Limits{MaxSize: 1 << 20, MaxParts: 5, MaxDepth: 3}
	bomb := gz(t, bytes.Repeat([]byte("<"), 4<<20))
	x := Extract("bomb.gz", bomb, lim)
	if len(x.Errors) != 1 || !errors.Is(x.Errors[0].Err, ErrTooLarge) {
		t.Errorf("gzip bomb: %v", x.Errors)
	}
	zbomb := zipOf(t, map[string][]byte{"big.xml": bytes.Repeat([]byte(" "), 2<<20)})
	x = Extract("bomb.zip", zbomb, lim)
	if len(x.Errors) != 1 || !errors.Is(x.Errors[0].Err, ErrTooLarge) {
		t.Errorf("zip bomb: %v", x.Errors)
	}
	many := map[string][]byte{}
	for i := range 10 {
		many[fmt.Sprintf("%d.xml", i)] = agg("o", fmt.Sprint(i))
	}
	x = Extract("many.zip", zipOf(t, many), lim)
	if len(x.Errors) == 0 || !errors.Is(x.Errors[len(x.Errors)-1].Err, ErrTooLarge) {
		t.Errorf("too many members: %v", x.Errors)
	}
	deep := agg("o", "1")
	for range 6 {
		deep = gz(t, deep)
	}
	x = Extract("deep.gz", deep, lim)
	if len(x.Errors) != 1 || !errors.Is(x.Errors[0].Err, ErrTooLarge) {
		t.Errorf("nesting: %v", x.Errors)
	}
	// A flood of elements is an error, not a tree twenty times the file.
	flood := append([]byte("<feedback>"), bytes.Repeat([]byte("<a/>"), maxElements+1)...)
	x = Extract("flood.xml", flood, DefaultLimits)
	if len(x.Errors) != 1 || !errors.Is(x.Errors[0].Err, ErrTooLarge) {
		t.Errorf("element flood: %v", x.Errors)
	}
	// Many unterminated comments cost linear time, not quadratic.
	x = Extract("comments.xml", bytes.Repeat([]byte("<feedback><!-- "), 200000), DefaultLimits)
	if len(x.Errors) != 1 {
		t.Errorf("comments: %v", x.Errors)
	}
	// Deep XML nesting is bounded, not recursive.
	x = Extract("deep.xml", []byte(strings.Repeat("<feedback>", 100000)), DefaultLimits)
	if len(x.Errors) != 1 {
		t.Errorf("deep XML: %v", x.Errors)
	}
}

// TestCollect walks a directory with files, an mbox and a Maildir, keeps
// the order, de-duplicates and names the unreadable files.
func TestCollect(t *testing.T) {
	dir := t.TempDir()
	a1 := agg("google.com", "r1", row("192.0.2.1", 10, "pass", "pass"))
	a2 := agg("yahoo.com", "r2", row("192.0.2.1", 7, "fail", "pass"))
	write := func(name string, b []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("files/a.xml.gz", gz(t, a1))
	write("files/again.xml", a1) // the same report: counted once
	write("files/broken.xml.gz", []byte("\x1f\x8b\x08\x00broken"))
	msg := mailWith([3]string{"application/gzip", "r2.xml.gz", b64(gz(t, a2))})
	write("box.mbox", append(append([]byte("From x@y Mon Jan  1 00:00:00 2024\n"), bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))...), []byte("\nFrom x@y Mon Jan  1 00:00:00 2024\nSubject: hi\n\nno report\n")...))
	write("Maildir/cur/1.eml:2,S", msg)
	write("Maildir/new/.hidden", []byte("x"))
	c, err := Collect(context.Background(), PathSource([]string{filepath.Join(dir, "files"), filepath.Join(dir, "box.mbox"), filepath.Join(dir, "Maildir")}, nil, 1<<20), DefaultLimits, 3)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range c.Reports {
		ids = append(ids, r.Org()+"/"+r.ID())
	}
	if strings.Join(ids, " ") != "google.com/r1 yahoo.com/r2" || c.Duplicates != 2 {
		t.Errorf("reports %v duplicates %d", ids, c.Duplicates)
	}
	if len(c.Errors) != 2 || !strings.HasSuffix(c.Errors[0].File, "broken.xml.gz") || !strings.HasSuffix(c.Errors[1].File, "box.mbox#2") {
		t.Errorf("errors %v", c.Errors)
	}
	if c.Inputs != 6 {
		t.Errorf("inputs %d", c.Inputs)
	}
}

// TestWalkStops: an error from the visitor, or a cancelled context, ends
// the walk without a hang, whatever the workers were doing.
func TestWalkStops(t *testing.T) {
	many := func(emit func(Input) error) error {
		for i := range 1000 {
			if err := emit(Input{Name: fmt.Sprint(i), Data: agg("o", fmt.Sprint(i), row("192.0.2.1", 1, "pass", "pass"))}); err != nil {
				return err
			}
		}
		return nil
	}
	stop := errors.New("enough")
	n := 0
	_, err := Walk(context.Background(), many, DefaultLimits, 4, Visitor{Report: func(*Report) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) {
		t.Errorf("visitor error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	_, err = Walk(ctx, many, DefaultLimits, 4, Visitor{Report: func(*Report) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
