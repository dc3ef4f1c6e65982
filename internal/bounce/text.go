package bounce

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/ascii"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

// originalMarker finds where a non-MIME bounce starts quoting the original
// message (its headers follow).
var originalMarker = mustFre(`(?im)^[ \t]*(?:-{2,}[ \t]*)?(?:this is a copy of|below this line is a copy|(?:-+ )?original message|enclosed is a copy|the header of the original message|returned message|unsent message follows|original message follows|message headers follow|below is a copy of the original message|included is a copy of the message header|-*original mail info|\*+ +end of message)|(?m)^(?:Received|Return-Path|DKIM-Signature|Return-path):[ \t]?\S`)

// splitOriginal cuts the notice at the start of the quoted original: the
// first line originalMarker matches. The marker is matched line by line
// by hand (markerAt), the expression only on a line that is not ASCII,
// where (?i) also folds non-ASCII letters: running the expression over
// the whole notice was a sixth of the parser's time.
// TestSplitOriginalAgrees and FuzzSplitOriginal compare it with the plain
// expression.
func splitOriginal(text string) (notice, original string) {
	for ls := 0; ls < len(text); {
		le := strings.IndexByte(text[ls:], '\n')
		if le < 0 {
			le = len(text)
		} else {
			le += ls
		}
		line := text[ls:le]
		var found, keep bool
		if ascii.Only(line) {
			found, keep = markerAt(line)
		} else if loc := originalMarker.Regexp().FindStringIndex(line); loc != nil {
			// Every part of the marker stays within a line.
			found, keep = true, keepMarkerLine(line[:loc[1]])
		}
		if found {
			if keep {
				return text[:ls], text[ls:]
			}
			if le < len(text) {
				return text[:ls], text[le+1:]
			}
			return text[:ls], ""
		}
		ls = le + 1
	}
	return text, ""
}

// keepMarkerLine: a marker that is itself a header line of the original
// stays with the original.
func keepMarkerLine(m string) bool {
	m = strings.ToLower(strings.TrimSpace(m))
	return strings.HasPrefix(m, "received") || strings.HasPrefix(m, "return") || strings.HasPrefix(m, "dkim")
}

// markerPhrases: the phrases of originalMarker that start a line (after
// blanks and an optional run of two or more dashes), lower case.
var markerPhrases = []string{"this is a copy of", "below this line is a copy", "original message", "enclosed is a copy",
	"the header of the original message", "returned message", "unsent message follows", "message headers follow",
	"below is a copy of the original message", "included is a copy of the message header"}

// markerAt matches originalMarker at the start of an ASCII line (after is
// the text after it, from its newline on): found, and whether the line
// stays with the original (keepMarkerLine of the match).
func markerAt(line string) (found, keep bool) {
	// (?i) covers the header names too: the flags last to the end.
	for _, h := range []string{"received:", "return-path:", "dkim-signature:"} {
		if hasPrefixFold(line, h) {
			// [ \t]?\S within the line (the newline is \s).
			rest := line[len(h):]
			if len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
				rest = rest[1:]
			}
			if len(rest) > 0 && !isRESpace(rest[0]) {
				return true, true
			}
		}
	}
	p := 0
	for p < len(line) && (line[p] == ' ' || line[p] == '\t') {
		p++
	}
	if markerPhraseAt(line[p:]) {
		return true, hasPrefixFold(line[p:], "returned message")
	}
	// (?:-{2,}[ \t]*)? before the phrase: every split of the dashes.
	d := 0
	for p+d < len(line) && line[p+d] == '-' {
		d++
	}
	for k := 2; k <= d; k++ {
		q := p + k
		if k == d {
			for q < len(line) && (line[q] == ' ' || line[q] == '\t') {
				q++
			}
		}
		if markerPhraseAt(line[q:]) {
			return true, false
		}
	}
	return false, false
}

