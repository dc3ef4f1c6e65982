// Package httpsfetch fetches one small document over HTTPS the way mail
// standards that publish policy on the web require it (MTA-STS policies,
// RFC 8461 3.3; BIMI indicators and mark certificates): host names are
// resolved through the injected dnsx.Resolver (so --zone, --trace and the
// per-run cache apply and no package calls net.Lookup*), redirects are not
// followed but reported, the body is read up to a limit, the whole exchange
// has a deadline, and a certificate problem comes back as the specific
// x509 error with the certificates the server presented.
package httpsfetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
)

// Options configure one fetch. The zero value (plus a Resolver) fetches
// with the system's roots, a 10 s deadline and a 64 KiB limit.
type Options struct {
	// Resolver resolves the URL's host (required unless the host is an IP
	// address literal).
	Resolver dnsx.Resolver
	// Timeout bounds the whole exchange: lookup, connect, TLS, headers and
	// body (default 10s).
	Timeout time.Duration
	// MaxBytes is the most body bytes read; more sets Response.Truncated
	// (default 64 KiB).
	MaxBytes int64
	// RootCAs verify the server certificate; nil means the system roots.
	// Tests use a pool holding their own CA.
	RootCAs *x509.CertPool
	// ServerName is the name the certificate must be valid for and the SNI
	// sent; empty means the URL's host. It lets a caller fetch from a test
	// or staging address while still verifying the name the standard
	// requires (e.g. mta-sts.example.com).
	ServerName string
	// Dial, when set, replaces the TCP dialer (addr is "ip:port").
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Accept is sent as the Accept header when set.
	Accept string
}

// Response is what the server answered.
type Response struct {
	URL         string   `json:"url"`
	Addr        string   `json:"addr"` // the address connected to, ip:port
	StatusCode  int      `json:"status_code"`
	ContentType string   `json:"content_type,omitempty"`
	Location    string   `json:"location,omitempty"` // the redirect target of a 3xx answer (not followed)
	Body        []byte   `json:"-"`
	Size        int      `json:"size"`      // body bytes read (at most MaxBytes)
	Truncated   bool     `json:"truncated"` // the body was longer than MaxBytes
	TLSVersion  string   `json:"tls_version,omitempty"`
	PeerNames   []string `json:"peer_names,omitempty"` // DNS names of the leaf certificate
	// PeerCertificates is the chain the server presented.
	PeerCertificates []*x509.Certificate `json:"-"`
}

// Redirected reports whether the server answered with a redirect.
func (r *Response) Redirected() bool { return r.StatusCode >= 300 && r.StatusCode < 400 }

// Kind classifies a failed fetch.
type Kind string

// Kinds of failure.
const (
	KindBadURL      Kind = "bad-url"     // not an https URL
	KindDNS         Kind = "dns"         // the host's addresses could not be looked up (temporary)
	KindNoAddress   Kind = "no-address"  // the host has no A/AAAA record (NXDOMAIN/NODATA)
	KindOffline     Kind = "offline"     // --offline: the host was not asked
	KindConnect     Kind = "connect"     // TCP connection refused/unreachable
	KindTimeout     Kind = "timeout"     // the deadline passed
	KindCertificate Kind = "certificate" // the server certificate did not verify
	KindTLS         Kind = "tls"         // another TLS handshake failure
	KindHTTP        Kind = "http"        // a protocol error after connecting
)

// Error is a failed fetch.
type Error struct {
	Kind Kind
	URL  string
	Err  error
	// Certificates are the certificates the server presented when the
	// failure is KindCertificate (unverified: for evidence only).
	Certificates []*x509.Certificate
}

