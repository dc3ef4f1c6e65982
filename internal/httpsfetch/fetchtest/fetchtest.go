// Package fetchtest runs HTTPS servers on 127.0.0.1 for the tests of the
// packages that fetch policies over HTTPS (mtasts, bimi). Certificates come
// from internal/testpki. Nothing here touches the internet.
package fetchtest

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Server is an HTTPS server on 127.0.0.1 with a chosen certificate.
type Server struct {
	*httptest.Server
	Port string
}

// StartTLS serves h over HTTPS on 127.0.0.1 with cert; it is closed when
// the test ends.
func StartTLS(tb testing.TB, cert tls.Certificate, h http.Handler) *Server {
	tb.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // clients rejecting bad certificates is the point
	s.StartTLS()
	tb.Cleanup(s.Close)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return &Server{Server: s, Port: port}
}

// DialTo returns a dial function that connects every address to
// 127.0.0.1:port instead: it lets code that dials the standard port (443)
// reach a test server without changing the URL it builds.
func DialTo(port string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
}
