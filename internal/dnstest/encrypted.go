package dnstest

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/miekg/dns"
)

// StartTLS serves the same answers over DNS over TLS (RFC 7858) on a new
// loopback port with cert, and returns "tls://127.0.0.1:port" for
// --resolver. It stops with Close.
func (s *Server) StartTLS(cert tls.Certificate) (string, error) {
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", err
	}
	srv := &dns.Server{Listener: &countingListener{Listener: l, n: &s.tlsConns}, Net: "tcp-tls", MaxTCPQueries: -1, // as unbound: no cap per connection
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { s.serve(w, r, "tls") })}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe() //nolint:errcheck // ends on Close
	<-started
	s.mu.Lock()
	s.closers = append(s.closers, func() { _ = srv.Shutdown() })
	s.mu.Unlock()
	return "tls://" + l.Addr().String(), nil
}

// StartDoH serves the same answers over DNS over HTTPS (RFC 8484, POST,
// HTTP/2) with cert, and returns the URL for --resolver. It stops with
// Close.
func (s *Server) StartDoH(cert tls.Certificate) string {
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/dns-message" {
			http.Error(w, "want POST application/dns-message", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, dns.MaxMsgSize))
		req := new(dns.Msg)
		if err != nil || req.Unpack(body) != nil {
			http.Error(w, "bad DNS message", http.StatusBadRequest)
			return
		}
		dw := &dohWriter{}
		s.serve(dw, req, "https")
		if dw.msg == nil {
			// A dropped question: hold the request until the client gives up.
			<-r.Context().Done()
			return
		}
		out, err := dw.msg.Pack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/dns-message")
		_, _ = w.Write(out)
	}))
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.tlsConns.Add(1)
		}
	}
	hs.StartTLS()
	s.mu.Lock()
	s.closers = append(s.closers, hs.Close)
	s.mu.Unlock()
	return fmt.Sprintf("https://%s/dns-query", hs.Listener.Addr())
}

// TLSConns returns how many DoT and DoH connections the server accepted.
func (s *Server) TLSConns() int { return int(s.tlsConns.Load()) }

// dohWriter is a dns.ResponseWriter that keeps the reply for HTTP.
type dohWriter struct{ msg *dns.Msg }

func (w *dohWriter) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (w *dohWriter) RemoteAddr() net.Addr        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (w *dohWriter) WriteMsg(m *dns.Msg) error   { w.msg = m; return nil }
func (w *dohWriter) Write(b []byte) (int, error) { return 0, fmt.Errorf("dnstest: raw write over DoH") }
func (w *dohWriter) Close() error                { return nil }
func (w *dohWriter) TsigStatus() error           { return nil }
func (w *dohWriter) TsigTimersOnly(bool)         {}
func (w *dohWriter) Hijack()                     {}
