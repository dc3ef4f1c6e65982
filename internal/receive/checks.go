package receive

import (
	"crypto/tls"
	"fmt"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
)

// RBLData is the rbl check's data: the client IP on the IP lists and the
// link domains on the domain lists.
type RBLData struct {
	IP    *rbl.Report   `json:"ip,omitempty"`
	Links []*rbl.Report `json:"links"`
}

func rblCheck(ip *rbl.Report, links []*rbl.Report, domains []string) findings.CheckResult {
	res := findings.CheckResult{Name: "rbl", Data: &RBLData{IP: ip, Links: links}}
	var sts []findings.Status
	listed := 0
	if ip != nil {
		res.Findings = append(res.Findings, ip.Findings...)
		sts = append(sts, ip.Status)
		res.Summary = ip.Summary
	}
	for i, l := range links {
		if l == nil {
			continue
		}
		for _, f := range l.Findings {
			f.Check = "rbl"
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s is linked from the message", domains[i]))
			res.Findings = append(res.Findings, f)
		}
		sts = append(sts, l.Status)
		if l.Counts.Listed > 0 {
			listed++
		}
	}
	if len(links) > 0 {
		s := fmt.Sprintf("%d link domain(s) checked, %d listed", len(links), listed)
		if res.Summary != "" {
			s = res.Summary + "; " + s
		}
		res.Summary = s
	}
	if ip == nil && len(links) == 0 {
		res.Status, res.Summary = findings.StatusSkip, "no client IP and no links"
		return res
	}
	res.Status = findings.Worst(append(sts, findings.StatusFromFindings(res.Findings))...)
	return res
}

// listedIP reports whether the client IP is on a list.
func listedIP(rep *Report) (zones []string) {
	for _, c := range rep.Checks {
		if c.Name != "rbl" {
			continue
		}
		d, _ := c.Data.(*RBLData)
		if d == nil || d.IP == nil {
			return nil
		}
		for _, r := range d.IP.Results {
			if r.Status == rbl.StatusListed {
				zones = append(zones, r.Zone)
			}
		}
	}
	return zones
}

// TLSVersionName names a TLS version ("TLS 1.3").
func TLSVersionName(v uint16) string { return tls.VersionName(v) }

func tlsCheck(t TLSInfo) findings.CheckResult {
	res := findings.CheckResult{Name: "tls", Data: t}
	var fs []findings.Finding
	switch {
	case !t.Used:
		fs = append(fs, findings.Finding{ID: "tls.not-used", Check: "tls", Severity: findings.SeverityWarn,
			Title:  "the message came without TLS (no STARTTLS)",
			Detail: "Gmail asks all senders to use TLS and shows mail received in clear with a red open padlock; MTA-STS and DANE receivers refuse to take it in clear.",
			Fix:    "Enable opportunistic TLS in the sending MTA (Postfix: smtp_tls_security_level = may) and make sure the STARTTLS handshake succeeds.",
			Refs:   []string{"RFC 3207", "RFC 8461"}})
		res.Summary = "no TLS"
	case t.Version == "TLS 1.0" || t.Version == "TLS 1.1" || t.Version == "SSL 3.0":
		fs = append(fs, findings.Finding{ID: "tls.old-version", Check: "tls", Severity: findings.SeverityWarn,
			Title: fmt.Sprintf("the client negotiated %s, which is deprecated", t.Version),
			Fix:   "Allow TLS 1.2 and 1.3 in the sending MTA.", Refs: []string{"RFC 8996"}})
		res.Summary = t.Version + " " + t.Cipher
	default:
		res.Summary = t.Version + " " + t.Cipher
	}
	res.Findings = fs
	res.Status = findings.StatusFromFindings(fs)
	return res
}
