package dnsx

import (
	"errors"

	"github.com/miekg/dns"
)

// Reasons a reply is refused. Whatever the transport, a reply is taken only
// if it is a response to the very question asked (RFC 5452 9.1: ID and
// question section; RFC 7766 7 for TCP, where replies may come out of order).
var (
	errWrongID       = errors.New("reply ID does not match the question")
	errWrongQuestion = errors.New("reply is for a different question")
	errNotResponse   = errors.New("message is not a response")
)

// checkReply validates r against the question q.
func checkReply(q, r *dns.Msg) error {
	if r.Id != q.Id {
		return errWrongID
	}
	if !r.Response || r.Opcode != q.Opcode {
		return errNotResponse
	}
	if len(r.Question) != 1 || len(q.Question) != 1 || !sameQuestion(q.Question[0], r.Question[0]) {
		return errWrongQuestion
	}
	return nil
}

// parseReply unpacks a reply's bytes and validates it against q.
func parseReply(q *dns.Msg, wire []byte) (*dns.Msg, error) {
	r := new(dns.Msg)
	if err := r.Unpack(wire); err != nil {
		return nil, err
	}
	if err := checkReply(q, r); err != nil {
		return nil, err
	}
	return r, nil
}
