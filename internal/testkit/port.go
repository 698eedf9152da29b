package testkit

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ClosedPort returns a 127.0.0.1 address and port on which nothing
// listens for network ("tcp" or "udp"), for tests that want "connection
// refused". The port lies below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), so the connecting socket's own source
// port can never be it: a port freed from that range could be handed to
// the test's own socket, which then talks to itself (UDP, or TCP's
// self-connect by simultaneous open) instead of being refused. A proxy
// check test saw its own SIP request as the answer that way.
//
// No port is handed out twice in a process: a test that asks for three
// addresses and then binds all three gets three ports, where a port that
// is only probed free would be free again at the next call. The scan
// starts at an offset of the process ID, so that test binaries running
// side by side (go test -p) seldom probe the same ports.
func ClosedPort(t testing.TB, network string) netip.AddrPort {
	t.Helper()
	low := 32768 // Linux's default first ephemeral port
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && lo > 2048 {
			low = lo
		}
	}
	handedOut.Lock()
	defer handedOut.Unlock()
	start := os.Getpid() * 37 % closedPortSpan
	for i := range closedPortSpan {
		port := low - 1 - (start+i)%closedPortSpan
		if handedOut.ports[port] {
			continue
		}
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))
		var closer interface{ Close() error }
		var err error
		if network == "udp" {
			closer, err = net.ListenPacket("udp4", a.String())
		} else {
			closer, err = net.Listen("tcp4", a.String())
		}
		if err == nil {
			closer.Close()
			handedOut.ports[port] = true
			return a
		}
	}
	t.Fatalf("no free %s port in the %d below the ephemeral range (%d) that ClosedPort did not hand out already", network, closedPortSpan, low)
	return netip.AddrPort{}
}

// closedPortSpan is how many ports below the ephemeral range ClosedPort
// may hand out.
const closedPortSpan = 1000

// handedOut holds the ports ClosedPort and FreeUDPPair returned in this
// process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreeUDPPair returns a UDP port that was free on both 127.0.0.1 and
// 127.0.0.2 a moment ago: where tests put two nodes of a pair on one host
// (each loopback address stands for one node). It tries 20 ports before
// failing the test, and, as ClosedPort, never hands one out twice.
func FreeUDPPair(t testing.TB) uint16 {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 20 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		if handedOut.ports[port] {
			c.Close()
			continue
		}
		c2, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
		c.Close()
		if err == nil {
			c2.Close()
			handedOut.ports[port] = true
			return uint16(port)
		}
	}
	t.Fatal("no free UDP port on 127.0.0.1 and 127.0.0.2")
	return 0
}

// Accept runs handle for each connection ln accepts, one after another on
// one goroutine, until the test ends; then it closes ln and waits for the
// loop to return. handle owns the connection: it closes it, keeps it, or
// hands it to a goroutine of its own.
func Accept(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
}

// Blackhole returns a loopback address whose SYNs are dropped: a listener
// with backlog 0 whose accept queue is already full (the kernel drops SYNs
// to a full accept queue), so connecting to it hangs until a timeout (the
// client's SYN is retransmitted after 1 s, and dropped again).
func Blackhole(t testing.TB) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	// Fill the queue; stop once a connect times out.
	for range 8 {
		c, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond)
		if err != nil {
			return ap
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("blackhole listener kept accepting connections")
	return ap
}