// markerPhraseAt matches originalMarker's phrase group at the start of s.
func markerPhraseAt(s string) bool {
	for _, ph := range markerPhrases {
		if hasPrefixFold(s, ph) {
			return true
		}
	}
	// (?:-+ )?original message, -*original mail info
	d := 0
	for d < len(s) && s[d] == '-' {
		d++
	}
	if d > 0 && d < len(s) && s[d] == ' ' && hasPrefixFold(s[d+1:], "original message") {
		return true
	}
	if hasPrefixFold(s[d:], "original mail info") {
		return true
	}
	// \*+ +end of message
	st := 0
	for st < len(s) && s[st] == '*' {
		st++
	}
	if st > 0 {
		sp := st
		for sp < len(s) && s[sp] == ' ' {
			sp++
		}
		if sp > st && hasPrefixFold(s[sp:], "end of message") {
			return true
		}
	}
	return false
}

// isRESpace is \s: [\t\n\f\r ].
func isRESpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

type recipPos struct {
	addr string
	pos  []int // byte offsets of every occurrence
}

// maxNoticeLines bounds the lines of a notice searched for recipients.
const maxNoticeLines = 200000

// textRecipients finds failed recipients in a prose bounce: addresses in
// the notice that are not the bounce's or the original's sender, nor in a
// quoted header line.
func textRecipients(notice string, exclude []string, dropped *int) []recipPos {
	var out []recipPos
	index := map[string]int{}
	lines := 0
	off := 0
	// The lines as strings.SplitAfter(notice, "\n") gives them (an empty
	// last one after a final newline), without the slice.
	for rest, last := notice, false; !last; {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			last = true
		}
		lines++
		if lines > maxNoticeLines {
			*dropped = -1 // unknown: the rest was not read
			break
		}
		if strings.IndexByte(line, '@') < 0 {
			off += len(line) // no address on this line
			continue
		}
		if isHeaderLike(line) && !strings.Contains(strings.ToUpper(line), "RCPT") {
			off += len(line)
			continue
		}
		for _, m := range findAddrs(line, 20) {
			a := strings.Trim(line[m[0]:m[1]], ".-")
			la := strings.ToLower(a)
			// An address alone on its line is how MTAs list failed
			// recipients, even one that is also the sender's.
			alone := strings.Trim(strings.TrimSpace(line), "<>\"':*-") == a
			if !strings.Contains(a[strings.IndexByte(a, '@'):], ".") || (excluded(la, exclude) && !alone) {
				continue
			}
			prefix := line[:m[0]]
			if senderBefore(prefix) && !strings.Contains(strings.ToUpper(prefix), "RCPT") {
				continue
			}
			if strings.HasSuffix(strings.ToLower(prefix), "mailto:") || strings.HasSuffix(prefix, "/") || strings.HasSuffix(prefix, "=") {
				continue
			}
			i, ok := index[la]
			if i < 0 {
				continue // past the limit, counted once
			}
			if !ok {
				if len(out) >= maxDSNRecipients {
					*dropped++
					index[la] = -1
					continue
				}
				index[la] = len(out)
				out = append(out, recipPos{addr: a})
				i = len(out) - 1
			}
			out[i].pos = append(out[i].pos, off+m[0])
		}
		off += len(line)
	}
	return out
}

func excluded(addr string, exclude []string) bool {
	local := addr[:strings.IndexByte(addr, '@')]
	switch local {
	case "postmaster", "mailer-daemon", "mailer_daemon", "mail.delivery.system", "maildelivery", "no-reply", "noreply":
		return true
	}
	// Mailing-list control addresses that list notices tell you to write to.
	for _, s := range []string{"-ctl", "-request", "-admin", "-owner", "-help"} {
		if strings.HasSuffix(local, s) {
			return true
		}
	}
	return slices.Contains(exclude, addr)
}

// regionFor is the part of the notice about one recipient: from the line of
// its first mention to the next mention of another recipient. next is
// nextMentions(all); the cost does not depend on the number of recipients.
func regionFor(notice string, r recipPos, next []mention) (string, int) {
	if len(r.pos) == 0 {
		return "", 0
	}
	first := r.pos[0]
	start := strings.LastIndexByte(notice[:first], '\n') + 1
	lineEnd := len(notice)
	if i := strings.IndexByte(notice[first:], '\n'); i >= 0 {
		lineEnd = first + i
	}
	end := len(notice)
	// The first mention of another recipient after this one's first.
	k := sort.Search(len(next), func(i int) bool { return next[i].pos > first })
	for k < len(next) && next[k].addr == r.addr {
		k = next[k].nextOther
	}
	if k < len(next) {
		p := next[k].pos
		cut := strings.LastIndexByte(notice[:p], '\n') + 1
		if cut <= lineEnd {
			cut = p // another recipient on the same line
		}
		if cut < end && cut > first {
			end = cut
		}
	}
	if end-start > 4000 {
		end = start + 4000
	}
	return notice[start:end], start
}

