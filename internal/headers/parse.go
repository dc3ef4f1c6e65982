package headers

import (
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/emersion/go-msgauth/authres"
)

// splitComments separates RFC 5322 3.2.2 comments (parenthesised, nested,
// with quoted-pairs) from the rest of a header value. Quoted strings are
// kept whole in text.
func splitComments(s string) (text string, comments []string) {
	var b, c strings.Builder
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s) && (inQuote || depth > 0):
			if depth > 0 {
				c.WriteByte(s[i+1])
			} else {
				b.WriteByte(ch)
				b.WriteByte(s[i+1])
			}
			i++
		case inQuote:
			b.WriteByte(ch)
			if ch == '"' {
				inQuote = false
			}
		case ch == '"' && depth == 0:
			inQuote = true
			b.WriteByte(ch)
		case ch == '(':
			if depth > 0 {
				c.WriteByte(ch)
			}
			depth++
		case ch == ')' && depth > 0:
			depth--
			if depth == 0 {
				comments = append(comments, strings.TrimSpace(c.String()))
				c.Reset()
				b.WriteByte(' ')
			} else {
				c.WriteByte(ch)
			}
		case depth > 0:
			c.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	if depth > 0 && c.Len() > 0 { // unclosed comment: keep what was there
		comments = append(comments, strings.TrimSpace(c.String()))
	}
	return b.String(), comments
}

// splitOutsideQuotes splits s at sep where sep is not inside a quoted
// string.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == sep && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// fieldsOutsideQuotes is strings.Fields that keeps quoted strings whole.
func fieldsOutsideQuotes(s string) []string {
	var out []string
	for _, part := range splitOutsideQuotes(strings.ReplaceAll(strings.ReplaceAll(s, "\t", " "), "\r\n", " "), ' ') {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		s = strings.ReplaceAll(strings.ReplaceAll(s, `\"`, `"`), `\\`, `\`)
	}
	return s
}

// AuthResult is one result of an Authentication-Results header field
// (RFC 8601 2.2: method=result [reason] properties).
type AuthResult struct {
	Method string `json:"method"` // spf, dkim, dmarc, arc, iprev, auth, ...
	Result string `json:"result"` // pass, fail, softfail, neutral, none, temperror, permerror, policy, ...
	Reason string `json:"reason,omitempty"`
	// Properties are ptype.property=value pairs: smtp.mailfrom,
	// header.d, header.s, header.b, header.from, policy.iprev, ...
	Properties map[string]string `json:"properties,omitempty"`
	Comment    string            `json:"comment,omitempty"`
}

// Prop returns a property ("header.d").
func (r AuthResult) Prop(name string) string { return r.Properties[name] }

// AuthResults is one Authentication-Results header field.
type AuthResults struct {
	AuthServID string       `json:"authserv_id"`
	Results    []AuthResult `json:"results"`
	Raw        string       `json:"raw"`
	Error      string       `json:"error,omitempty"`
}

// ParseAuthResults parses an Authentication-Results value (RFC 8601). It
// uses go-msgauth/authres for each result's method and value, and reads
// the properties and comments that authres drops. Microsoft 365 writes no
// authserv-id; such fields parse with an empty AuthServID.
func ParseAuthResults(value string) AuthResults {
	ar := AuthResults{Raw: value, Results: []AuthResult{}}
	text, _ := splitComments(value)
	segs := splitOutsideQuotes(text, ';')
	first := strings.TrimSpace(segs[0])
	if looksLikeResult(first) {
		ar.AuthServID = ""
	} else {
		ar.AuthServID = strings.ToLower(strings.Fields(first + " x")[0])
		segs = segs[1:]
	}
	// Comments are attached to the result they follow, from the raw text.
	rawSegs := splitOutsideQuotes(value, ';')
	if ar.AuthServID != "" {
		rawSegs = rawSegs[1:]
	}
	for i, seg := range segs {
		seg = strings.TrimSpace(seg)
		if seg == "" || strings.EqualFold(seg, "none") {
			continue
		}
		r := AuthResult{Properties: map[string]string{}}
		if i < len(rawSegs) {
			_, cs := splitComments(rawSegs[i])
			r.Comment = strings.Join(cs, "; ")
		}
		toks := fieldsOutsideQuotes(seg)
		m, v, ok := strings.Cut(toks[0], "=")
		if !ok || !validMethod(m) {
			ar.Error = "malformed result " + toks[0]
			continue
		}
		r.Method = strings.ToLower(strings.TrimSpace(strings.Split(m, "/")[0]))
		r.Result = strings.ToLower(strings.TrimSpace(v))
		// The method and value as go-msgauth reads them.
		if _, rs, err := authres.Parse("x; " + toks[0]); err == nil && len(rs) == 1 {
			r.Result = strings.ToLower(string(resultValue(rs[0], r.Result)))
		}
		for _, t := range toks[1:] {
			k, v, ok := strings.Cut(t, "=")
			if !ok {
				continue
			}
			k = strings.ToLower(k)
			if k == "reason" {
				r.Reason = unquote(v)
				continue
			}
			r.Properties[k] = unquote(v)
		}
		ar.Results = append(ar.Results, r)
	}
	return ar
}

// resultValue extracts the value from authres' typed results.
func resultValue(r authres.Result, def string) authres.ResultValue {
	switch t := r.(type) {
	case *authres.SPFResult:
		return t.Value
	case *authres.DKIMResult:
		return t.Value
	case *authres.DMARCResult:
		return t.Value
	case *authres.ARCResult:
		return t.Value
	case *authres.IPRevResult:
		return t.Value
	case *authres.AuthResult:
		return t.Value
	case *authres.SenderIDResult:
		return t.Value
	case *authres.DomainKeysResult:
		return t.Value
	case *authres.GenericResult:
		return t.Value
	}
	return authres.ResultValue(def)
}

// validMethod: RFC 8601 2.2 method = Keyword [ [CFWS] "/" [CFWS] method-version ].
func validMethod(m string) bool {
	name := strings.TrimSpace(strings.Split(m, "/")[0])
	return name != "" && !strings.ContainsAny(name, " \t\"=;")
}

var resultStart = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*(/[0-9]+)?\s*=`) })

