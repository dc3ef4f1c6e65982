package receive_test

import (
	"context"
	"fmt"
	"log"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/receive"
	"github.com/deliverdoctor/deliverdoctor/internal/zone"
)

// Judge a message received from 192.0.2.25 for example.com, whose DNS
// comes from zone text (as with --zone --offline).
func ExampleEvaluate() {
	st := zone.NewStore(false)
	err := st.LoadString(`example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"
mail.example.com. 300 IN A 192.0.2.25
25.2.0.192.in-addr.arpa. 300 IN PTR mail.example.com.
`, ".")
	if err != nil {
		log.Fatal(err)
	}
	r, err := dnsx.New(dnsx.Config{Zones: st, Offline: true})
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("From: Ada <ada@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nhello\r\n")
	env := receive.Envelope{ClientIP: "198.51.100.7", HELO: "mail.example.com", MailFrom: "bounce@example.com",
		TLS: receive.TLSInfo{Used: true, Version: "TLS 1.3"}}
	rep := receive.Evaluate(context.Background(), msg, env, r, receive.Options{Lists: []rbl.List{}})
	for _, v := range rep.Verdicts {
		fmt.Println(v.Provider, v.Outcome, v.Codes)
	}
	// Output:
	// gmail reject [5.7.26]
	// yahoo reject [5.7.9]
	// microsoft reject [5.7.509]
}