// mention is one occurrence of a recipient in the notice; nextOther is the
// index of the next mention of a different recipient (len when none).
type mention struct {
	pos       int
	addr      string
	nextOther int
}

// nextMentions lists every mention of every recipient in notice order.
func nextMentions(all []recipPos) []mention {
	var out []mention
	for _, r := range all {
		for _, p := range r.pos {
			out = append(out, mention{pos: p, addr: r.addr})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	n := len(out)
	for i := n - 1; i >= 0; i-- {
		switch {
		case i == n-1:
			out[i].nextOther = n
		case out[i+1].addr != out[i].addr:
			out[i].nextOther = i + 1
		default:
			out[i].nextOther = out[i+1].nextOther
		}
	}
	return out
}

// diagnosticFrom picks the receiver's words out of a region: the SMTP reply
// in it (to the next blank line), or else the region without the
// recipient's address.
func diagnosticFrom(region, addr string) (string, *Reply) {
	if r, ok := FindReply(region); ok && r.Code != 0 {
		seg := region[indexReply(region, r):]
		if i := strings.Index(seg, "\n\n"); i > 0 {
			seg = seg[:i]
		}
		return sanitize.Truncate(tidy(collapse(seg)), 1000), r
	}
	s := region
	if i := indexFoldAny(s, addr); i >= 0 {
		s = s[:i] + s[i+len(addr):]
	}
	s = strings.TrimLeft(collapse(s), "<>:\"' ,.-*")
	r, _ := FindReply(region) // an enhanced code alone: "... (#4.4.1)"
	return sanitize.Truncate(tidy(s), 1000), r
}

// indexReply finds where the reply FindReply returned starts in s.
func indexReply(s string, r *Reply) int {
	if r.Code != 0 {
		code := itoa3(r.Code)
		for i := 0; i+3 <= len(s); i++ {
			if s[i:i+3] == code {
				if _, ok := replyCodeAt(s, i); ok {
					return i
				}
			}
		}
	}
	if !r.Enhanced.IsZero() {
		if i := strings.Index(s, r.Enhanced.String()); i >= 0 {
			return i
		}
	}
	return 0
}

// tidy drops a bracket left over from "[550 5.1.1 User unknown]".
func tidy(s string) string {
	if strings.HasSuffix(s, "]") && strings.Count(s, "[") < strings.Count(s, "]") {
		s = strings.TrimSpace(strings.TrimSuffix(s, "]"))
	}
	return s
}

var commandRes = []struct {
	re  *fre
	cmd string
}{
	{mustFre(`(?i)(in reply to|after|like our|following|for)\s+(the\s+)?(end of data|final data|data|text)\b|\(DATA\)|>>> DATA|-{3,}SMTP command\s+DATA`), "DATA"},
	{mustFre(`(?i)(in reply to|after|like our|following)\s+(the\s+)?rcpt\b|(>>>|<<<)\s*RCPT|RCPT TO:.{0,80}does not like|rejected recipient`), "RCPT"},
	{mustFre(`(?i)(in reply to|after|like our|following)\s+(the\s+)?mail( from)?\b|>>>\s*MAIL\s+FROM`), "MAIL"},
	{mustFre(`(?i)(in reply to|after|following)\s+(the\s+)?ehlo\b|>>>\s*EHLO`), "EHLO"},
	{mustFre(`(?i)(in reply to|after|following)\s+(the\s+)?helo\b|>>>\s*HELO`), "HELO"},
	{mustFre(`(?i)after (initial )?connection|(in reply to|after) (the )?(connect|greeting|banner)`), "CONN"},
}

// findCommand finds the SMTP command a reply answered ("in reply to RCPT
// TO command", "after end of data", ">>> RCPT To:").
func findCommand(text string) string {
	if cmd, ok := findCommandASCII(text); ok {
		return cmd
	}
	return findCommandRE(text)
}

// findCommandRE is findCommand by the expressions, for any text (the
// reference findCommandASCII is tested against).
func findCommandRE(text string) string {
	best, at := "", -1
	for _, c := range commandRes {
		if loc := c.re.FindStringIndex(text); loc != nil && (at < 0 || loc[0] < at) {
			best, at = c.cmd, loc[0]
		}
	}
	return best
}

var remoteRes = []*fre{
	mustFre(`(?i)\bhost:?\s+([a-z0-9][a-z0-9.\-]*\.[a-z]{2,})\s*\[`),
	mustFre(`(?i)\bhost:?\s+([a-z0-9][a-z0-9.\-]*\.[a-z]{2,})\b`),
	mustFre(`(?i)\b([a-z0-9][a-z0-9.\-]*\.[a-z]{2,})\s*\[[0-9a-f.:]+\][: ]+(said|did not like|failed|responded)`),
	mustFre(`(?i)while talking to ([a-z0-9][a-z0-9.\-]*[a-z0-9])`),
	mustFre(`(?i)smtp server <([a-z0-9][a-z0-9.\-:]*)>`),
	mustFre(`(?i)\bserver ([a-z0-9][a-z0-9.\-]*\.[a-z]{2,})\s*\[`),
	mustFre(`(?i)^\s*([0-9][0-9.]+[0-9]) failed after`),
}

// findRemoteMTA finds the receiving server named in a prose bounce.
func findRemoteMTA(text string) string {
	for i, re := range remoteRes {
		if i == remoteSaidIndex && ascii.Only(text) {
			// Written out by hand (remoteSaid): on ASCII text (?i) is
			// ASCII case folding, so the lowered copy has the offsets.
			if start, end, ok := remoteSaid(ascii.Lower(text)); ok {
				return strings.TrimSuffix(text[start:end], ".")
			}
			continue
		}
		if m := re.FindStringSubmatch(text); m != nil {
			return strings.TrimSuffix(m[1], ".")
		}
	}
	return ""
}

// remoteSaidIndex is the expression of remoteRes that remoteSaid is.
const remoteSaidIndex = 2

var senderIPRe = mustFre(`(?i)(client host|sending ip|ip address|from ip|the ip|with the ip|messages from|banned sending ip|\bip:|connecting ip|from \[)[^0-9a-f\[\n]{0,12}\[?([0-9a-f]{1,4}(?:[.:][0-9a-f]{0,4}){3,7})\]?`)

// findSenderIP finds the sending IP a receiver names in its reply.
func findSenderIP(text string) string {
	for _, m := range senderIPRe.FindAllStringSubmatch(text, 5) {
		if ip, err := netip.ParseAddr(m[2]); err == nil && !ip.IsUnspecified() {
			return ip.String()
		}
	}
	return ""
}

var (
	tagRe        = lazyRegexp(`(?s)<[^>]{0,1000}>`)
	dropBlockRe  = lazyRegexp(`(?is)<(script|style|head)\b.*?</(script|style|head)>`)
	blockBreakRe = lazyRegexp(`(?i)<(br|/p|/div|/tr|/li|/h[1-6]|/table|p|div|tr)\b[^>]{0,500}>`)
)

// dsnFieldStart finds delivery-status fields pasted into a text part
// (Amazon WorkMail's "Technical report:").
var dsnFieldStart = lazyRegexp(`(?i)(reporting-mta|final-recipient|original-recipient|action|status|diagnostic-code|remote-mta):`)

// dsnInText extracts a DSN written inside a text part. Quoted-printable
// soft breaks sometimes glue fields together ("smtp; 550Status: 5.3.5"),
// so known field names start a new line wherever they appear.
func dsnInText(text string) *DSN {
	// Positions come from text itself: a lowercased copy can differ in
	// length (invalid UTF-8 becomes a 3-byte U+FFFD), so its offsets must
	// never slice text.
	i := indexFold(text, "final-recipient:")
	if i < 0 {
		return nil
	}
	if j := indexFold(text[:i], "reporting-mta:"); j >= 0 {
		i = j
	}
	body := text[i:]
	var sb strings.Builder
	last := 0
	for _, m := range dsnFieldStart.FindAllStringIndex(body, 200) {
		if m[0] > 0 && body[m[0]-1] != '\n' && body[m[0]-1] != ' ' && body[m[0]-1] != '\t' {
			sb.WriteString(body[last:m[0]])
			sb.WriteByte('\n')
			last = m[0]
		}
	}
	sb.WriteString(body[last:])
	d := ParseDSN([]byte(sb.String()))
	if len(d.Recipients) == 0 {
		return nil
	}
	return d
}

// dkimRefs reads d= and s= from DKIM-Signature fields.
func dkimRefs(h *mimeHeader) []DKIMRef {
	var out []DKIMRef
	for _, v := range h.Values("Dkim-Signature") {
		var ref DKIMRef
		for _, tag := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(tag), "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "d":
				ref.Domain = strings.ToLower(strings.Join(strings.Fields(val), ""))
			case "s":
				ref.Selector = strings.Join(strings.Fields(val), "")
			}
		}
		if ref.Domain != "" && ref.Selector != "" && len(out) < 5 {
			out = append(out, ref)
		}
	}
	return out
}

