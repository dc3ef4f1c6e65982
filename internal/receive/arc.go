package receive

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
)

// ARCStatus is an ARC result (RFC 8617 4.4): of the chain (none, pass,
// fail), of one seal or message signature (pass, fail, permerror,
// temperror, not-checked), and a seal's cv= as written.
type ARCStatus string

// ARC statuses.
const (
	ARCNone       ARCStatus = "none"
	ARCPass       ARCStatus = "pass"
	ARCFail       ARCStatus = "fail"
	ARCPermError  ARCStatus = "permerror"
	ARCTempError  ARCStatus = "temperror"
	ARCNotChecked ARCStatus = "not-checked" // only the newest AMS is checked (RFC 8617 5.2 step 5)
)

// maxARCInstances is RFC 8617 4.2.1's limit on i=.
const maxARCInstances = 50

// ARCSet is one instance of the chain.
type ARCSet struct {
	Instance int       `json:"instance"`
	Domain   string    `json:"domain,omitempty"`   // d= of the seal
	Selector string    `json:"selector,omitempty"` // s= of the seal
	CV       ARCStatus `json:"cv,omitempty"`       // the seal's chain validation status
	// AAR is the ARC-Authentication-Results of this hop, as written.
	AAR string `json:"aar,omitempty"`
	// SealResult / AMSResult: pass, fail, permerror, temperror or
	// not-checked (only the newest AMS is checked, RFC 8617 5.2 step 5).
	SealResult ARCStatus `json:"seal_result"`
	AMSResult  ARCStatus `json:"ams_result"`
	Reason     string    `json:"reason,omitempty"`
}

// ARCResult is the validation of the ARC chain (RFC 8617 5.2).
type ARCResult struct {
	Present bool      `json:"present"`
	Result  ARCStatus `json:"result"` // none, pass, fail
	Reason  string    `json:"reason,omitempty"`
	Sets    []*ARCSet `json:"sets"`
	// Oldest pass: the lowest instance whose AMS would still validate is
	// not computed; see docs/receive.md.
}

type arcFields struct {
	aar, ams, as *dkim.Field
}

var instanceRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:^|;)\s*i\s*=\s*([0-9]+)\s*(?:;|$)`) })

// VerifyARC validates the message's ARC chain: structure (every instance
// 1..N has exactly one ARC-Seal, ARC-Message-Signature and
// ARC-Authentication-Results; cv= none for 1, pass above), the newest
// ARC-Message-Signature and every ARC-Seal, with keys looked up through r.
func VerifyARC(ctx context.Context, r dnsx.Resolver, msg []byte, fields []dkim.Field) *ARCResult {
	res := &ARCResult{Result: ARCNone, Sets: []*ARCSet{}}
	sets := map[int]*arcFields{}
	max := 0
	fail := func(why string) *ARCResult {
		res.Result, res.Reason = ARCFail, why
		return res
	}
	for i := range fields {
		f := &fields[i]
		var slot **dkim.Field
		name := strings.ToLower(f.Name)
		if name != "arc-seal" && name != "arc-message-signature" && name != "arc-authentication-results" {
			continue
		}
		res.Present = true
		m := instanceRe().FindStringSubmatch(f.Value)
		if name == "arc-authentication-results" {
			// "i=N; authserv-id; results": the instance tag comes first.
			m = regexp.MustCompile(`^\s*i\s*=\s*([0-9]+)\s*;`).FindStringSubmatch(f.Value)
		}
		if m == nil {
			return fail(fmt.Sprintf("an %s field has no valid i= tag", f.Name))
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > maxARCInstances {
			return fail(fmt.Sprintf("an %s field has i=%s, outside 1..%d", f.Name, m[1], maxARCInstances))
		}
		s := sets[n]
		if s == nil {
			s = &arcFields{}
			sets[n] = s
		}
		switch name {
		case "arc-seal":
			slot = &s.as
		case "arc-message-signature":
			slot = &s.ams
		default:
			slot = &s.aar
		}
		if *slot != nil {
			return fail(fmt.Sprintf("instance %d has more than one %s", n, f.Name))
		}
		*slot = f
		max = maxInt(max, n)
	}
	if !res.Present {
		return res
	}
	for i := 1; i <= max; i++ {
		s := sets[i]
		if s == nil || s.aar == nil || s.ams == nil || s.as == nil {
			return fail(fmt.Sprintf("instance %d of %d is incomplete: an ARC set needs ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results", i, max))
		}
		set := &ARCSet{Instance: i, AAR: s.aar.Value, SealResult: ARCNotChecked, AMSResult: ARCNotChecked}
		tags, err := dkim.ParseTagList(s.as.Value)
		if err != nil {
			res.Sets = append(res.Sets, set)
			return fail(fmt.Sprintf("ARC-Seal i=%d: %v", i, err))
		}
		set.Domain, set.Selector, set.CV = strings.ToLower(tag(tags, "d")), tag(tags, "s"), ARCStatus(strings.ToLower(tag(tags, "cv")))
		res.Sets = append(res.Sets, set)
	}
	// RFC 8617 5.2 step 2: the newest seal's cv decides first.
	if newest := res.Sets[max-1]; newest.CV == ARCFail {
		return fail(fmt.Sprintf("the newest ARC-Seal (i=%d, d=%s) says cv=fail: a hop found the chain broken", max, newest.Domain))
	}
	for _, set := range res.Sets {
		want := ARCPass
		if set.Instance == 1 {
			want = ARCNone
		}
		if set.CV != want {
			return fail(fmt.Sprintf("ARC-Seal i=%d has cv=%s; it must be %s", set.Instance, set.CV, want))
		}
	}
	// Step 5: the newest AMS must validate.
	newest := res.Sets[max-1]
	newest.AMSResult, newest.Reason = verifyAMS(ctx, r, msg, fields, sets[max].ams)
	if newest.AMSResult != ARCPass {
		return fail(fmt.Sprintf("the newest ARC-Message-Signature (i=%d) does not verify: %s", max, newest.Reason))
	}
	// Step 6: every seal, newest first.
	for i := max; i >= 1; i-- {
		set := res.Sets[i-1]
		set.SealResult, set.Reason = verifySeal(ctx, r, sets, i)
		if set.SealResult != ARCPass {
			return fail(fmt.Sprintf("ARC-Seal i=%d (d=%s) does not verify: %s", i, set.Domain, set.Reason))
		}
	}
	res.Result = ARCPass
	return res
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func tag(tags []dkim.Tag, name string) string {
	for _, t := range tags {
		if t.Name == name {
			return t.Value
		}
	}
	return ""
}

// relaxedHeader is RFC 6376 3.4.2 relaxed header canonicalization of one
// field (with CRLF).
func relaxedHeader(f *dkim.Field) string {
	raw := f.Raw
	name, value, _ := strings.Cut(raw, ":")
	value = strings.ReplaceAll(value, "\r\n", "")
	value = strings.ReplaceAll(value, "\n", "")
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	name = strings.NewReplacer("\r", "", "\n", "").Replace(name)
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + strings.TrimSpace(value) + "\r\n"
}

var bTagRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(^|;)(\s*b\s*=)[^;]*`) })

// withoutB empties the b= tag's value, as signers hash the field
// (RFC 6376 3.7, RFC 8617 4.1.2/4.1.3).
func withoutB(f *dkim.Field) *dkim.Field {
	name, value, _ := strings.Cut(f.Raw, ":")
	return &dkim.Field{Name: f.Name, Raw: name + ":" + bTagRe().ReplaceAllString(value, "$1$2")}
}

