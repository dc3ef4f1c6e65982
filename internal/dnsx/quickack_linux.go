package dnsx

import (
	"crypto/tls"
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge received data at once instead of
// delaying the ACK (up to 40 ms). A server that writes pipelined replies
// with Nagle's algorithm on (unbound over TLS does) holds its next reply
// until the previous one is acknowledged; with delayed ACKs every second
// reply on a connection then waits about 40 ms. The flag is not sticky,
// so it is set again after each read.
func quickAck(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

// quickAckConn sets TCP_QUICKACK after every read (for DoH, whose HTTP/2
// frames are read by net/http, not by this package).
type quickAckConn struct{ *net.TCPConn }

func (c quickAckConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	quickAck(c.TCPConn)
	return n, err
}

func withQuickAck(c net.Conn) net.Conn {
	if tcp, ok := c.(*net.TCPConn); ok {
		return quickAckConn{tcp}
	}
	return c
}