// mtaGuesses name the software that wrote a prose bounce.
var mtaGuesses = []struct {
	re  *fre
	mta string
}{
	{mustFre(`(?i)this is the mail system at host`), "postfix"},
	{mustFre(`(?i)this is the qmail-send program|qmail`), "qmail"},
	{mustFre(`(?i)dragonfly mail agent`), "dragonfly"},
	{mustFre(`(?i)this is the mailer-daemon, please do not reply`), "opensmtpd"},
	{mustFre(`(?i)message was created automatically by mail delivery software`), "exim"},
	{mustFre(`(?i)transcript of session follows|the original message was received at`), "sendmail"},
	{mustFre(`(?i)did not reach the following recipient|diagnostic information for administrators|could not be reached|msexch`), "exchange"},
	{mustFre(`(?i)google tried to deliver your message|delivery to the following recipient failed|message not delivered`), "gmail"},
	{mustFre(`(?i)sorry, we were unable to deliver your message`), "yahoo"},
	{mustFre(`(?i)amazonses|amazon ses`), "amazonses"},
}

// guessMTA names the MTA from the bounce's From and its texts (the notice
// and the X-Mailer field: no guess spans two of them, none matches a
// newline, so each is matched on its own and the notice's scan is reused).
func guessMTA(from string, texts ...string) string {
	for _, g := range mtaGuesses {
		for _, t := range texts {
			// No guess matches an empty text (most messages have no
			// X-Mailer): not asking spares running every guess on it.
			if t != "" && g.re.MatchString(t) {
				return g.mta
			}
		}
	}
	switch {
	case strings.Contains(from, "googlemail.com") || strings.Contains(from, "google.com"):
		return "gmail"
	case strings.Contains(from, "yahoo"):
		return "yahoo"
	case strings.Contains(from, "amazonses"):
		return "amazonses"
	}
	return ""
}