func looksLikeResult(s string) bool { return resultStart().MatchString(s) }

// ReceivedSPF is a Received-SPF header field (RFC 7208 9.1).
type ReceivedSPF struct {
	Result     string            `json:"result"`
	Comment    string            `json:"comment,omitempty"`
	Properties map[string]string `json:"properties,omitempty"` // client-ip, envelope-from, helo, receiver, identity, mechanism, problem
	Raw        string            `json:"raw"`
}

// ParseReceivedSPF parses a Received-SPF value:
//
//	result [comment] [key=value; ...]
func ParseReceivedSPF(value string) ReceivedSPF {
	rs := ReceivedSPF{Raw: value, Properties: map[string]string{}}
	text, comments := splitComments(value)
	rs.Comment = strings.Join(comments, "; ")
	text = strings.TrimSpace(text)
	word, rest, _ := strings.Cut(text, " ")
	rs.Result = strings.ToLower(strings.TrimSpace(word))
	for _, kv := range splitOutsideQuotes(rest, ';') {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok {
			rs.Properties[strings.ToLower(strings.TrimSpace(k))] = unquote(strings.TrimSpace(v))
		}
	}
	return rs
}

// Hop is one Received header field (RFC 5321 4.4): who handed the message
// to whom.
type Hop struct {
	Index int    `json:"index"` // 1 is the topmost (last added)
	HELO  string `json:"helo,omitempty"`
	RDNS  string `json:"rdns,omitempty"` // the name the receiving host found for IP
	IP    string `json:"ip,omitempty"`   // the connecting client's address
	By    string `json:"by,omitempty"`
	With  string `json:"with,omitempty"`
	Date  string `json:"date,omitempty"`
	// Role: "receiver" (a hop inside the receiving organisation),
	// "border" (where the message entered it: IP is the sending client),
	// "sender" (below the border: written by the sending side, unverified).
	Role string `json:"role,omitempty"`
	Raw  string `json:"raw"`
}

