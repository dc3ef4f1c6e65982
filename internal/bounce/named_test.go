package bounce

import (
	"strings"
	"testing"
)

func TestNamedInReply(t *testing.T) {
	for in, want := range map[string]Named{
		"550 5.7.509 Access denied, sending domain Example.COM does not pass DMARC verification and has a DMARC policy of reject.":                                         {Domain: "example.com"},
		"421 4.7.27 Your email has been rate limited because SPF authentication didn't pass for this message. SPF [mail.example.net] with ip: [192.0.2.10] = did not pass": {Domain: "mail.example.net", IP: "192.0.2.10"},
		"550 5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC policy.":                                                                  {Domain: "example.org"},
		"554 5.7.1 Service unavailable; Client host [192.0.2.49] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.49":                             {IP: "192.0.2.49", List: "zen.spamhaus.org"},
		"550 rejected because 192.0.2.7 is in a black list at bl.example.net":                                                                                              {IP: "192.0.2.7", List: "bl.example.net"},
		"554 Service unavailable; Client host [192.0.2.8] blocked using Barracuda Reputation; http://bbl.barracudacentral.com/q.cgi?ip=192.0.2.8":                          {IP: "192.0.2.8", List: "b.barracudacentral.org"},
		"550 5.7.1 Your message was rejected due to example.com DMARC policy.":                                                                                             {Domain: "example.com"},
		"550 5.1.1 User unknown": {},
	} {
		if got := NamedInReply(in); got != want {
			t.Errorf("NamedInReply(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestSendingDomains(t *testing.T) {
	b := &Bounce{SenderDomain: "example.com", MailFrom: "bounce-1@mail.example.net", DKIM: []DKIMRef{{Domain: "example.com", Selector: "s1"}, {Domain: "esp.example", Selector: "k"}}}
	got := b.SendingDomains()
	if len(got) != 3 || got[0].Domain != "example.com" || got[1] != (SendingDomain{"mail.example.net", "Return-Path"}) || got[2].Domain != "esp.example" {
		t.Errorf("%+v", got)
	}
	if (&Bounce{}).SendingDomains() != nil {
		t.Error("empty bounce names no domain")
	}
}

func FuzzNamedInReply(f *testing.F) {
	f.Add("Client host [192.0.2.1] blocked using zen.spamhaus.org")
	f.Add("SPF [a.example] with ip: [::1] = did not pass")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzText {
			return
		}
		NamedInReply(s)
	})
}

// TestWordsMeaningOverGeneralCode: when the reply's words and a general
// registry code agree on the category, the words' meaning is shown (Gmail's
// "try again later, closing connection" is a reputation deferral, not
// "other or undefined security status").
func TestWordsMeaningOverGeneralCode(t *testing.T) {
	b := ParseReplyBounce("421 4.7.0 Try again later, closing connection.")
	if f := b.Primary(); f == nil || !strings.Contains(f.Meaning, "reputation or rate deferral") {
		t.Errorf("%+v", f)
	}
	// A firm code keeps its own meaning.
	b = ParseReplyBounce("550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy, please try again later")
	if f := b.Primary(); f == nil || strings.Contains(f.Meaning, "greylist") {
		t.Errorf("%+v", f)
	}
}
