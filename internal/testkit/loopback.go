package testkit

import (
	"net"
	"testing"
)

// DialLoopback listens on a free 127.0.0.1 TCP port and dials it once. It
// returns the listener, whose queue holds the server end for the caller
// to accept its own way, and the client end; both are closed when the
// test ends (a caller may close the listener sooner).
func DialLoopback(t testing.TB) (*net.TCPListener, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ln, c
}
