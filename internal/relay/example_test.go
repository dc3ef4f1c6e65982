package relay_test

import (
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/relay"
)

// The probe's attempts are the variants table expanded for one server.
func ExamplePlan() {
	steps := relay.Plan(relay.Variants(), relay.Params{
		Sender: relay.SenderLocal, User: relay.UserLocal, External: "example.net",
		Local: "example.com", Server: "mx.example.com", Literal: "[192.0.2.25]",
	})
	for _, s := range steps[:3] {
		fmt.Printf("%-8s MAIL FROM:%s RCPT TO:%s\n", s.Kind, s.MailFrom, s.RcptTo)
	}
	fmt.Println(steps[8].ID, steps[8].RcptTo)
	// Output:
	// foreign  MAIL FROM:<> RCPT TO:<relay-test@example.net>
	// foreign  MAIL FROM:<deliverdoctor-probe@example.net> RCPT TO:<relay-test@example.net>
	// foreign  MAIL FROM:<deliverdoctor-probe@example.com> RCPT TO:<relay-test@example.net>
	// percent-hack <relay-test%example.net@example.com>
}

// RFC 2034's example of a relay refusal, as the probe reads it.
func ExampleParseReply() {
	r, _ := relay.ParseReply([]string{
		"551-5.7.1 Forwarding to remote hosts disabled",
		"551 5.7.1 Select another host to act as your forwarder",
	})
	fmt.Println(r.Code, r.Enhanced, r.Positive())
	// Output: 551 5.7.1 false
}
