package l4

import (
	"io"
	"net"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// BenchmarkTCPBulk moves 64 MiB per op from a real to the client through
// the proxy (a download), to compare relay paths: b.SetBytes gives MB/s.
func BenchmarkTCPBulk(b *testing.B) {
	const size = 64 << 20
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 256<<10)
	testkit.Accept(b, ln, func(c net.Conn) {
		defer c.Close()
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	_, addr := startTCP(b, upstreamtest.NewPicker(ln.Addr().(*net.TCPAddr).AddrPort()), TCPConfig{})
	b.SetBytes(size)
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, c)
		c.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes, %v; want %d", n, err, size)
		}
	}
}