// bounceSubject and bounceText recognise a delivery failure report.
var (
	bounceSubject = mustFre(`(?i)undeliver|undelivered|delivery (status|failure|failed|notification|has failed|problem)|returned mail|failure notice|mail delivery|non.?delivery|returning message|could not be delivered|not delivered|bounce|mail failure|delivery error|warning|error|failed|rejected`)
	bounceText    = mustFre(`(?i)could not be delivered|couldn't be delivered|was not delivered|undeliverable|delivery (to the following )?(recipient|recipients|address)[^\n]{0,40}failed|unable to deliver|permanent (error|failure|fatal)|following address(es)? failed|did not reach|delivery has failed|delivery failure|wasn't able to deliver|rejected|error (occurred|delivering)|could not send|failed permanently|reject reason|not be delivered|you are not a member|not a member of`)
	delayText     = mustFre(`(?i)will be retried|warning message only|this is a warning|only a temporary failure|(delivery|message) (has been |is )?delayed|do not need to resend|\(delay\)|warning--could not send`)
	daemonFrom    = mustFre(`(?i)mailer-daemon|postmaster|mail delivery|maildelivery|mail\.delivery|post_master`)
)

// buildBounce turns what the MIME walk found into a Bounce.
func buildBounce(b *Bounce, hdr *mimeHeader, mt string, st *walkState) {
	from := strings.ToLower(hdr.Get("From"))
	notice := strings.Join(st.texts, "\n")
	if strings.TrimSpace(notice) == "" && len(st.htmls) > 0 {
		notice = strings.Join(st.htmls, "\n")
	}
	// Amazon SES notifications arrive as mail with a JSON body. The
	// notice is copied only when it can be JSON.
	jsons := st.jsons
	if t := strings.TrimSpace(notice); len(t) > 0 && t[0] == '{' {
		jsons = append(jsons, []byte(t))
	}
	for _, j := range jsons {
		if len(j) > 0 && j[0] == '{' {
			if sb := parseSESJSON(j); sb != nil {
				sb.Subject, sb.Date = b.Subject, b.Date
				*b = *sb
				return
			}
		}
	}
	noticeText, originalText := splitOriginal(notice)
	orig, hasOrig := st.orig, st.hasOrig
	if !hasOrig && strings.TrimSpace(originalText) != "" {
		orig, _ = lenientSplit(originalText)
		hasOrig = orig.Len() > 0
	}

	// The original's sender, falling back to whom the bounce went to.
	var exclude []string
	add := func(as ...string) {
		for _, a := range as {
			exclude = append(exclude, strings.ToLower(a))
		}
	}
	bounceTo := headerAddrs(hdr, "To")
	add(headerAddrs(hdr, "From")...)
	add(bounceTo...)
	add(headerAddrs(hdr, "Return-Path")...)
	add(headerAddrs(hdr, "Delivered-To")...)
	add(headerAddrs(hdr, "X-Original-To")...)
	if hasOrig {
		of := headerAddrs(&orig, "From")
		rp := headerAddrs(&orig, "Return-Path")
		add(of...)
		add(rp...)
		add(headerAddrs(&orig, "Sender")...)
		add(headerAddrs(&orig, "Reply-To")...)
		if len(of) > 0 {
			b.Sender = of[0]
		}
		if len(rp) > 0 {
			b.MailFrom = rp[0]
		}
		b.DKIM = dkimRefs(&orig)
	}
	if b.Sender == "" && b.MailFrom != "" {
		b.Sender = b.MailFrom
	}
	if b.Sender == "" && len(bounceTo) > 0 {
		b.Sender = bounceTo[0]
		b.note("the original message is not attached; the sender is taken to be the bounce's recipient %s", b.Sender)
	}
	if i := strings.LastIndexByte(b.Sender, '@'); i >= 0 {
		b.SenderDomain = strings.ToLower(strings.Trim(b.Sender[i+1:], ">. "))
	}
	b.MTA = guessMTA(from, noticeText, hdr.Get("X-Mailer"))
	if b.MTA == "" && hdr.Get("X-Postfix-Queue-Id") != "" {
		b.MTA = "postfix"
	}

	if st.feedback {
		b.Kind, b.NotBounce = KindNotBounce, "a feedback report (ARF abuse or DMARC failure report), not a delivery failure"
		return
	}

	var dsn *DSN
	for _, d := range st.dsns {
		if len(d.Recipients) > 0 {
			dsn = d
			break
		}
		if dsn == nil {
			dsn = d
		}
	}
	if dsn == nil || len(dsn.Recipients) == 0 {
		if d := dsnInText(noticeText); d != nil {
			dsn = d
		}
	}
	if dsn != nil {
		b.ReportingMTA = dsn.ReportingMTA
		if dsn.ReportingMTA == "" {
			for _, d := range st.dsns {
				if d.ReportingMTA != "" {
					b.ReportingMTA = d.ReportingMTA
				}
			}
		}
	}

	var dropped int
	found := textRecipients(noticeText, exclude, &dropped)
	mentions := nextMentions(found)
	foundIndex := make(map[string]int, len(found))
	for i := len(found) - 1; i >= 0; i-- {
		foundIndex[strings.ToLower(found[i].addr)] = i
	}
	nc := &noticeCtx{text: noticeText}
	delayed := delayText.MatchString(noticeText) || strings.Contains(strings.ToLower(b.Subject), "delay")
	if dsn != nil && len(dsn.Recipients) > 0 {
		b.Kind = KindDSN
		if dsn.Dropped > 0 {
			b.Truncated = true
			b.note("the delivery report lists more than %d recipients; %d were not read", maxDSNRecipients, dsn.Dropped)
		}
		b.Failures = make([]Failure, 0, len(dsn.Recipients))
		for _, r := range dsn.Recipients {
			f := Failure{Recipient: r.FinalRecipient, OriginalRecipient: r.OriginalRecipient, DSNAction: r.Action,
				Status: r.Status, RemoteMTA: r.RemoteMTA, DiagnosticType: r.DiagnosticType, LastAttempt: r.LastAttemptDate}
			if f.Recipient == "" {
				f.Recipient = r.OriginalRecipient
			}
			if r.DiagnosticCode != "" {
				f.Diagnostic = sanitize.Truncate(collapse(decodeWords(r.DiagnosticCode)), 1000)
			}
			region, start := "", 0
			i, ok := foundIndex[strings.ToLower(f.Recipient)]
			if !ok {
				i, ok = foundIndex[strings.ToLower(f.OriginalRecipient)]
			}
			if ok {
				region, start = regionFor(noticeText, found[i], mentions)
			}
			if region == "" && len(dsn.Recipients) == 1 {
				region = noticeText
			}
			fillFromRegion(&f, region, nc, start)
			if f.DSNAction == "" {
				f.DSNAction = "failed"
				if delayed {
					f.DSNAction = "delayed"
				}
			}
			b.Failures = append(b.Failures, f)
		}
	} else {
		if len(found) == 0 {
			for _, a := range headerAddrs(hdr, "X-Failed-Recipients") {
				found = append(found, recipPos{addr: a})
			}
		}
		bounceLike := daemonFrom.MatchString(from) || bounceSubject.MatchString(b.Subject) || bounceText.MatchString(noticeText)
		if len(found) == 0 && hasOrig && bounceLike {
			for _, a := range headerAddrs(&orig, "To") {
				found = append(found, recipPos{addr: a})
			}
			if len(found) > 0 {
				b.note("no recipient is named in the bounce text; using the original message's To")
			}
		}
		if !bounceLike {
			if _, ok := FindReply(noticeText); !ok {
				found = nil
			}
		}
		b.Kind = KindText
		switch {
		case dropped > 0:
			b.Truncated = true
			b.note("the bounce names more than %d recipients; %d were not read", maxDSNRecipients, dropped)
		case dropped < 0:
			b.Truncated = true
			b.note("the bounce text has more than %d lines; recipients after that were not read", maxNoticeLines)
		}
		if len(found) > 0 {
			b.Failures = make([]Failure, 0, len(found))
		}
		for _, p := range found {
			f := Failure{Recipient: p.addr, DSNAction: "failed"}
			if delayed {
				f.DSNAction = "delayed"
			}
			region, start := regionFor(noticeText, p, mentions)
			if region == "" {
				region = noticeText
			}
			fillFromRegion(&f, region, nc, start)
			// A reason stated once for all recipients (MailMarshal, 1&1).
			if f.ReplyCode == 0 && f.Status == "" && matchText(f.Diagnostic) == nil {
				if d, r := nc.diagnostic(p.addr); r != nil || nc.matches() {
					f.Diagnostic = d
					f.context = nc.head()
					if r != nil {
						f.ReplyCode = r.Code
						if !r.Enhanced.IsZero() {
							f.Status = r.Enhanced.String()
						}
					}
				}
			}
			b.Failures = append(b.Failures, f)
		}
	}
	if len(b.Failures) == 0 {
		b.Kind = KindUnknown
		if strings.EqualFold(hdr.Get("Auto-Submitted"), "auto-replied") || strings.Contains(strings.ToLower(hdr.Get("Auto-Submitted")), "auto-replied") {
			b.Kind, b.NotBounce = KindNotBounce, "an automatic reply (auto-responder), not a delivery failure"
		} else {
			b.note("no bounce data found: no delivery-status part and no failed recipient in the text")
		}
		return
	}
	allOK := true
	for _, f := range b.Failures {
		if f.DSNAction != "delivered" && f.DSNAction != "relayed" && f.DSNAction != "expanded" {
			allOK = false
		}
	}
	if allOK {
		b.Kind, b.NotBounce = KindNotBounce, "a delivery notification: the message was "+b.Failures[0].DSNAction
	}
	for i := range b.Failures {
		if ip := findSenderIP(b.Failures[i].Diagnostic); ip != "" && b.SenderIP == "" {
			b.SenderIP = ip
		}
	}
	classifyAll(b)
}