// body canonicalization (RFC 6376 3.4.3, 3.4.4).
func canonBody(body []byte, relaxed bool) []byte {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	lines := bytes.Split(body, []byte("\n"))
	var out bytes.Buffer
	for _, l := range lines {
		if relaxed {
			l = relaxLine(l)
		}
		out.Write(l)
		out.WriteString("\r\n")
	}
	b := out.Bytes()
	for bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		b = b[:len(b)-2]
	}
	if bytes.Equal(b, []byte("\r\n")) {
		if relaxed {
			return nil
		}
		return b
	}
	return b
}

// relaxLine reduces WSP runs to one SP and drops WSP at the end
// (RFC 6376 3.4.4).
func relaxLine(l []byte) []byte {
	var out []byte
	space := false
	for _, c := range l {
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, c)
	}
	return out
}

func keyFor(ctx context.Context, r dnsx.Resolver, selector, domain string) (crypto.PublicKey, ARCStatus, string) {
	kr, err := dkim.Lookup(ctx, r, selector, domain)
	switch {
	case err != nil && dnsx.IsTemporary(err):
		return nil, ARCTempError, "key lookup failed: " + err.Error()
	case err != nil:
		return nil, ARCPermError, "no usable key at " + dkim.KeyName(selector, domain) + ": " + err.Error()
	case kr == nil || kr.Key == nil || kr.Key.PublicKey == nil:
		return nil, ARCPermError, "no usable key at " + dkim.KeyName(selector, domain)
	}
	return kr.Key.PublicKey, "", ""
}

func verifySig(pub crypto.PublicKey, alg string, data []byte, sig []byte) error {
	var h hash.Hash
	var ch crypto.Hash
	switch {
	case strings.HasSuffix(alg, "sha256"):
		h, ch = sha256.New(), crypto.SHA256
	case strings.HasSuffix(alg, "sha1"):
		h, ch = sha1.New(), crypto.SHA1
	default:
		return fmt.Errorf("unknown algorithm %q", alg)
	}
	h.Write(data)
	sum := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "rsa-") {
			return fmt.Errorf("a=%s with an RSA key", alg)
		}
		return rsa.VerifyPKCS1v15(k, ch, sum, sig)
	case ed25519.PublicKey:
		if alg != "ed25519-sha256" {
			return fmt.Errorf("a=%s with an Ed25519 key", alg)
		}
		if !ed25519.Verify(k, sum, sig) {
			return fmt.Errorf("signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported key type")
}

func decodeB64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

// verifyAMS verifies an ARC-Message-Signature like a DKIM signature
// (RFC 8617 4.1.2): body hash, then the listed header fields (bottom-most
// first per name) and the AMS itself without b=.
func verifyAMS(ctx context.Context, r dnsx.Resolver, msg []byte, fields []dkim.Field, ams *dkim.Field) (ARCStatus, string) {
	tags, err := dkim.ParseTagList(ams.Value)
	if err != nil {
		return ARCPermError, err.Error()
	}
	alg, d, s, c := tag(tags, "a"), tag(tags, "d"), tag(tags, "s"), tag(tags, "c")
	if alg == "" || d == "" || s == "" || tag(tags, "bh") == "" || tag(tags, "b") == "" || tag(tags, "h") == "" {
		return ARCPermError, "a required tag (a, b, bh, d, h, s) is missing"
	}
	hc, bc, _ := strings.Cut(strings.ToLower(c), "/")
	if hc == "" {
		hc = "simple"
	}
	if bc == "" {
		bc = "simple"
	}
	if hc != "relaxed" {
		return ARCPermError, "only relaxed header canonicalization is verified here (c=" + c + ")"
	}
	_, body, _ := dkim.SplitHeader(msg)
	cb := canonBody(body, bc == "relaxed")
	var bh []byte
	if strings.HasSuffix(alg, "sha1") {
		x := sha1.Sum(cb)
		bh = x[:]
	} else {
		x := sha256.Sum256(cb)
		bh = x[:]
	}
	want, err := decodeB64(tag(tags, "bh"))
	if err != nil || !bytes.Equal(want, bh) {
		return ARCFail, "body hash does not match (the body changed after this hop signed it)"
	}
	var data strings.Builder
	used := map[int]bool{}
	for _, name := range strings.Split(tag(tags, "h"), ":") {
		name = strings.TrimSpace(name)
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].Name, name) {
				used[i] = true
				data.WriteString(relaxedHeader(&fields[i]))
				break
			}
		}
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(withoutB(ams)), "\r\n"))
	pub, st, why := keyFor(ctx, r, s, d)
	if pub == nil {
		return st, why
	}
	sig, err := decodeB64(tag(tags, "b"))
	if err != nil {
		return ARCPermError, "b= is not base64"
	}
	if err := verifySig(pub, alg, []byte(data.String()), sig); err != nil {
		return ARCFail, "signature does not verify: " + err.Error()
	}
	return ARCPass, ""
}

