package receive

import (
	"strings"
	"testing"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
)

func TestOneClick(t *testing.T) {
	tests := []struct {
		unsub, post string
		https, ok   bool
	}{
		// RFC 8058 3.1's example.
		{"<https://example.com/unsubscribe/opaquepart>", "List-Unsubscribe=One-Click", true, true},
		{"<mailto:listrequest@example.com?subject=unsubscribe>, <https://example.com/unsubscribe.html?opaque=123456789>", "List-Unsubscribe=One-Click", true, true},
		{"<mailto:unsub@example.com>", "List-Unsubscribe=One-Click", false, true},
		{"<http://example.com/u>", "List-Unsubscribe=One-Click", false, true},
		{"<https://example.com/u>", "", true, false},
		{"<https://example.com/u>", "List-Unsubscribe=Yes", true, false},
	}
	for _, tc := range tests {
		https, post := oneClick(&parsedMessage{listUnsub: tc.unsub, listPost: tc.post})
		if https != tc.https || post != tc.ok {
			t.Errorf("%q / %q: https=%v post=%v, want %v %v", tc.unsub, tc.post, https, post, tc.https, tc.ok)
		}
	}
}

func TestParseMessageParts(t *testing.T) {
	msg := "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsee https://Shop.Example/x\r\n" +
		"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"https://track.example/c\">x</a>\r\n--b--\r\n"
	fields, _, _ := dkim.SplitHeader([]byte(msg))
	p := parseMessage([]byte(msg), fields)
	if !p.hasHTML || !p.hasText || p.bareLF {
		t.Errorf("html=%v text=%v bareLF=%v", p.hasHTML, p.hasText, p.bareLF)
	}
	if strings.Join(p.links, ",") != "shop.example,track.example" {
		t.Errorf("links %v", p.links)
	}
}

// A link host longer than a DNS name is cut at 253 characters, as the
// bounded expression did before.
func TestLinkHostCut(t *testing.T) {
	long := strings.Repeat("a", 250) + ".example" + strings.Repeat("b", 40)
	msg := "From: a@example.com\r\n\r\nsee https://" + long + "/x and http://Short.Example.\r\n"
	fields, _, _ := dkim.SplitHeader([]byte(msg))
	p := parseMessage([]byte(msg), fields)
	if len(p.links) != 2 || p.links[0] != long[:253] || p.links[1] != "short.example" {
		t.Errorf("links %q", p.links)
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("From: a@example.com\r\nList-Unsubscribe: <https://x.example/u>\r\n\r\nhttps://a.example/\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html\n\n<a href=https://b.example>\n--x--\n"))
	f.Add([]byte("From: a\r\nFrom: b\r\nDate: x\r\nMessage-ID: y\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, _, _ := dkim.SplitHeader(msg)
		p := parseMessage(msg, fields)
		info := MessageInfo{Size: len(msg)}
		info.Bulk, info.BulkReason = isBulk(p, false)
		cr := bulkCheck(p, info, time.Now())
		if cr.Name != "bulk" || cr.Status == "" {
			t.Fatalf("check %+v", cr)
		}
		if len(p.links) > 200 {
			t.Fatalf("%d links", len(p.links))
		}
	})
}

func TestBulkTooLarge(t *testing.T) {
	msg := "From: a@example.com\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <1@example.com>\r\n\r\nx\r\n"
	fields, _, _ := dkim.SplitHeader([]byte(msg))
	p := parseMessage([]byte(msg), fields)
	cr := bulkCheck(p, MessageInfo{Size: 30 << 20}, time.Now())
	if len(cr.Findings) != 1 || cr.Findings[0].ID != "bulk.too-large" || !strings.Contains(cr.Findings[0].Title, "Microsoft") || strings.Contains(cr.Findings[0].Title, "Yahoo") {
		t.Fatalf("findings %+v", cr.Findings)
	}
	f := facts{size: 30 << 20, spf: "pass", dkimPass: true}
	for _, pr := range profiles {
		v := judge(pr, f)
		want := OutcomeReject
		if pr.ID != "microsoft" {
			want = OutcomeAccept
		}
		if v.Outcome != want || (want == OutcomeReject && v.Codes[0] != "5.3.4") {
			t.Errorf("%s: %s %v, want %s", pr.ID, v.Outcome, v.Codes, want)
		}
	}
}
