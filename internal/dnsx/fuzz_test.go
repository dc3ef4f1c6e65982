package dnsx

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzReply feeds a hostile server's bytes to the client's reply path: the
// wire message is unpacked and validated against the question asked (ID,
// QR, question), then read the way a lookup reads it (CNAME chain, records
// of the asked type). Nothing may panic or loop; an accepted reply must be
// for the question asked.
func FuzzReply(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("example.com.", dns.TypeTXT)
	q.Id = 0x1234
	seed := func(mod func(r *dns.Msg)) {
		r := new(dns.Msg)
		r.SetReply(q)
		mod(r)
		if b, err := r.Pack(); err == nil {
			f.Add(b)
		}
	}
	rr := func(s string) dns.RR { r, _ := dns.NewRR(s); return r }
	seed(func(r *dns.Msg) { r.Answer = []dns.RR{rr(`example.com. 60 IN TXT "v=spf1 -all"`)} })
	seed(func(r *dns.Msg) { r.Rcode = dns.RcodeNameError })
	seed(func(r *dns.Msg) {
		r.Answer = []dns.RR{rr("example.com. 60 IN CNAME a.example."), rr("a.example. 60 IN CNAME example.com."), rr(`a.example. 60 IN TXT "x"`)}
	})
	seed(func(r *dns.Msg) { r.Question[0].Name = "other.example." })
	seed(func(r *dns.Msg) { r.Id++ })
	seed(func(r *dns.Msg) { r.Truncated = true })
	f.Add([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, wire []byte) {
		r, err := parseReply(q, wire)
		if err != nil {
			return
		}
		if r.Id != q.Id || !sameQuestion(r.Question[0], q.Question[0]) {
			t.Fatalf("accepted a reply to another question: %v", r.Question)
		}
		res := &Result{Name: "example.com.", Type: dns.TypeTXT}
		if _, _, err := follow(res, &raw{rcode: r.Rcode, answer: r.Answer}, "example.com.", nil); err != nil {
			return
		}
		for _, rr := range res.Records {
			if rr.Header().Rrtype != dns.TypeTXT {
				t.Fatalf("record of another type taken: %v", rr)
			}
		}
		_ = res.TXT()
		_ = res.Target()
	})
}
