package l4

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// Every way a forwarded TCP connection ends leaves nothing counted: not
// open on the proxy (what `hactl standby --drain` waits for), not active or
// inactive on any real (what lc and wlc schedule on), and its connlimit
// slot given back (Serve's goroutine releases it when Handle returns).
func TestTCPNothingStaysCounted(t *testing.T) {
	tests := []struct {
		name   string
		dead   bool // a closed port is picked first: the connect is retried
		idle   time.Duration
		real   func(c *net.TCPConn)
		client func(c *net.TCPConn)
	}{
		// After the client's first bytes: a reset before them can reach
		// the client before its connect returns.
		{"real resets", false, 0,
			func(c *net.TCPConn) { io.ReadFull(c, make([]byte, 5)); c.SetLinger(0); c.Close() },
			func(c *net.TCPConn) { io.Copy(io.Discard, c) }},
		{"client resets", false, 0,
			func(c *net.TCPConn) { io.Copy(io.Discard, c) },
			func(c *net.TCPConn) { c.SetLinger(0) }},
		{"real finishes first", false, 0,
			func(c *net.TCPConn) { io.WriteString(c, "bye"); c.CloseWrite(); io.Copy(io.Discard, c) },
			func(c *net.TCPConn) { io.ReadAll(c) }},
		{"connect retried on another real", true, 0,
			func(c *net.TCPConn) { io.WriteString(c, "hi"); c.Close() },
			func(c *net.TCPConn) { io.ReadAll(c) }},
		{"idle timeout", false, 50 * time.Millisecond,
			func(c *net.TCPConn) { io.Copy(io.Discard, c) },
			func(c *net.TCPConn) { io.Copy(io.Discard, c) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			testkit.Accept(t, ln, func(c net.Conn) {
				tc.real(c.(*net.TCPConn))
				c.Close()
			})
			addrs := []netip.AddrPort{ln.Addr().(*net.TCPAddr).AddrPort()}
			if tc.dead {
				addrs = append([]netip.AddrPort{proxytest.ClosedPort(t)}, addrs...)
			}
			picker := upstreamtest.NewPicker(addrs...)
			tp, addr := startTCP(t, picker, TCPConfig{IdleTimeout: tc.idle})
			for range 3 {
				c := proxytest.Dial(t, addr)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, "hello")
				tc.client(c)
				c.Close()
				testkit.WaitFor(t, "nothing counted", func() bool {
					for _, r := range picker.Reals {
						if a, in := r.Counts(); a != 0 || in != 0 {
							return false
						}
					}
					return tp.Stats().Open == 0
				})
			}
		})
	}
}
