package bounce

import (
	"fmt"
	"strings"
	"testing"
)

// Generated bounces with n failed recipients, in the shapes that made the
// parser quadratic (issue 23 item 10): every recipient alone on its line
// with one reason for all, one reply per recipient, and a DSN.
var linearShapes = map[string]func(n int) string{
	"list": func(n int) string {
		var b strings.Builder
		b.WriteString("From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\n\nThe following addresses had permanent fatal errors (mailbox unavailable):\n\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "u%d@d%d.example\n", i, i)
		}
		return b.String()
	},
	"replies": func(n int) string {
		var b strings.Builder
		b.WriteString("From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\n\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "<u%d@d%d.example>: host mx.d%d.example said: 550 5.1.1 user unknown (in reply to RCPT TO command)\n", i, i, i)
		}
		return b.String()
	},
	"dsn": func(n int) string {
		var b strings.Builder
		b.WriteString("From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\nContent-Type: multipart/report; boundary=x\n\n--x\nContent-Type: text/plain\n\nDelivery failed for:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "<u%d@d%d.example>\n", i, i)
		}
		b.WriteString("--x\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example\n\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "Final-Recipient: rfc822; u%d@d%d.example\nAction: failed\nStatus: 5.1.1\n\n", i, i)
		}
		b.WriteString("--x--\n")
		return b.String()
	},
	"x-failed-recipients": func(n int) string {
		var b strings.Builder
		b.WriteString("From: MAILER-DAEMON@x.example\nSubject: Mail delivery failed\nX-Failed-Recipients: ")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",\n ")
			}
			fmt.Fprintf(&b, "u%d@d%d.example", i, i)
		}
		b.WriteString("\n\nThis message was created automatically by mail delivery software.\n")
		b.WriteString(strings.Repeat("A message that you sent could not be delivered to one or more of its recipients.\n", 200))
		return b.String()
	},
}

// TestParseLinear: four times the recipients costs at most about four
// times the pattern work and the allocations (a quadratic parser costs
// sixteen times), and every recipient is reported.
func TestParseLinear(t *testing.T) {
	for name, gen := range linearShapes {
		cost := func(n int) (work int64, allocs float64) {
			msg := []byte(gen(n))
			before := matchWork.Load()
			b := ParseBytes(msg)
			work = matchWork.Load() - before
			if len(b.Failures) != n {
				t.Errorf("%s: %d recipients, %d reported", name, n, len(b.Failures))
			}
			allocs = testing.AllocsPerRun(1, func() { ParseBytes(msg) })
			return work, allocs
		}
		w1, a1 := cost(100)
		w4, a4 := cost(400)
		t.Logf("%s: pattern bytes %d -> %d, allocs %.0f -> %.0f", name, w1, w4, a1, a4)
		if float64(w4) > 5*float64(w1) {
			t.Errorf("%s: pattern work grew %.1f times for 4 times the recipients", name, float64(w4)/float64(w1))
		}
		if a4 > 5*a1 {
			t.Errorf("%s: allocations grew %.1f times for 4 times the recipients", name, a4/a1)
		}
	}
}
