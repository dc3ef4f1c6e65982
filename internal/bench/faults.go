package bench

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

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
	up       *net.UDPConn // to upstream, shared by all forwarded questions
	mu       sync.Mutex
	rng      *rand.Rand
	nextID   uint16
	inflight map[uint16]pending // upstream ID → asker
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
	raddr, err := net.ResolveUDPAddr("udp", upstream)
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, err
	}
	up, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, err
	}
	// Bursts of questions and replies: the default receive buffer would
	// drop some, and those losses would not be counted in Lost.
	_ = udp.SetReadBuffer(8 << 20)
	_ = up.SetReadBuffer(8 << 20)
	p := &FaultProxy{Loss: loss, ServFail: servfail, upstream: upstream, udp: udp, tcp: tcp, up: up,
		rng: rand.New(rand.NewPCG(1, 2)), inflight: map[uint16]pending{}}
	p.wg.Add(3)
	go p.serveUDP()
	go p.relay()
	go p.serveTCP()
	return p, nil
}

// Addr is the proxy's address (give it to --resolver).
func (p *FaultProxy) Addr() string { return p.udp.LocalAddr().String() }

// Close stops the proxy.
func (p *FaultProxy) Close() {
	p.udp.Close()
	p.up.Close()
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
		if n < 12 {
			continue
		}
		x := p.draw()
		switch {
		case x < p.Loss:
			p.Lost.Add(1)
		case x < p.Loss+p.ServFail:
			p.Failed.Add(1)
			var m dns.Msg
			if m.Unpack(buf[:n]) != nil {
				continue
			}
			var r dns.Msg
			r.SetRcode(&m, dns.RcodeServerFailure)
			if b, err := r.Pack(); err == nil {
				_, _ = p.udp.WriteToUDP(b, client)
			}
		default:
			p.Passed.Add(1)
			p.forward(buf[:n], client)
		}
	}
}

// pending is a forwarded question: who asked, with which ID.
type pending struct {
	client *net.UDPAddr
	id     uint16
}

// forward sends one question upstream on the proxy's one upstream socket
// under a proxy-chosen ID (remembered with the asker's address and ID), so
// a question costs one write, not a socket of its own and a goroutine:
// under load, a proxy that is slower than the network it imitates would be
// charged to the faults.
func (p *FaultProxy) forward(q []byte, client *net.UDPAddr) {
	p.mu.Lock()
	if len(p.inflight) >= 1<<15 { // upstream replies that never came: forget them
		clear(p.inflight)
	}
	id := p.nextID
	for _, taken := p.inflight[id]; taken; _, taken = p.inflight[id] {
		id++
	}
	p.nextID = id + 1
	p.inflight[id] = pending{client: client, id: binary.BigEndian.Uint16(q)}
	p.mu.Unlock()
	binary.BigEndian.PutUint16(q, id)
	if _, err := p.up.Write(q); err != nil {
		p.mu.Lock()
		delete(p.inflight, id)
		p.mu.Unlock()
	}
}

// relay hands each upstream reply back to its asker under the asker's ID.
func (p *FaultProxy) relay() {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, err := p.up.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		id := binary.BigEndian.Uint16(buf)
		p.mu.Lock()
		w, ok := p.inflight[id]
		delete(p.inflight, id)
		p.mu.Unlock()
		if !ok {
			continue
		}
		binary.BigEndian.PutUint16(buf, w.id)
		_, _ = p.udp.WriteToUDP(buf[:n], w.client)
	}
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
