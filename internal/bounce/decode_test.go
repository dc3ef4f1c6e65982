package bounce

import (
	"strings"
	"testing"
)

func TestDecodeWords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"550 5.1.1 <=?utf-8?B?8J+QiA==?=@example.org>... User unknown", "550 5.1.1 <🐈@example.org>... User unknown"},
		{"550 =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=", "550 こんにちは"},
		{"550 \x1b$B%(%i!<\x1b(B", "550 エラー"},
		{"550 plain", "550 plain"},
		{"=?bogus", "=?bogus"},
	} {
		if got := decodeWords(c.in); got != c.want {
			t.Errorf("decodeWords(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A DSN diagnostic with an encoded word and a text part in ISO-2022-JP
// without a charset label are read as UTF-8.
func TestDecodedDiagnostics(t *testing.T) {
	b := ParseBytes([]byte("From: MAILER-DAEMON@x.example\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
		"--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 =?utf-8?B?5a6b5YWI44GM6KaL44Gk44GL44KK44G+44Gb44KT?=\n--b--\n"))
	if len(b.Failures) != 1 || b.Failures[0].Diagnostic != "550 5.1.1 宛先が見つかりません" {
		t.Errorf("%+v", b.Failures)
	}
	b = ParseBytes([]byte("From: MAILER-DAEMON@x.example\nSubject: failure\n\n<a@b.example>: 550 5.1.1 \x1b$B%(%i!<\x1b(B user unknown\n"))
	if len(b.Failures) != 1 || !strings.Contains(b.Failures[0].Diagnostic, "エラー") {
		t.Errorf("%+v", b.Failures)
	}
}
