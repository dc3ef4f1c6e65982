package mx

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/mx/smtpprobe"
)

const smtpCheck = "smtp"

// SMTPOptions tune ProbeMX.
type SMTPOptions struct {
	Port  int               // 0: 25
	Probe smtpprobe.Options // timeouts, roots, HELO name
	// MaxHosts bounds the MX hosts probed (default 10); MaxAddrs the
	// addresses tried per host until one connects (default 2).
	MaxHosts int
	MaxAddrs int
}

// SMTPHost is one MX host and the probes of its addresses, in the order
// tried (IPv4 first); probing stops at the first address that connects.
type SMTPHost struct {
	Name       string              `json:"name"`
	Preference uint16              `json:"preference"`
	Probes     []*smtpprobe.Result `json:"probes"`
}

// Probe is the probe that decides the host's outcome: the first that
// connected, else the last attempted.
func (h *SMTPHost) Probe() *smtpprobe.Result {
	for _, p := range h.Probes {
		if p.Connected {
			return p
		}
	}
	if len(h.Probes) == 0 {
		return nil
	}
	return h.Probes[len(h.Probes)-1]
}

// SMTPResult is the smtp check: what the MX hosts said on port 25.
type SMTPResult struct {
	Domain   string             `json:"domain"`
	Port     int                `json:"port"`
	Hosts    []SMTPHost         `json:"hosts"`
	Findings []findings.Finding `json:"-"`
	skipWhy  string
}