// verifySeal verifies the ARC-Seal of instance n (RFC 8617 4.1.3, 5.1.1):
// over every set 1..n in order AAR, AMS, AS, with the n-th seal's b=
// emptied, relaxed canonicalization.
func verifySeal(ctx context.Context, r dnsx.Resolver, sets map[int]*arcFields, n int) (ARCStatus, string) {
	as := sets[n].as
	tags, err := dkim.ParseTagList(as.Value)
	if err != nil {
		return ARCPermError, err.Error()
	}
	alg, d, s := tag(tags, "a"), tag(tags, "d"), tag(tags, "s")
	if alg == "" || d == "" || s == "" || tag(tags, "b") == "" {
		return ARCPermError, "a required tag (a, b, d, s) is missing"
	}
	var data strings.Builder
	for i := 1; i <= n; i++ {
		data.WriteString(relaxedHeader(sets[i].aar))
		data.WriteString(relaxedHeader(sets[i].ams))
		if i < n {
			data.WriteString(relaxedHeader(sets[i].as))
		}
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(withoutB(as)), "\r\n"))
	pub, st, why := keyFor(ctx, r, s, d)
	if pub == nil {
		return st, why
	}
	sig, err := decodeB64(tag(tags, "b"))
	if err != nil {
		return ARCPermError, "b= is not base64"
	}
	if err := verifySig(pub, alg, []byte(data.String()), sig); err != nil {
		return ARCFail, err.Error()
	}
	return ARCPass, ""
}

// CheckResult is the arc check.
func (a *ARCResult) CheckResult() findings.CheckResult {
	res := findings.CheckResult{Name: "arc", Data: a}
	switch a.Result {
	case ARCPass:
		res.Status = findings.StatusPass
		res.Summary = fmt.Sprintf("chain of %d instance(s) validates", len(a.Sets))
		res.Findings = []findings.Finding{{ID: "arc.pass", Check: "arc", Severity: findings.SeverityInfo,
			Title:  res.Summary,
			Detail: "Receivers may use the oldest hop's ARC-Authentication-Results to override a DMARC failure caused by that forwarder (RFC 8617 7.2); they decide whether they trust the sealers.",
			Refs:   []string{"RFC 8617 5.2"}}}
	case ARCFail:
		res.Status = findings.StatusWarn
		res.Summary = "chain fails: " + a.Reason
		res.Findings = []findings.Finding{{ID: "arc.fail", Check: "arc", Severity: findings.SeverityWarn,
			Title:  "the ARC chain does not validate: " + a.Reason,
			Detail: "A broken chain gives receivers no evidence about earlier hops; DMARC is judged on this hop alone.",
			Fix:    "If you forward or run a mailing list, seal with ARC after every change to the message and publish the sealing key.",
			Refs:   []string{"RFC 8617 5.2"}}}
	default:
		res.Status, res.Summary = findings.StatusSkip, "no ARC headers"
	}
	return res
}
