package dnsx

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// dohClient asks one DNS over HTTPS server (RFC 8484): POST of the wire
// message, over HTTP/2 on a reused TLS connection.
type dohClient struct {
	url   string
	hc    *http.Client
	slots chan struct{} // questions in flight
}

// dohInFlight bounds the questions in flight to one DoH server: servers
// cap concurrent HTTP/2 streams (unbound: http-max-streams, 100) and may
// close a connection that gets more.
const dohInFlight = 64

const dohType = "application/dns-message"

func newDoH(url string, tlsConf *tls.Config, timeout time.Duration) *dohClient {
	return &dohClient{url: url, hc: &http.Client{Transport: newHTTPTransport(tlsConf, timeout)}, slots: make(chan struct{}, dohInFlight)}
}

// exchange asks one question within timeout. A question whose connection
// the server closed (EOF, reset) is asked again, at most twice.
func (d *dohClient) exchange(ctx context.Context, msg *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case d.slots <- struct{}{}:
		defer func() { <-d.slots }()
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return nil, timeoutError{}
		}
		return nil, ctx.Err()
	}
	for try := 0; ; try++ {
		r, err := d.once(ctx, msg)
		if err != nil && try < 2 && ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
			continue
		}
		return r, err
	}
}

func (d *dohClient) once(ctx context.Context, msg *dns.Msg) (*dns.Msg, error) {
	q := *msg
	q.Id = 0 // RFC 8484 4.1: ID 0, so that HTTP caches can share answers
	buf, err := q.Pack()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(buf))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", dohType)
	req.Header.Set("Accept", dohType)
	resp, err := d.hc.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, timeoutError{}
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != dohType {
		return nil, fmt.Errorf("reply is %q, not %s", resp.Header.Get("Content-Type"), dohType)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, dns.MaxMsgSize+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, timeoutError{}
		}
		return nil, err
	}
	r, err := parseReply(&q, body)
	if err != nil {
		return nil, err
	}
	r.Id = msg.Id
	return r, nil
}
