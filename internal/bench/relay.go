package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DelayRelay is a TCP relay on loopback that behaves like a network path
// with a round-trip time RTT: every chunk of bytes it reads is written to
// the other side RTT/2 later, in order, in both directions. A new
// connection's first chunk from the client waits one more RTT, the time
// the client would have spent in the TCP handshake before it could send
// it. So a DNS-over-TLS client behind it pays, before its first answer,
// what it would pay on a real path: one round trip for TCP, one (TLS 1.3)
// or two (TLS 1.2) for TLS, and one for the question; later questions on
// the same connection cost one round trip each, pipelined.
type DelayRelay struct {
	RTT      time.Duration
	upstream string
	l        net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
	closed   bool

	Conns atomic.Int64 // connections accepted
}

// NewDelayRelay listens on 127.0.0.1 and forwards to upstream (host:port).
func NewDelayRelay(upstream string, rtt time.Duration) (*DelayRelay, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &DelayRelay{RTT: rtt, upstream: upstream, l: l, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the relay's host:port.
func (r *DelayRelay) Addr() string { return r.l.Addr().String() }

// Close stops the relay and every connection through it.
func (r *DelayRelay) Close() {
	r.l.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *DelayRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = true
	return true
}

func (r *DelayRelay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		r.Conns.Add(1)
		up, err := net.Dial("tcp", r.upstream)
		if err != nil {
			c.Close()
			continue
		}
		if !r.track(c) || !r.track(up) {
			c.Close()
			up.Close()
			continue
		}
		r.wg.Add(2)
		go r.pipe(c, up, r.RTT/2+r.RTT) // client → server: the TCP handshake's round trip first
		go r.pipe(up, c, r.RTT/2)
	}
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies from → to, each chunk delay after it was read (the first
// chunk first delay, the others RTT/2), preserving order.
func (r *DelayRelay) pipe(from, to net.Conn, first time.Duration) {
	defer r.wg.Done()
	q := make(chan chunk, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := to.Write(c.b); err != nil {
				from.Close() // ends the reader
				for range q {
				}
				return
			}
		}
	}()
	delay := first
	buf := make([]byte, 64<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			q <- chunk{b: append([]byte(nil), buf[:n]...), due: time.Now().Add(delay)}
			delay = r.RTT / 2
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
	// Half-close so the other side sees the end, then let both go.
	if tc, ok := to.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		to.Close()
	}
	from.Close()
}

// TestCertificate makes a private CA and a certificate for 127.0.0.1
// signed by it (ECDSA P-256, valid for a day), for the bench's DNS-over-TLS
// server; caPEM is what --resolver-ca reads.
func TestCertificate() (cert tls.Certificate, caPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cert, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ddbench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return cert, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return cert, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cert, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return cert, nil, err
	}
	cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}
