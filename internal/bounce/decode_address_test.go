package bounce

import "testing"

// TestRecordDecodesEncodedWordRecipient: an MTA that copies an SMTPUTF8
// address into a DSN as RFC 2047 encoded words must not leave the bounce
// row and the suppression list with "=?utf-8?B?...?=" (issue 22); an
// encoded word that would decode to a space or a control character stays
// as written.
func TestRecordDecodesEncodedWordRecipient(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=?utf-8?B?8J+QiA==?=@example.org", "\U0001F408@example.org"},
		{"=?iso-8859-1?Q?j=F6rg?=@example.de", "jörg@example.de"},
		{"plain@example.org", "plain@example.org"},
		{"=?utf-8?Q?a=0Ab?=@example.org", "=?utf-8?Q?a=0Ab?=@example.org"},
		{"=?utf-8?Q?a=1B[31mb?=@example.org", "=?utf-8?Q?a=1B[31mb?=@example.org"},
		{"=?utf-8?Q?a_b?=@example.org", "=?utf-8?Q?a_b?=@example.org"},
		{"=?bogus?B?xx?=@example.org", "=?bogus?B?xx?=@example.org"},
	} {
		b := &Bounce{}
		r := NewRecord("x.eml", b, &Failure{Recipient: tc.in})
		if r.Recipient != tc.want {
			t.Errorf("%q: recipient %q, want %q", tc.in, r.Recipient, tc.want)
		}
	}
}