// fillFromRegion completes a failure from the part of the notice about its
// recipient (region, which starts at byte start of notice): the reply, the
// command, the remote MTA.
func fillFromRegion(f *Failure, region string, nc *noticeCtx, start int) {
	notice := nc.text
	whole := region == notice
	if whole {
		// The whole notice, for every recipient not named in it: work on
		// what is computed once (the cost must not be recipients × size).
		region = nc.head()
	}
	f.context = region
	if region == "" {
		return
	}
	if f.Diagnostic == "" {
		var d string
		var r *Reply
		if whole {
			d, r = nc.diagnostic(f.Recipient)
		} else {
			d, r = diagnosticFrom(region, f.Recipient)
		}
		f.Diagnostic = d
		if r != nil {
			f.ReplyCode = r.Code
			if f.Status == "" && !r.Enhanced.IsZero() {
				f.Status = r.Enhanced.String()
			}
		}
		// Sendmail's per-recipient summary "554 <x>... Remote protocol
		// error" hides the real reply: the "<<<" line before it.
		if strings.Contains(strings.ToLower(d), "remote protocol error") && start <= len(notice) {
			if rr, cmd := lastTranscriptReply(notice, start); rr != "" {
				f.Diagnostic = rr
				f.ReplyCode = 0
				if r, ok := FindReply(rr); ok {
					f.ReplyCode = r.Code
				}
				f.Command = cmd
			}
		}
	}
	if f.Command == "" {
		f.Command = nc.command(region, whole)
	}
	if f.RemoteMTA == "" {
		f.RemoteMTA = nc.remoteMTA(region, whole)
	}
}