func (e *Error) Error() string { return fmt.Sprintf("fetching %s: %v", e.URL, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the failure could go away by itself (DNS,
// timeout, connection), as opposed to a definite answer such as a bad
// certificate or a missing host.
func (e *Error) Temporary() bool {
	return e.Kind == KindDNS || e.Kind == KindTimeout || e.Kind == KindConnect
}

// CertificateProblem explains a certificate failure in one line, naming the
// x509 condition: unknown authority, name mismatch, expiry.
func (e *Error) CertificateProblem() string {
	if e.Kind != KindCertificate {
		return ""
	}
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(e.Err, &he):
		names := "no DNS names"
		if he.Certificate != nil && len(he.Certificate.DNSNames) > 0 {
			names = strings.Join(he.Certificate.DNSNames, ", ")
		}
		return fmt.Sprintf("the certificate is not valid for %s (it names %s)", he.Host, names)
	case errors.As(e.Err, &ua):
		subj := ""
		if ua.Cert != nil {
			subj = " (issuer " + ua.Cert.Issuer.String() + ")"
		}
		return "the certificate is not signed by a trusted authority" + subj
	case errors.As(e.Err, &ci):
		switch ci.Reason {
		case x509.Expired:
			if ci.Cert != nil {
				now := time.Now()
				if now.Before(ci.Cert.NotBefore) {
					return fmt.Sprintf("the certificate is not valid before %s", ci.Cert.NotBefore.UTC().Format(time.RFC3339))
				}
				return fmt.Sprintf("the certificate expired on %s", ci.Cert.NotAfter.UTC().Format(time.RFC3339))
			}
			return "the certificate has expired or is not yet valid"
		default:
			return "the certificate is invalid: " + ci.Error()
		}
	}
	return e.Err.Error()
}

const (
	defaultTimeout  = 10 * time.Second
	defaultMaxBytes = 64 * 1024
)

// Get fetches rawURL (https only) without following redirects.
func Get(ctx context.Context, rawURL string, o Options) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		if err == nil {
			err = errors.New("not an https:// URL")
		}
		return nil, &Error{Kind: KindBadURL, URL: rawURL, Err: err}
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	serverName := o.ServerName
	if serverName == "" {
		serverName = u.Hostname()
	}
	f := &fetcher{o: o, url: rawURL}
	tr := &http.Transport{
		Proxy:                  nil, // a diagnosis must see the real server, not a proxy
		DialContext:            f.dial,
		TLSClientConfig:        &tls.Config{ServerName: serverName, RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    o.Timeout,
		DisableKeepAlives:      true,
		DisableCompression:     true, // we count raw bytes against the limit
		MaxResponseHeaderBytes: 64 * 1024,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// RFC 8461 3.3: "HTTP 3xx redirects MUST NOT be followed"; we
		// report the redirect instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &Error{Kind: KindBadURL, URL: rawURL, Err: err}
	}
	req.Header.Set("User-Agent", "deliverdoctor (+https://github.com/deliverdoctor/deliverdoctor)")
	if o.Accept != "" {
		req.Header.Set("Accept", o.Accept)
	}
	// RFC 8461 3.3: HTTP caching MUST NOT be used.
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := client.Do(req)
	if err == nil && ctx.Err() != nil {
		// The deadline passed while the answer was on its way: closing the
		// connection can make the server answer (a handler that waited for
		// the client to go away), and that reply is not an answer in time.
		resp.Body.Close()
		err = ctx.Err()
	}
	if err != nil {
		return nil, f.classify(ctx, err)
	}
	defer resp.Body.Close()
	out := &Response{URL: rawURL, Addr: f.addr, StatusCode: resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"), Location: resp.Header.Get("Location")}
	if resp.TLS != nil {
		out.TLSVersion = tls.VersionName(resp.TLS.Version)
		out.PeerCertificates = resp.TLS.PeerCertificates
		if len(resp.TLS.PeerCertificates) > 0 {
			out.PeerNames = resp.TLS.PeerCertificates[0].DNSNames
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxBytes+1))
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, f.classify(ctx, err)
	}
	if int64(len(body)) > o.MaxBytes {
		body = body[:o.MaxBytes]
		out.Truncated = true
	}
	out.Body = body
	out.Size = len(body)
	return out, nil
}

type fetcher struct {
	o      Options
	url    string
	addr   string
	dnsErr error // a lookup failure, kept to classify the transport's error
}

// dial resolves host through dnsx and connects to its addresses in order.
func (f *fetcher) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if f.o.Resolver == nil {
			f.dnsErr = &Error{Kind: KindDNS, URL: f.url, Err: errors.New("no resolver to look up " + host)}
			return nil, f.dnsErr
		}
		res, lerr := dnsx.LookupIP(ctx, f.o.Resolver, host)
		if res != nil {
			addrs = res.Addrs
		}
		if len(addrs) == 0 {
			switch {
			case lerr != nil:
				f.dnsErr = &Error{Kind: KindDNS, URL: f.url, Err: lerr}
			case res.Offline():
				f.dnsErr = &Error{Kind: KindOffline, URL: f.url, Err: fmt.Errorf("%s was not looked up (--offline)", host)}
			default:
				f.dnsErr = &Error{Kind: KindNoAddress, URL: f.url, Err: fmt.Errorf("%s has no A/AAAA record (%s)", host, res.Status())}
			}
			return nil, f.dnsErr
		}
	}
	dial := f.o.Dial
	if dial == nil {
		d := &net.Dialer{}
		dial = d.DialContext
	}
	var lastErr error
	for _, a := range addrs {
		c, err := dial(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			f.addr = c.RemoteAddr().String()
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// classify turns a transport error into an *Error of the right Kind.
func (f *fetcher) classify(ctx context.Context, err error) error {
	if f.dnsErr != nil {
		return f.dnsErr
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return &Error{Kind: KindCertificate, URL: f.url, Err: cv.Err, Certificates: cv.UnverifiedCertificates}
	}
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	if errors.As(err, &he) || errors.As(err, &ua) || errors.As(err, &ci) {
		return &Error{Kind: KindCertificate, URL: f.url, Err: err}
	}
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Kind: KindTimeout, URL: f.url, Err: fmt.Errorf("no complete answer within %s", f.o.Timeout)}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return &Error{Kind: KindConnect, URL: f.url, Err: oe}
	}
	var re tls.RecordHeaderError
	var ae tls.AlertError
	if errors.As(err, &re) || errors.As(err, &ae) || strings.Contains(err.Error(), "tls:") {
		return &Error{Kind: KindTLS, URL: f.url, Err: err}
	}
	return &Error{Kind: KindHTTP, URL: f.url, Err: err}
}
