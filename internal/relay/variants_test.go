package relay

import (
	"strings"
	"testing"
)

// The table holds nmap smtp-open-relay's 16 tests (n1..n16) plus ours.
func TestVariantsCoverNmap(t *testing.T) {
	notes := ""
	for _, v := range Variants() {
		notes += v.Note + "\n"
	}
	for i := 1; i <= 16; i++ {
		if !strings.Contains(notes, "n"+itoa(i)+":") {
			t.Errorf("nmap test n%d missing", i)
		}
	}
	// The plain foreign recipients come first: they decide the verdict
	// before a server's error limit can end the session.
	seenTrick := false
	for _, v := range Variants() {
		if v.Kind == KindTrick {
			seenTrick = true
		} else if seenTrick {
			t.Errorf("foreign variant %s after a trick", v.ID)
		}
	}
	// Postfix drops a client after smtpd_hard_error_limit (20) errors; a
	// closed server refuses every variant, so stay below it.
	if len(Variants()) >= 20 {
		t.Errorf("%d variants: a closed Postfix would disconnect before the end", len(Variants()))
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return "1" + string(rune('0'+i-10))
}

func TestPlan(t *testing.T) {
	p := Params{Sender: "s", User: "u", External: "ext.example", Local: "dom.example", Server: "mx.dom.example", Literal: "[192.0.2.1]"}
	steps := Plan(Variants(), p)
	got := map[string]string{}
	for _, s := range steps {
		got[s.ID] = s.MailFrom + " " + s.RcptTo
		if strings.ContainsAny(s.MailFrom+s.RcptTo, "{}") {
			t.Errorf("%s: unexpanded %s %s", s.ID, s.MailFrom, s.RcptTo)
		}
	}
	want := map[string]string{
		"null-sender":          "<> <u@ext.example>",
		"external-sender":      "<s@ext.example> <u@ext.example>",
		"local-sender":         "<s@dom.example> <u@ext.example>",
		"server-sender":        "<s@mx.dom.example> <u@ext.example>",
		"literal-sender":       "<s@[192.0.2.1]> <u@ext.example>",
		"source-route-literal": "<s@[192.0.2.1]> <@[192.0.2.1]:u@ext.example>",
		"source-route":         "<s@[192.0.2.1]> <@dom.example:u@ext.example>",
		"percent-hack-literal": "<s@[192.0.2.1]> <u%ext.example@[192.0.2.1]>",
		"percent-hack":         "<s@[192.0.2.1]> <u%ext.example@dom.example>",
		"quoted-at":            `<s@[192.0.2.1]> <"u@ext.example">`,
		"quoted-percent":       `<s@[192.0.2.1]> <"u%ext.example">`,
		"quoted-at-literal":    `<s@[192.0.2.1]> <"u@ext.example"@[192.0.2.1]>`,
		"quoted-percent-local": `<s@[192.0.2.1]> <"u%ext.example"@dom.example>`,
		"double-at-literal":    "<s@[192.0.2.1]> <u@ext.example@[192.0.2.1]>",
		"double-at":            "<s@[192.0.2.1]> <u@ext.example@dom.example>",
		"bang-path":            "<s@[192.0.2.1]> <ext.example!u>",
		"bang-path-literal":    "<s@[192.0.2.1]> <ext.example!u@[192.0.2.1]>",
		"bang-path-local":      "<s@[192.0.2.1]> <ext.example!u@dom.example>",
		"quoted-bang":          `<s@[192.0.2.1]> <"ext.example!u">`,
	}
	if len(got) != len(want) {
		t.Errorf("%d steps, want %d", len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %q, want %q", id, got[id], w)
		}
	}
	// The server's name equal to the local domain: duplicates dropped.
	p.Server = p.Local
	if n := len(Plan(Variants(), p)); n != len(want)-1 {
		t.Errorf("%d steps with server == local, want %d", n, len(want)-1)
	}
}

func TestParseVariantsErrors(t *testing.T) {
	for _, bad := range []string{
		"",
		"# only comments",
		"a foreign sender <> ",
		"a sideways sender <> <{user}@{ext}>",
		"a foreign sender <> <{user}@{ext}>\na foreign sender <> <{user}@{ext}>",
		"a foreign sender <> <{user}@{nope}>",
		"a foreign sender <> {user}@{ext}",
		"a foreign sender <> <{user}@{local}>",
	} {
		if _, err := ParseVariants(bad); err == nil {
			t.Errorf("ParseVariants(%q) accepted", bad)
		}
	}
}

func TestControlPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<u%ext@[192.0.2.1]>", "<c@[192.0.2.1]>"},
		{"<u@ext@dom.example>", "<c@dom.example>"},
		{`<"u@ext"@dom.example>`, "<c@dom.example>"},
		{`<"u@ext">`, "<c>"},
		{`<"u\"@ext">`, "<c>"},
		{"<ext!u>", "<c>"},
		{"<ext!u@dom.example>", "<c@dom.example>"},
	}
	for _, tt := range tests {
		if got := controlPath(tt.in, "c"); got != tt.want {
			t.Errorf("controlPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseVariants(f *testing.F) {
	// Small seeds only; the full variants.txt is a table test.
	f.Add("null-sender            foreign sender            <>                       <{user}@{ext}>              n1: null\nsource-route           foreign source-route      <{sender}@{literal}>     <@{local}:{user}@{ext}>     n13\n")
	f.Add("a foreign sender <> <{user}@{ext}> note")
	f.Fuzz(func(t *testing.T, s string) {
		vs, err := ParseVariants(s)
		if err != nil {
			return
		}
		for _, st := range Plan(vs, Params{Sender: "s", User: "u", External: "e.example", Local: "l.example", Server: "m.example", Literal: "[192.0.2.1]"}) {
			if strings.ContainsAny(st.RcptTo, "{}") && !strings.ContainsAny(st.Rcpt, "{}") {
				t.Fatalf("expansion invented braces: %q", st.RcptTo)
			}
			_ = controlPath(st.RcptTo, "c")
		}
	})
}