var (
	bracketIP = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]`) })
	bareIP    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:IPv6:)?([0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*)$`) })
)

// ParseReceived reads the from, by and with clauses of a Received value.
// Senders write these in many dialects (Postfix, Exim, Sendmail, qmail,
// Exchange, Gmail); it looks for the client's address in brackets in the
// from clause or its comments, a HELO name after "from" or in "helo=" /
// "HELO x", and the name before the bracketed address as reverse DNS.
func ParseReceived(value string) Hop {
	h := Hop{Raw: value}
	body := value
	if i := strings.LastIndexByte(value, ';'); i >= 0 {
		body, h.Date = value[:i], strings.TrimSpace(value[i+1:])
	}
	// Walk words and comments in order, remembering which clause we are in.
	type item struct {
		word, comment string
	}
	var items []item
	text := body
	for len(text) > 0 {
		text = strings.TrimLeft(text, " \t\r\n")
		if text == "" {
			break
		}
		if text[0] == '(' {
			depth, j := 0, 0
			for ; j < len(text); j++ {
				if text[j] == '(' {
					depth++
				} else if text[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			end := min(j+1, len(text))
			items = append(items, item{comment: strings.Trim(text[:end], "()")})
			text = text[end:]
			continue
		}
		j := strings.IndexAny(text, " \t\r\n(")
		if j < 0 {
			j = len(text)
		}
		items = append(items, item{word: text[:j]})
		text = text[j:]
	}
	clause, fromWord, heloInComment := "", "", false
	for i, it := range items {
		if it.word != "" {
			switch w := strings.ToLower(it.word); w {
			case "from", "by", "with", "id", "for", "via":
				clause = w
				continue
			}
			switch clause {
			case "from":
				if h.HELO == "" && h.IP == "" && i > 0 && items[i-1].word != "" && strings.EqualFold(items[i-1].word, "from") {
					if m := bracketIP().FindStringSubmatch(it.word); m != nil && validIP(m[1]) {
						h.IP = m[1]
					}
					h.HELO = strings.Trim(it.word, "[]")
					fromWord = h.HELO
				}
			case "by":
				if h.By == "" {
					h.By = strings.TrimSuffix(strings.ToLower(it.word), ".")
				}
			case "with":
				if h.With == "" {
					h.With = it.word
				}
			}
			continue
		}
		if clause != "from" {
			continue
		}
		heloInComment = readTCPInfo(&h, it.comment) || heloInComment
	}
	// Exim writes "from <verified rDNS> ([ip] helo=<HELO>)".
	if heloInComment && h.RDNS == "" && fromWord != h.HELO && !validIP(fromWord) {
		h.RDNS = fromWord
	}
	h.RDNS = strings.TrimSuffix(strings.ToLower(h.RDNS), ".")
	if strings.EqualFold(h.RDNS, "unknown") {
		h.RDNS = ""
	}
	return h
}

// readTCPInfo reads a comment of the from clause: "(rdns [ip])",
// "([ip] helo=name)", "(HELO name)", "(ip)".
func readTCPInfo(h *Hop, c string) (helo bool) {
	words := strings.Fields(c)
	for i, w := range words {
		lw := strings.ToLower(w)
		switch {
		case strings.HasPrefix(lw, "helo="):
			h.HELO, helo = strings.TrimSuffix(w[5:], ","), true
		case lw == "helo" && i+1 < len(words):
			h.HELO, helo = words[i+1], true
		case h.IP == "":
			m := bracketIP().FindStringSubmatch(w)
			if m == nil {
				m = bareIP().FindStringSubmatch(strings.Trim(w, ",;"))
			}
			if m != nil && validIP(m[1]) {
				h.IP = m[1]
				if i > 0 && !strings.Contains(words[i-1], "=") && !strings.EqualFold(words[i-1], "helo") {
					h.RDNS = words[i-1]
				}
			}
		}
	}
	return helo
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
