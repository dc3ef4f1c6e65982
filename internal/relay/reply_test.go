package relay

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		code     int
		enhanced string
		text     string
		err      bool
	}{
		// RFC 5321 4.2.1's multi-line example.
		{"rfc5321 multiline", "250-First line\n250-Second line\n250-234 Text beginning with numbers\n250 The last line", 250, "", "First line Second line 234 Text beginning with numbers The last line", false},
		// RFC 2034 5's example dialogue.
		{"rfc2034 greeting", "220 dbc.mtview.ca.us SMTP service ready", 220, "", "dbc.mtview.ca.us SMTP service ready", false},
		{"rfc2034 ehlo", "250-dbc.mtview.ca.us says hello\n250 ENHANCEDSTATUSCODES", 250, "", "dbc.mtview.ca.us says hello ENHANCEDSTATUSCODES", false},
		{"rfc2034 mail", "250 2.1.0 Originator <ned@ymir.claremont.edu> ok", 250, "2.1.0", "Originator <ned@ymir.claremont.edu> ok", false},
		{"rfc2034 rcpt", "250 2.1.5 Recipient <mrose@dbc.mtview.ca.us> ok", 250, "2.1.5", "Recipient <mrose@dbc.mtview.ca.us> ok", false},
		{"rfc2034 nosuchuser", `550 5.1.1 Mailbox "nosuchuser" does not exist`, 550, "5.1.1", `Mailbox "nosuchuser" does not exist`, false},
		{"rfc2034 forwarding disabled", "551-5.7.1 Forwarding to remote hosts disabled\n551 5.7.1 Select another host to act as your forwarder", 551, "5.7.1", "Forwarding to remote hosts disabled 5.7.1 Select another host to act as your forwarder", false},
		{"postfix relay denied", "554 5.7.1 <relay-test@example.net>: Relay access denied", 554, "5.7.1", "<relay-test@example.net>: Relay access denied", false},
		{"greylisting", "450 4.2.0 <a@b>: Recipient address rejected: Greylisted", 450, "4.2.0", "<a@b>: Recipient address rejected: Greylisted", false},
		{"microsoft 3-digit detail", "550 5.7.606 Access denied, banned sending IP [192.0.2.1]", 550, "5.7.606", "Access denied, banned sending IP [192.0.2.1]", false},
		{"bare code", "250", 250, "", "", false},
		{"class mismatch is not enhanced", "550 2.1.5 confused", 550, "", "2.1.5 confused", false},
		{"malformed enhanced", "550 5.1 short", 550, "", "5.1 short", false},
		{"four-digit detail", "550 5.1.1234 x", 550, "", "5.1.1234 x", false},
		{"control characters sanitized", "220 mx \x1b[31mred\x07", 220, "", `mx \x1b[31mred\x07`, false},
		{"code out of range", "650 nope", 0, "", "", true},
		{"second digit out of range", "260 nope", 0, "", "", true},
		{"not a code", "SSH-2.0-OpenSSH", 0, "", "", true},
		{"no separator", "250x", 0, "", "", true},
		{"mixed codes", "250-a\n251 b", 0, "", "", true},
		{"last line continues", "250-a\n250-b", 0, "", "", true},
		{"early end", "250 a\n250 b", 0, "", "", true},
		{"empty", "", 0, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			if tt.in != "" {
				lines = strings.Split(tt.in, "\n")
			}
			r, err := ParseReply(lines)
			if (err != nil) != tt.err {
				t.Fatalf("err %v, want error %v", err, tt.err)
			}
			if err != nil {
				if !errors.Is(err, errReplySyntax) {
					t.Errorf("error %v does not wrap errReplySyntax", err)
				}
				return
			}
			if r.Code != tt.code || r.Enhanced != tt.enhanced || r.Text() != tt.text {
				t.Errorf("got %d %q %q, want %d %q %q", r.Code, r.Enhanced, r.Text(), tt.code, tt.enhanced, tt.text)
			}
		})
	}
}

func TestReadReplyLimits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code int
		err  string
	}{
		{"crlf", "250 ok\r\n", 250, ""},
		{"bare lf", "250-a\n250 b\n", 250, ""},
		{"long line", "220 " + strings.Repeat("x", maxLineLen+10) + "\r\n", 0, "longer than"},
		{"too many lines", strings.Repeat("250-x\r\n", maxReplyLines+5) + "250 x\r\n", 0, "more than"},
		{"too many bytes", strings.Repeat("250-"+strings.Repeat("y", 3000)+"\r\n", 30) + "250 x\r\n", 0, "longer than"},
		{"eof before reply", "", 0, "closed by the server"},
		{"eof mid reply", "250-a\r\n", 0, "middle of a reply"},
		{"eof mid line", "250 a", 0, "middle of a reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), maxLineLen), nil)
			if tt.err == "" {
				if err != nil || r.Code != tt.code {
					t.Fatalf("got %v %v", r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err %v, want %q", err, tt.err)
			}
		})
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"250-First line\n250-Second line\n250-234 Text beginning with numbers\n250 The last line",
		"551-5.7.1 Forwarding to remote hosts disabled\n551 5.7.1 Select another host to act as your forwarder",
		"220 mx \x1b[31m\xff", "250", "5", "550 5.7.606 x", "450-4.2.0\n450 4.2.0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReply(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		if r.Code < 200 || r.Code > 559 {
			t.Fatalf("code %d accepted", r.Code)
		}
		if r.Enhanced != "" && r.Enhanced[0]-'0' != byte(r.Code/100) {
			t.Fatalf("enhanced %s with code %d", r.Enhanced, r.Code)
		}
		txt := r.Text()
		if strings.ContainsAny(txt, "\x1b\x07\r\n\x00") || !utf8.ValidString(txt) {
			t.Fatalf("unsanitized text %q", txt)
		}
	})
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250 b\r\n", "220-x\n", strings.Repeat("250-x\r\n", 120), "\r\n", "250 a\r\n250 b\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(b), maxLineLen)
		for i := 0; i < 10; i++ {
			r, err := readReply(br, nil)
			if err != nil {
				return
			}
			if len(r.Lines) == 0 || len(r.Lines) > maxReplyLines {
				t.Fatalf("%d lines", len(r.Lines))
			}
		}
	})
}
