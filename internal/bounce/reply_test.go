package bounce

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		in       string
		code     int
		enhanced string
		text     string
	}{
		{"550 5.7.26 This mail has been blocked because the sender is unauthenticated.", 550, "5.7.26", "This mail has been blocked because the sender is unauthenticated."},
		// RFC 5321 4.2.1 multi-line reply, as Gmail sends it.
		{"550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's\r\n550-5.7.26 DMARC policy. Please contact the administrator of example.com domain if\r\n550 5.7.26 this was a legitimate mail. - gsmtp", 550, "5.7.26",
			"Unauthenticated email from example.com is not accepted due to domain's DMARC policy. Please contact the administrator of example.com domain if this was a legitimate mail. - gsmtp"},
		// The same unfolded into one line, as in a DSN Diagnostic-Code.
		{"smtp; 550-5.7.26 The MAIL FROM domain [a.example] has an SPF record with a 550-5.7.26 hard fail policy", 550, "5.7.26", "The MAIL FROM domain [a.example] has an SPF record with a hard fail policy"},
		{"550 User unknown", 550, "", "User unknown"},
		{"5.1.1 <bob@example.com>... User Unknown", 0, "5.1.1", "<bob@example.com>... User Unknown"},
		{"#5.1.1", 0, "5.1.1", ""},
		{"554 554 5.7.1 Service unavailable; Client host [192.0.2.49] blocked", 554, "5.7.1", "Service unavailable; Client host [192.0.2.49] blocked"},
		{"421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1", 421, "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1"},
		{"501: 5.1.8 Sender address rejected", 501, "5.1.8", "Sender address rejected"},
		{"550-'5.7.1 <x@example.com>... Access denied'", 550, "5.7.1", "<x@example.com>... Access denied'"},
		{"  452 4.2.2 The email account that you tried to reach is over quota", 452, "4.2.2", "The email account that you tried to reach is over quota"},
	}
	for _, tt := range tests {
		r, err := ParseReply(tt.in)
		if err != nil {
			t.Errorf("ParseReply(%q): %v", tt.in, err)
			continue
		}
		if r.Code != tt.code || r.Enhanced.String() != tt.enhanced || r.Text != tt.text {
			t.Errorf("ParseReply(%q) = %d %q %q; want %d %q %q", tt.in, r.Code, r.Enhanced, r.Text, tt.code, tt.enhanced, tt.text)
		}
	}
	for _, bad := range []string{"", "hello", "2024-01-01 failed", "192.0.2.250 refused", "version 4.16.55.1", "5550 x", "650 not a reply"} {
		if r, err := ParseReply(bad); err == nil {
			t.Errorf("ParseReply(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestFindReply(t *testing.T) {
	tests := []struct {
		in       string
		code     int
		enhanced string
	}{
		{"<bob@example.com>: host mx.example.com[192.0.2.127] said: 550 5.1.6 recipient\n    no longer on server (in reply to RCPT TO command)", 550, "5.1.6"},
		{"Server mx22.example.org[192.0.2.222] failed with: 550 <x@example.org> No such user here", 550, ""},
		{"mailbox x@example.org is over quota temporarily (#5.1.1)", 0, "5.1.1"},
		{"552 sorry, mailbox is over quota temporarily (#5.1.1)", 552, "5.1.1"},
		{"Unable to contact LDAP server. (#4.4.3)I'm not going to try again", 0, "4.4.3"},
		{"5.1.0 - Unknown address error 550-'5.7.1 <a@b.example>... Access denied'", 550, "5.7.1"},
		{"Delivery failed 20 attempts: bob@example.com", 0, ""},
		{"Could not deliver for the last 432000 seconds. Giving up.", 0, ""},
		{"(reason: 553 http://www.spamhaus.org/query/bl?ip=192.0.2.222)\n\n550 5.1.1 <k@example.com>... User unknown", 553, ""},
		{"host [192.0.2.20]: 554 5.7.0 Header error", 554, "5.7.0"},
	}
	for _, tt := range tests {
		r, ok := FindReply(tt.in)
		if tt.code == 0 && tt.enhanced == "" {
			if ok {
				t.Errorf("FindReply(%q) = %+v, want none", tt.in, r)
			}
			continue
		}
		if !ok || r.Code != tt.code || r.Enhanced.String() != tt.enhanced {
			t.Errorf("FindReply(%q) = %+v %v; want %d %s", tt.in, r, ok, tt.code, tt.enhanced)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"550 5.7.26 Unauthenticated email", "550-5.7.26 a\r\n550 5.7.26 b", "smtp; 554 554 5.7.1 blocked",
		"#5.1.1", "421 4.7.0 [TSS04] deferred - 4.16.55.1", "501: 5.1.8 x", "550-'5.7.1 <a@b>", "5.0.0", "550",
		"550 \x1b[31mred", strings.Repeat("550-5.7.1 ", 200), "250 2.0.0 Ok",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzText {
			return
		}
		r, err := ParseReply(s)
		if err != nil {
			return
		}
		if r.Code != 0 && (r.Code < 200 || r.Code > 559) {
			t.Fatalf("reply code %d", r.Code)
		}
		if !r.Enhanced.IsZero() {
			if _, err := ParseCode(r.Enhanced.String()); err != nil {
				t.Fatalf("enhanced code %v does not print back: %v", r.Enhanced, err)
			}
		}
		if len(r.Text) > maxReplyLen+200 {
			t.Fatalf("text of %d bytes", len(r.Text))
		}
		// A parsed reply prints back to the same codes.
		back := strings.TrimSpace(fmt.Sprintf("%s %s x", itoaOrEmpty(r.Code), r.Enhanced))
		r2, err := ParseReply(back)
		if err != nil || r2.Code != r.Code || r2.Enhanced != r.Enhanced {
			t.Fatalf("%q -> %+v; printed %q -> %+v, %v", s, r, back, r2, err)
		}
		FindReply(s)
	})
}

func itoaOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return itoa3(n)
}

// cleanReplyTextFields is cleanReplyText as it was written over
// strings.Fields, the reference.
func cleanReplyTextFields(s string, code int, enh Code) string {
	var b strings.Builder
	words := strings.Fields(s)
	prefix := ""
	if code != 0 {
		prefix = itoa3(code)
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if prefix != "" && (w == prefix || strings.HasPrefix(w, prefix+"-")) {
			if w == prefix && i+1 < len(words) && !enh.IsZero() && words[i+1] == enh.String() {
				i++
			}
			continue
		}
		if !enh.IsZero() && w == enh.String() && i > 0 && (words[i-1] == prefix || strings.HasSuffix(words[i-1], "-"+enh.String())) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		if b.Len() > maxReplyLen {
			break
		}
	}
	return b.String()
}

var cleanReplyTexts = []string{
	"", "550", "550 5.7.26 x", "550-5.7.26 a\r\n550-5.7.26 b\r\n550 5.7.26 c", "x 550 5.7.26 y", "5.7.26 5.7.26",
	"550-5.7.26 5.7.26 z", "a-5.7.26 5.7.26", "550 550 5.1.1", "\u00a0550\u2003x", "550-x 550-", "5.7.26", "-5.7.26 5.7.26",
}

func checkCleanReplyText(t *testing.T, s string) {
	t.Helper()
	for _, code := range []int{0, 550, 421} {
		for _, enh := range []Code{{}, {5, 7, 26}, {5, 1, 1}} {
			if got, want := cleanReplyText(s, code, enh), cleanReplyTextFields(s, code, enh); got != want {
				t.Errorf("cleanReplyText(%q, %d, %v) = %q, want %q", s, code, enh, got, want)
			}
		}
	}
}

// TestCleanReplyText: the in-place walk gives what the Fields loop gave.
func TestCleanReplyText(t *testing.T) {
	for _, s := range cleanReplyTexts {
		checkCleanReplyText(t, s)
	}
	checkCleanReplyText(t, strings.Repeat("550-5.7.26 word ", 600))
}

func FuzzCleanReplyText(f *testing.F) { fuzzAgainst(f, cleanReplyTexts, checkCleanReplyText) }
