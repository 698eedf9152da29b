package l4

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

func startUDP(t *testing.T, p upstream.Picker, cfg UDPConfig) (*UDPProxy, *net.UDPAddr) {
	t.Helper()
	pc, err := ListenUDP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := NewUDP(p, cfg, nil)
	up.SetActive(true)
	proxytest.Serve(t, func() error { return up.Serve(pc) }, func() { pc.Close() })
	return up, pc.LocalAddr().(*net.UDPAddr)
}

func udpClient(t *testing.T, to *net.UDPAddr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends msg and returns the reply, retrying a lost datagram a few
// times (loopback does not lose them, but the test must not hang if it does).
func exchange(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	buf := make([]byte, 2048)
	for range 3 {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("write %q: %v", msg, err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("no reply to %q", msg)
	return ""
}

func TestUDPFlows(t *testing.T) {
	a, b := proxytest.UDP(t, "a"), proxytest.UDP(t, "b")
	p := upstreamtest.NewPicker(a.Addr, b.Addr)
	up, addr := startUDP(t, p, UDPConfig{})
	c1, c2 := udpClient(t, addr), udpClient(t, addr)
	for i := range 3 {
		for _, tc := range []struct {
			c    *net.UDPConn
			msg  string
			want string
		}{
			{c1, fmt.Sprintf("INVITE %d from c1", i), fmt.Sprintf("a:INVITE %d from c1", i)},
			{c2, fmt.Sprintf("INVITE %d from c2", i), fmt.Sprintf("b:INVITE %d from c2", i)},
		} {
			if got := exchange(t, tc.c, tc.msg); got != tc.want {
				t.Errorf("exchange(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		}
	}
	if st := up.Stats(); st.Flows != 2 || st.FlowsOpened != 2 {
		t.Errorf("Stats() = %+v, want 2 flows opened and open", st)
	}
	for _, r := range p.Reals {
		if act, inact := r.Counts(); act != 0 || inact != 1 {
			t.Errorf("real %v counts = %d active %d inactive, want 0, 1", r.Addr(), act, inact)
		}
	}
}

func TestUDPIdleExpiry(t *testing.T) {
	a, b := proxytest.UDP(t, "a"), proxytest.UDP(t, "b")
	p := upstreamtest.NewPicker(a.Addr, b.Addr)
	const idle = 100 * time.Millisecond
	clk := clocktest.New(time.Time{})
	up, addr := startUDP(t, p, UDPConfig{IdleTimeout: idle, Clock: clk})
	c1 := udpClient(t, addr)
	if got := exchange(t, c1, "one"); got != "a:one" {
		t.Fatalf("first exchange = %q, want %q", got, "a:one")
	}
	// The sweeper runs every idle/4: a silent flow goes after between idle
	// and 1.25 × idle, never early. Here: kept through the 100ms sweep,
	// gone at the 125ms one.
	for step := 1; step <= 5; step++ {
		testkit.WaitFor(t, "the sweeper to wait", func() bool { return clk.Waiting() == 1 })
		clk.Advance(idle / 4)
		testkit.WaitFor(t, "the sweep to finish", func() bool { return clk.Waiting() == 1 })
		if n, want := up.Stats().Flows, map[bool]int{true: 1, false: 0}[step < 5]; n != want {
			t.Fatalf("flows %v after the last datagram = %d, want %d", time.Duration(step)*idle/4, n, want)
		}
	}
	if act, inact := p.Reals[0].Counts(); act != 0 || inact != 0 {
		t.Errorf("after expiry counts = %d, %d, want 0, 0", act, inact)
	}
	// The next datagram makes a new flow, scheduled afresh.
	if got := exchange(t, c1, "two"); got != "b:two" {
		t.Errorf("exchange after expiry = %q, want %q", got, "b:two")
	}
	if st := up.Stats(); st.FlowsExpired != 1 || st.FlowsOpened != 2 {
		t.Errorf("Stats() = %+v, want 1 expired, 2 opened", st)
	}
}

func TestUDPInactiveDrops(t *testing.T) {
	a := proxytest.UDP(t, "a")
	up, addr := startUDP(t, upstreamtest.NewPicker(a.Addr), UDPConfig{})
	up.SetActive(false)
	c1 := udpClient(t, addr)
	c1.Write([]byte("x"))
	testkit.WaitFor(t, "refused count", func() bool { return up.Stats().Refused == 1 })
	if a.Served() != 0 {
		t.Errorf("backend served %d while inactive, want 0", a.Served())
	}
}

// TestUDPOversizeDropped: a datagram up to MaxDatagram is forwarded, one
// byte more is dropped and counted, never forwarded cut.
func TestUDPOversizeDropped(t *testing.T) {
	a := proxytest.UDPFunc(t, "a", func(req []byte) [][]byte { return [][]byte{fmt.Appendf(nil, "a:%d", len(req))} })
	up, addr := startUDP(t, upstreamtest.NewPicker(a.Addr), UDPConfig{MaxDatagram: 100})
	c := udpClient(t, addr)
	if got := exchange(t, c, string(make([]byte, 100))); got != "a:100" {
		t.Fatalf("100-byte datagram: reply %q, want %q", got, "a:100")
	}
	if _, err := c.Write(make([]byte, 101)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the 101-byte datagram counted oversize", func() bool { return up.Stats().Oversize == 1 })
	if got := exchange(t, c, "after"); got != "a:5" {
		t.Errorf("reply after the oversized datagram = %q, want %q", got, "a:5")
	}
	// Counted after the write to the real, which the echo can overtake.
	testkit.WaitFor(t, "2 datagrams forwarded", func() bool { return up.Stats().Datagrams == 2 })
	if st := up.Stats(); st.Datagrams != 2 || st.Oversize != 1 {
		t.Errorf("Stats() = %+v, want 2 datagrams forwarded and the oversized one not", st)
	}
}

// TestUDPBurstFromManyClients sends a burst from many clients at once, so
// that reads take several datagrams each (recvmmsg), and checks every
// client gets its own answer.
func TestUDPBurstFromManyClients(t *testing.T) {
	a := proxytest.UDP(t, "a")
	up, addr := startUDP(t, upstreamtest.NewPicker(a.Addr), UDPConfig{})
	const clients = 3 * recvBatchSize
	cs := make([]*net.UDPConn, clients)
	for i := range cs {
		cs[i] = udpClient(t, addr)
	}
	for round := range 3 {
		for i, c := range cs {
			if _, err := fmt.Fprintf(c, "%d-%d", round, i); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]byte, 64)
		for i, c := range cs {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(buf)
			if want := fmt.Sprintf("a:%d-%d", round, i); err != nil || string(buf[:n]) != want {
				t.Fatalf("client %d, round %d: reply %q, %v; want %q", i, round, buf[:n], err, want)
			}
		}
	}
	testkit.WaitFor(t, "every datagram counted", func() bool { return up.Stats().Datagrams == 3*clients })
	if st := up.Stats(); st.Flows != clients {
		t.Errorf("Stats().Flows = %d, want %d", st.Flows, clients)
	}
}

// TestUDPIPv6Client: a client on ::1 is answered (the source read by
// recvmmsg is an IPv6 socket address).
func TestUDPIPv6Client(t *testing.T) {
	pc, err := ListenUDP(context.Background(), "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	a := proxytest.UDP(t, "a")
	up := NewUDP(upstreamtest.NewPicker(a.Addr), UDPConfig{}, nil)
	up.SetActive(true)
	proxytest.Serve(t, func() error { return up.Serve(pc) }, func() { pc.Close() })
	c := udpClient(t, pc.LocalAddr().(*net.UDPAddr))
	if got := exchange(t, c, "six"); got != "a:six" {
		t.Errorf("reply to an IPv6 client = %q, want %q", got, "a:six")
	}
}
