//go:build !linux

package dnsx

import "net"

// quickAck is a no-op where TCP_QUICKACK does not exist.
func quickAck(net.Conn) {}

func withQuickAck(c net.Conn) net.Conn { return c }