// noticeCtx holds what is found once in a notice and shared by every
// recipient it does not say more about.
type noticeCtx struct {
	text string

	headDone bool
	headText string

	diagDone bool
	diag     string
	reply    *Reply
	diagHit  bool

	cmdDone, mtaDone bool
	cmd, mta         string
}

// head is the start of the notice the patterns look at.
func (nc *noticeCtx) head() string {
	if !nc.headDone {
		nc.headText, nc.headDone = nc.text, true
		if len(nc.text) > maxMatchText {
			cut := maxMatchText
			for cut > 0 && nc.text[cut]&0xC0 == 0x80 {
				cut--
			}
			nc.headText = nc.text[:cut]
		}
	}
	return nc.headText
}

// diagnostic is diagnosticFrom(notice, addr), computed once: the
// recipient's address is then removed from the (clipped) result.
func (nc *noticeCtx) diagnostic(addr string) (string, *Reply) {
	if !nc.diagDone {
		nc.diagDone = true
		nc.diag, nc.reply = diagnosticFrom(nc.text, "")
		nc.diagHit = matchText(nc.diag) != nil
	}
	d := nc.diag
	if nc.reply == nil || nc.reply.Code == 0 {
		if i := indexFoldAny(d, addr); addr != "" && i >= 0 {
			d = strings.TrimLeft(collapse(d[:i]+d[i+len(addr):]), "<>:\"' ,.-*")
		}
	}
	return d, nc.reply
}

// matches reports whether the shared diagnostic matches a pattern.
func (nc *noticeCtx) matches() bool {
	nc.diagnostic("")
	return nc.diagHit
}

func (nc *noticeCtx) command(region string, whole bool) string {
	if !whole {
		return findCommand(region)
	}
	if !nc.cmdDone {
		nc.cmd, nc.cmdDone = findCommand(region), true
	}
	return nc.cmd
}

func (nc *noticeCtx) remoteMTA(region string, whole bool) string {
	if !whole {
		return findRemoteMTA(region)
	}
	if !nc.mtaDone {
		nc.mta, nc.mtaDone = findRemoteMTA(region), true
	}
	return nc.mta
}

// lastTranscriptReply finds, in a Sendmail transcript, the "<<<" reply
// that precedes a summary line (at byte before), and the command it
// answered.
func lastTranscriptReply(notice string, before int) (reply, command string) {
	block := notice[:before]
	if i := lastIndexFold(block, "while talking to"); i >= 0 {
		block = block[i:]
	}
	i := strings.LastIndex(block, "<<< ")
	if i < 0 {
		return "", ""
	}
	line := block[i+4:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	return strings.TrimSpace(line), findCommand(block[:i])
}
