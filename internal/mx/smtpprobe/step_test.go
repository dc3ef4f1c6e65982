package smtpprobe

import "testing"

func TestStepString(t *testing.T) {
	r := &Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{"5.1.1 no such user"}}
	for _, tc := range []struct {
		s    Step
		want string
	}{
		{Step{Name: "connect", Error: "connection refused"}, "connect: (connection refused)"},
		{Step{Name: "rcpt", Command: "RCPT TO:<a@example.com>", Reply: r}, "rcpt: > RCPT TO:<a@example.com> < " + r.String()},
		{Step{Name: "quit", Command: "QUIT", Error: "timeout"}, "quit: > QUIT (timeout)"},
		{Step{Name: "greeting"}, "greeting:"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}
