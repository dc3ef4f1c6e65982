package bench

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// FaultProxy stands between deliverdoctor and a DNS server on loopback and
// misbehaves the way a real network does: it loses a share of the UDP
// questions (never answered: the client has to retransmit) and answers
// another share with SERVFAIL, each question drawn afresh, so a retry may
// succeed. TCP is passed through untouched.
type FaultProxy struct {
	Loss, ServFail float64 // shares of UDP questions, 0..1

	upstream string
	udp      *net.UDPConn
	tcp      net.Listener
	mu       sync.Mutex
	rng      *rand.Rand
	wg       sync.WaitGroup

	Lost, Failed, Passed atomic.Int64
}

// NewFaultProxy listens on 127.0.0.1 (UDP and TCP, one port) and forwards
// to upstream (host:port).
func NewFaultProxy(upstream string, loss, servfail float64) (*FaultProxy, error) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	tcp, err := net.Listen("tcp", udp.LocalAddr().String())
	if err != nil {
		udp.Close()
		return nil, err
	}
	p := &FaultProxy{Loss: loss, ServFail: servfail, upstream: upstream, udp: udp, tcp: tcp, rng: rand.New(rand.NewPCG(1, 2))}
	p.wg.Add(2)
	go p.serveUDP()
	go p.serveTCP()
	return p, nil
}

// Addr is the proxy's address (give it to --resolver).
func (p *FaultProxy) Addr() string { return p.udp.LocalAddr().String() }

// Close stops the proxy.
func (p *FaultProxy) Close() {
	p.udp.Close()
	p.tcp.Close()
	p.wg.Wait()
}

func (p *FaultProxy) draw() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64()
}

func (p *FaultProxy) serveUDP() {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, client, err := p.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		q := append([]byte(nil), buf[:n]...)
		x := p.draw()
		switch {
		case x < p.Loss:
			p.Lost.Add(1)
		case x < p.Loss+p.ServFail:
			p.Failed.Add(1)
			var m dns.Msg
			if m.Unpack(q) != nil {
				continue
			}
			var r dns.Msg
			r.SetRcode(&m, dns.RcodeServerFailure)
			if b, err := r.Pack(); err == nil {
				_, _ = p.udp.WriteToUDP(b, client)
			}
		default:
			p.Passed.Add(1)
			go p.forward(q, client)
		}
	}
}

// forward sends one question upstream on its own socket and relays the
// reply.
func (p *FaultProxy) forward(q []byte, client *net.UDPAddr) {
	c, err := net.Dial("udp", p.upstream)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(q); err != nil {
		return
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	_, _ = p.udp.WriteToUDP(buf[:n], client)
}

func (p *FaultProxy) serveTCP() {
	defer p.wg.Done()
	for {
		c, err := p.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", p.upstream)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
			<-done
		}()
	}
}