// ProbeMX probes the MX hosts of an analysed domain concurrently.
func ProbeMX(ctx context.Context, an *Result, opts SMTPOptions) *SMTPResult {
	if opts.Port <= 0 {
		opts.Port = smtpprobe.DefaultPort
	}
	if opts.MaxHosts <= 0 {
		opts.MaxHosts = 10
	}
	if opts.MaxAddrs <= 0 {
		opts.MaxAddrs = 2
	}
	res := &SMTPResult{Domain: an.Domain, Port: opts.Port, Hosts: []SMTPHost{}}
	hosts := an.Reachable()
	switch {
	case an.Offline():
		res.skipWhy = "not checked: --offline and the domain is in no --zone file"
	case an.NullMX:
		res.skipWhy = "null MX: the domain accepts no mail, nothing to probe"
	case an.Err != nil:
		res.skipWhy = "not checked: the MX records could not be looked up"
	case len(hosts) == 0:
		res.skipWhy = "no MX host with an address to probe"
	}
	if res.skipWhy != "" {
		return res
	}
	if len(hosts) > opts.MaxHosts {
		hosts = hosts[:opts.MaxHosts]
	}
	res.Hosts = make([]SMTPHost, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		res.Hosts[i] = SMTPHost{Name: h.Name, Preference: h.Preference, Probes: []*smtpprobe.Result{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := h.Name
			if h.Status == HostIPLiteral {
				name = ""
			}
			ps := smtpprobe.ProbeAddrs(ctx, name, h.Addrs, opts.Port, opts.MaxAddrs, opts.Probe)
			res.Hosts[i].Probes = append(res.Hosts[i].Probes, ps...)
		}()
	}
	wg.Wait()
	res.Findings = smtpFindings(res)
	for i := range res.Findings {
		res.Findings[i].Check = smtpCheck
	}
	return res
}

func where(p *smtpprobe.Result, name string) string {
	if p == nil {
		return name
	}
	return fmt.Sprintf("%s [%s]:%d", name, p.Addr, p.Port)
}

// smtpFindings judges the probes. Status rules (docs/contracts.md): a server that
// answers and refuses, breaks the protocol or breaks STARTTLS is a fail; a
// server that cannot be reached at all is an error (from here it cannot be
// told whether the server is down or this network blocks port 25); warnings
// for what works but puts mail at risk.
func smtpFindings(res *SMTPResult) []findings.Finding {
	var fs []findings.Finding
	reached, silent := 0, 0
	var unreachable []string
	for i := range res.Hosts {
		if p := res.Hosts[i].Probe(); p != nil && p.Reached() {
			reached++
		}
	}
	for i := range res.Hosts {
		h := &res.Hosts[i]
		p := h.Probe()
		if p == nil {
			continue
		}
		at := where(p, h.Name)
		switch {
		case !p.Connected || (p.Greeting == nil && p.Failure != smtpprobe.FailProtocol):
			var errs []string
			for _, q := range h.Probes {
				if q.Connected && q.Greeting == nil {
					// TCP worked; the server never spoke.
					silent++
					errs = append(errs, fmt.Sprintf("%s [%s]:%d: connected, no greeting within %s: %s", h.Name, q.Addr, q.Port, waited(q), q.Error))
					continue
				}
				errs = append(errs, fmt.Sprintf("%s [%s]:%d: %s", h.Name, q.Addr, q.Port, q.Error))
			}
			unreachable = append(unreachable, errs...)
			continue
		case p.Failure == smtpprobe.FailProtocol && p.TLSError == "":
			fs = append(fs, findings.Finding{
				ID: "smtp.protocol-error", Severity: findings.SeverityFail,
				Title:       fmt.Sprintf("%s broke the SMTP protocol: %s", at, p.Error),
				Detail:      "Sending MTAs give up on a server whose replies they cannot parse (over-long lines, endless multi-line replies, non-SMTP data): mail is deferred and eventually bounced. A middlebox (firewall \"SMTP fixup\", load balancer) in front of the server is a common cause.",
				Evidence:    transcript(p),
				BounceCodes: []string{"4.4.2", "5.5.0", "5.4.7"},
				Fix:         "Check what answers on port 25 (e.g. `openssl s_client -starttls smtp` or telnet) and remove whatever mangles the dialogue.",
				Refs:        []string{"RFC 5321 4.2", "RFC 5321 4.5.3.1.5"},
			})
			continue
		case p.Greeting != nil && p.Greeting.Code != 220:
			sev := findings.SeverityWarn
			if p.Greeting.Permanent() && reached == 0 {
				sev = findings.SeverityFail
			}
			codes := []string{"4.3.2", "4.4.5"}
			if p.Greeting.Permanent() {
				codes = []string{"5.7.1", "5.3.2"}
			}
			if e := p.Greeting.Enhanced; e != "" && !containsStr(codes, e) {
				codes = append([]string{e}, codes...)
			}
			fs = append(fs, findings.Finding{
				ID: "smtp.greeting-refused", Severity: sev,
				Title:       fmt.Sprintf("%s refused the connection with %d instead of a 220 greeting", at, p.Greeting.Code),
				Detail:      "A 554 greeting means \"no SMTP service here\" (RFC 5321 3.1), a 421 \"not now\". Either can be aimed at the address this probe ran from (a blocklist, a rate limit), so compare with a probe from your real sending host.",
				Evidence:    []string{"greeting: " + p.Greeting.String()},
				BounceCodes: codes,
				Fix:         "If the refusal is meant for everyone, fix the server (it is overloaded, misconfigured or retired); if it is meant for this network, no action is needed for mail from elsewhere.",
				Refs:        []string{"RFC 5321 3.1", "RFC 5321 4.3.2"},
			})
			continue
		case p.Failure == smtpprobe.FailHello:
			sev := findings.SeverityFail
			if p.EHLO != nil && p.EHLO.Transient() {
				sev = findings.SeverityWarn
			}
			fs = append(fs, findings.Finding{
				ID: "smtp.hello-refused", Severity: sev,
				Title:       fmt.Sprintf("%s refused both EHLO and HELO", at),
				Detail:      "Without a successful EHLO or HELO no mail transaction can start. Servers refuse HELO names they consider invalid; this probe announced " + p.HELOName + ".",
				Evidence:    transcript(p),
				BounceCodes: []string{"5.5.1", "5.7.1"},
				Fix:         "Check the server's HELO restrictions; RFC 5321 4.1.4 asks servers not to refuse a session because of the HELO name alone.",
				Refs:        []string{"RFC 5321 4.1.1.1", "RFC 5321 4.1.4"},
			})
			continue
		}
		if p.HELOFallback {
			fs = append(fs, findings.Finding{
				ID: "smtp.no-esmtp", Severity: findings.SeverityWarn,
				Title:       fmt.Sprintf("%s does not speak ESMTP: EHLO was refused, only HELO works", at),
				Detail:      "Without EHLO there are no extensions: no STARTTLS (mail arrives unencrypted, and senders that require TLS cannot deliver), no SIZE, no 8BITMIME, no SMTPUTF8.",
				Evidence:    transcript(p),
				BounceCodes: []string{"4.7.4", "5.6.7"},
				Fix:         "Replace or upgrade the server (or the middlebox that filters EHLO); every current MTA supports EHLO.",
				Refs:        []string{"RFC 5321 4.1.1.1", "RFC 3207"},
			})
		}
		fs = append(fs, tlsFindings(h, p, at)...)
		if p.Failure != "" && p.TLSError == "" && p.Failure != smtpprobe.FailProtocol {
			fs = append(fs, findings.Finding{
				ID: "smtp.dialogue-failed", Severity: findings.SeverityWarn,
				Title:       fmt.Sprintf("%s stopped answering after the greeting: %s", at, p.Error),
				Evidence:    transcript(p),
				BounceCodes: []string{"4.4.2"},
				Fix:         "Check the server's logs for this session; timeouts after EHLO often mean a slow DNS lookup or a content filter on the server.",
				Refs:        []string{"RFC 5321 4.5.3.2"},
			})
		}
	}
	if len(unreachable) > 0 {
		if reached == 0 && len(fs) == 0 {
			title := fmt.Sprintf("could not connect to any MX host of %s on port %d", res.Domain, res.Port)
			detail := "Every connection was refused or timed out. That is either the servers (down, firewalled: senders defer and bounce after days) or the network this ran from: many ISPs and cloud providers block outgoing port 25. Run the probe from a host that can send mail."
			if silent == len(unreachable) {
				title = fmt.Sprintf("connected to the MX hosts of %s on port %d, but none sent a greeting", res.Domain, res.Port)
				detail = "The TCP connections succeeded, so the network path is open, but no server sent its 220 banner in time. An overloaded or hung MTA, a tarpit, or a middlebox that accepts the connection and forwards nothing does this; senders defer and bounce after days."
			} else if silent > 0 {
				title = fmt.Sprintf("no MX host of %s on port %d greeted: some refused or timed out, some connected and stayed silent", res.Domain, res.Port)
			}
			fs = append(fs, findings.Finding{
				ID: "smtp.unreachable", Severity: findings.SeverityError,
				Title:       title,
				Detail:      detail,
				Evidence:    unreachable,
				BounceCodes: []string{"4.4.1", "4.4.2", "5.4.7"},
				Fix:         "Check that the MX hosts listen on port 25 and that their firewall admits the internet.",
				Refs:        []string{"RFC 5321 4.5.4.1"},
			})
		} else {
			sev := findings.SeverityWarn
			if reached == 0 {
				sev = findings.SeverityError
			}
			fs = append(fs, findings.Finding{
				ID: "smtp.host-unreachable", Severity: sev,
				Title:       fmt.Sprintf("%d MX host(s) of %s did not answer on port %d", hostsIn(unreachable), res.Domain, res.Port),
				Detail:      "Senders move on to the next MX host, so mail still arrives if another host works, but each delivery waits for the dead one first (RFC 5321 5.1).",
				Evidence:    unreachable,
				BounceCodes: []string{"4.4.1"},
				Fix:         "Bring the host back or remove its MX record.",
				Refs:        []string{"RFC 5321 5.1"},
			})
		}
	}
	return fs
}

// waited is how long a probe waited, rounded to the second ("10s").
func waited(p *smtpprobe.Result) string {
	return (time.Duration(p.DurationMS) * time.Millisecond).Round(time.Second).String()
}

func hostsIn(lines []string) int {
	seen := map[string]bool{}
	for _, l := range lines {
		n, _, _ := strings.Cut(l, " ")
		seen[n] = true
	}
	return len(seen)
}

// tlsFindings judges STARTTLS and the certificate of one reached host.
func tlsFindings(h *SMTPHost, p *smtpprobe.Result, at string) []findings.Finding {
	var fs []findings.Finding
	switch {
	case p.TLSError != "":
		return append(fs, findings.Finding{
			ID: "smtp.starttls-failed", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("%s offers STARTTLS but it does not work: %s", at, p.TLSError),
			Detail:      "Senders that try TLS fail here: some fall back to plaintext, others (MTA-STS, DANE, providers that require TLS) defer the mail and eventually bounce it.",
			Evidence:    transcript(p),
			BounceCodes: []string{"4.7.5", "4.7.0", "4.4.317"},
			Fix:         "Check the server's TLS configuration (certificate and key files readable, protocol versions, ciphers); test with `openssl s_client -starttls smtp -connect " + h.Name + ":25`.",
			Refs:        []string{"RFC 3207 4", "RFC 7435"},
		})
	case !p.StartTLSOffered && !p.HELOFallback:
		return append(fs, findings.Finding{
			ID: "smtp.no-starttls", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("%s does not offer STARTTLS: mail to it travels unencrypted", at),
			Detail:      "Senders that require TLS (MTA-STS \"enforce\", DANE, TLS-required policies) cannot deliver: \"TLS is required, but was not offered\" (4.7.4). If these hosts also send the domain's mail, Gmail rate-limits and then rejects mail not sent over TLS (421 4.7.29, 550 5.7.29).",
			Evidence:    []string{"EHLO: " + strings.Join(p.Extensions, ", ")},
			BounceCodes: []string{"4.7.4", "4.7.29", "5.7.29"},
			Fix:         "Enable STARTTLS with a certificate for " + h.Name + " (e.g. Postfix: smtpd_tls_cert_file, smtpd_tls_key_file, smtpd_tls_security_level = may).",
			Refs:        []string{"RFC 3207", "RFC 8461", "RFC 8314"},
		})
	case p.TLS == nil:
		return fs
	}
	ti := p.TLS
	certEv := []string{fmt.Sprintf("%s, %s", ti.Version, ti.Cipher)}
	if len(ti.Chain) > 0 {
		c := ti.Chain[0]
		certEv = append(certEv, fmt.Sprintf("certificate: %s, issued by %s, names %s, valid %s to %s",
			c.Subject, c.Issuer, strings.Join(c.DNSNames, " "), c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02")))
	}
	certCodes := []string{"4.7.5", "4.7.320", "4.4.317"}
	switch {
	case ti.Expired:
		fs = append(fs, findings.Finding{
			ID: "smtp.cert-expired", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("the certificate of %s expired on %s", at, ti.NotAfter.Format("2006-01-02")),
			Detail:      "Senders that verify certificates (MTA-STS, Microsoft 365 and Exchange connectors, TLS policies) defer mail and bounce it after their retry period; an expired certificate also shows that renewal has stopped.",
			Evidence:    certEv,
			BounceCodes: certCodes,
			Fix:         "Renew the certificate (check the ACME/certbot renewal job) and reload the mail server so it serves the new one.",
			Refs:        []string{"RFC 8461 4.2", "RFC 5280 4.1.2.5"},
		})
	case ti.NotYetValid:
		fs = append(fs, findings.Finding{
			ID: "smtp.cert-not-yet-valid", Severity: findings.SeverityFail,
			Title:       fmt.Sprintf("the certificate of %s is not valid before %s", at, ti.NotBefore.Format("2006-01-02 15:04 MST")),
			Detail:      "Verifying senders refuse it until then; check the server's clock and the certificate's dates.",
			Evidence:    certEv,
			BounceCodes: certCodes,
			Fix:         "Serve a certificate that is valid now; check the clock of the machine that issued it.",
			Refs:        []string{"RFC 5280 4.1.2.5"},
		})
	case ti.DaysLeft < smtpprobe.ExpiryWarnDays:
		fs = append(fs, findings.Finding{
			ID: "smtp.cert-expiring", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the certificate of %s expires in %d day(s), on %s", at, ti.DaysLeft, ti.NotAfter.Format("2006-01-02")),
			Detail:      fmt.Sprintf("Automated renewal normally replaces certificates 30 days ahead; fewer than %d days left suggests it is failing.", smtpprobe.ExpiryWarnDays),
			Evidence:    certEv,
			BounceCodes: certCodes,
			Fix:         "Renew the certificate now and reload the mail server.",
			Refs:        []string{"RFC 5280 4.1.2.5"},
		})
	}
	if !ti.Trusted && !ti.ChainOKIgnoringTime {
		fs = append(fs, findings.Finding{
			ID: "smtp.cert-untrusted", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the certificate of %s does not chain to a trusted root: %s", at, ti.TrustError),
			Detail:      "Opportunistic TLS still encrypts, but senders that verify (MTA-STS \"enforce\", Microsoft 365 TLS connectors, verify/secure TLS policies) defer mail to this host.",
			Evidence:    certEv,
			BounceCodes: certCodes,
			Fix:         "Serve a certificate from a public CA (e.g. Let's Encrypt) together with its intermediate certificates (the full chain file).",
			Refs:        []string{"RFC 8461 4.2", "RFC 6125"},
		})
	}
	if !ti.NameMatch && p.Host != "" { // an IP-literal MX has no name to match (and fails in the mx check)
		names := ""
		if len(ti.Chain) > 0 {
			names = strings.Join(ti.Chain[0].DNSNames, ", ")
		}
		fs = append(fs, findings.Finding{
			ID: "smtp.cert-name-mismatch", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("the certificate of %s is not valid for the name %s (it names %s)", at, h.Name, orNone(names)),
			Detail:      "Senders that verify match the certificate against the MX host name (RFC 7672 for DANE, RFC 8461 4.2 for MTA-STS); a mismatch makes them defer mail. Microsoft 365 reports it as 4.7.320 SubjectMismatch.",
			Evidence:    certEv,
			BounceCodes: certCodes,
			Fix:         fmt.Sprintf("Issue the certificate for %s (add it to the subject alternative names), or point the MX at a name the certificate covers.", h.Name),
			Refs:        []string{"RFC 8461 4.2", "RFC 6125 6.4"},
		})
	}
	if ti.Version == "TLS 1.0" || ti.Version == "TLS 1.1" || strings.HasPrefix(ti.Version, "SSL") {
		fs = append(fs, findings.Finding{
			ID: "smtp.tls-old-version", Severity: findings.SeverityWarn,
			Title:       fmt.Sprintf("%s negotiated %s at best", at, ti.Version),
			Detail:      "RFC 8996 deprecates TLS 1.0 and 1.1; current senders refuse them at their default settings and fall back to plaintext or defer mail.",
			Evidence:    certEv,
			BounceCodes: []string{"4.7.5"},
			Fix:         "Enable TLS 1.2 and 1.3 on the mail server.",
			Refs:        []string{"RFC 8996", "RFC 7525"},
		})
	}
	return fs
}

func orNone(s string) string {
	if s == "" {
		return "no DNS names"
	}
	return s
}

// transcript is the probe's dialogue as evidence lines.
func transcript(p *smtpprobe.Result) []string {
	var ev []string
	for _, s := range p.Steps {
		ev = append(ev, s.String())
		if len(ev) >= 12 {
			break
		}
	}
	return ev
}

// CheckResult turns the probes into the smtp check's result.
func (r *SMTPResult) CheckResult() findings.CheckResult {
	cr := findings.CheckResult{Name: smtpCheck, Data: r, Findings: r.Findings}
	if r.skipWhy != "" {
		cr.Status, cr.Summary = findings.StatusSkip, r.skipWhy
		return cr
	}
	cr.Status = findings.StatusFromFindings(r.Findings)
	reached, tls := 0, 0
	var versions []string
	for i := range r.Hosts {
		p := r.Hosts[i].Probe()
		if p == nil || !p.Reached() {
			continue
		}
		reached++
		if p.TLS != nil {
			tls++
			if !containsStr(versions, p.TLS.Version) {
				versions = append(versions, p.TLS.Version)
			}
		}
	}
	cr.Summary = fmt.Sprintf("%d of %d MX host(s) answered on port %d", reached, len(r.Hosts), r.Port)
	if reached > 0 {
		cr.Summary += fmt.Sprintf(", STARTTLS on %d", tls)
		if len(versions) > 0 {
			cr.Summary += " (" + strings.Join(versions, ", ") + ")"
		}
	}
	return cr
}
