package l4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/accept"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// startTCP runs a TCPProxy on a loopback listener until the test ends.
func startTCP(t testing.TB, p upstream.Picker, cfg TCPConfig) (*TCPProxy, string) {
	t.Helper()
	ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := NewTCP(p, cfg, nil)
	tp.SetActive(true)
	t.Cleanup(func() { tp.Close() }) // after Serve returned: cleanups run last first
	proxytest.Serve(t, func() error { return tp.Serve(ln) }, func() { ln.Close() })
	return tp, ln.Addr().String()
}

func TestTCPRoundTrip(t *testing.T) {
	a, b := proxytest.TCP(t, "a"), proxytest.TCP(t, "b")
	p := upstreamtest.NewPicker(a.Addr, b.Addr)
	_, addr := startTCP(t, p, TCPConfig{})
	var got []string
	for i := range 4 {
		out, err := proxytest.TCPRequest(addr, "ping")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got = append(got, out)
	}
	want := []string{"ping|a", "ping|b", "ping|a", "ping|b"}
	if !slices.Equal(got, want) {
		t.Errorf("replies = %q, want %q", got, want)
	}
	for _, r := range p.Reals {
		testkit.WaitFor(t, "counters back to zero", func() bool { a, i := r.Counts(); return a == 0 && i == 0 })
	}
}

// TestTCPHalfClose holds the real's answer until the proxy reports the
// connection inactive (client finished sending), then checks the answer
// still reaches the client.
func TestTCPHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := upstreamtest.NewPicker(ln.Addr().(*net.TCPAddr).AddrPort())
	_, addr := startTCP(t, p, TCPConfig{})
	real := p.Reals[0]
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		in, err := io.ReadAll(c) // until the client's FIN comes through
		if err != nil {
			srvErr <- err
			return
		}
		if testkit.Poll(func() bool { a, i := real.Counts(); return a == 0 && i == 1 }) {
			_, err = io.WriteString(c, "late answer to "+string(in))
			srvErr <- err
			return
		}
		a, i := real.Counts()
		srvErr <- errors.New("half-closed connection not counted inactive: active=" +
			itoa(a) + " inactive=" + itoa(i))
	}()
	out, err := proxytest.TCPRequest(addr, "hello")
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if err := <-srvErr; err != nil {
		t.Fatal(err)
	}
	if out != "late answer to hello" {
		t.Errorf("reply = %q, want %q", out, "late answer to hello")
	}
	testkit.WaitFor(t, "counters back to zero", func() bool { a, i := real.Counts(); return a == 0 && i == 0 })
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTCPConnectTimeoutTriesNext(t *testing.T) {
	good := proxytest.TCP(t, "good")
	p := upstreamtest.NewPicker(testkit.Blackhole(t), good.Addr)
	const timeout = 300 * time.Millisecond
	tp, addr := startTCP(t, p, TCPConfig{ConnectTimeout: timeout})
	start := time.Now()
	out, err := proxytest.TCPRequest(addr, "ping")
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if out != "ping|good" {
		t.Errorf("reply = %q, want %q", out, "ping|good")
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("request took %v, want at least the connect timeout %v", d, timeout)
	}
	if st := tp.Stats(); st.ConnectTimeouts != 1 || st.ConnectFailed != 1 {
		t.Errorf("Stats() = %+v, want 1 connect timeout and 1 failure", st)
	}
}

func TestTCPNoRealResets(t *testing.T) {
	p := upstreamtest.NewPicker(testkit.Blackhole(t))
	tp, addr := startTCP(t, p, TCPConfig{ConnectTimeout: 100 * time.Millisecond})
	if out, err := proxytest.TCPRequest(addr, "ping"); err == nil && out != "" {
		t.Errorf("request with no reachable real = %q, nil; want an error or nothing", out)
	}
	if st := tp.Stats(); st.NoReal != 1 {
		t.Errorf("Stats().NoReal = %d, want 1", st.NoReal)
	}
}

func TestTCPInactiveRefuses(t *testing.T) {
	a := proxytest.TCP(t, "a")
	tp, addr := startTCP(t, upstreamtest.NewPicker(a.Addr), TCPConfig{})
	tp.SetActive(false)
	if out, err := proxytest.TCPRequest(addr, "ping"); err == nil && out != "" {
		t.Errorf("request while inactive = %q, nil; want refused", out)
	}
	if tp.Stats().Refused != 1 || a.Served() != 0 {
		t.Errorf("Refused = %d, backend served %d; want 1, 0", tp.Stats().Refused, a.Served())
	}
	tp.SetActive(true)
	if out, err := proxytest.TCPRequest(addr, "ping"); err != nil || out != "ping|a" {
		t.Errorf("request after SetActive(true) = %q, %v; want %q", out, err, "ping|a")
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	a := proxytest.TCP(t, "a")
	const idle = 200 * time.Millisecond
	tp, addr := startTCP(t, upstreamtest.NewPicker(a.Addr), TCPConfig{IdleTimeout: idle})

	t.Run("busy connection survives", func(t *testing.T) {
		// 12 × 50ms = 3 idle timeouts of traffic. On a starved machine
		// this test's own gap between two echoes can exceed the idle
		// timeout, and then the proxy is right to close: such a try
		// proves nothing and is made again (at most 3 times).
		for try := 1; ; try++ {
			gap, err := busyExchange(addr)
			if err == nil {
				return
			}
			if gap < idle {
				t.Fatalf("busy connection closed %v after its last echo (idle timeout %v): %v (idle-closed %d)",
					gap, idle, err, tp.Stats().IdleClosed)
			}
			if try == 3 {
				t.Fatalf("3 tries, each with a gap of at least the idle timeout %v in this test's own traffic (last %v): the machine is too loaded to test this", idle, gap)
			}
		}
	})
	t.Run("silent connection closed", func(t *testing.T) {
		// start is read before the dial: the proxy's idle timer starts when
		// it accepts, which can run before this goroutine is scheduled again
		// after Dial returns on a loaded machine.
		closedBefore := tp.Stats().IdleClosed
		start := time.Now()
		c := proxytest.Dial(t, addr)
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("read on idle connection = %v, want closed by the proxy", err)
		}
		if d := time.Since(start); d < idle {
			t.Errorf("closed after %v, want at least %v", d, idle)
		}
		if got := tp.Stats().IdleClosed - closedBefore; got != 1 {
			t.Errorf("Stats().IdleClosed went up by %d, want 1", got)
		}
	})
}

// busyExchange sends a byte every 50ms over a new connection to addr and
// reads its echo, 12 times. On failure it returns how long it had been
// since the last echo (or the dial).
func busyExchange(addr string) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1)
	last := time.Now()
	for i := range 12 {
		if _, err := c.Write([]byte{'x'}); err != nil {
			return time.Since(last), fmt.Errorf("write %d: %w", i, err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return time.Since(last), fmt.Errorf("echo %d: %w", i, err)
		}
		last = time.Now()
		time.Sleep(50 * time.Millisecond) // the traffic pattern under test, not a wait
	}
	return 0, nil
}

func TestFreebind(t *testing.T) {
	// 198.18.0.0/15 is not configured on the host; nothing is sent to it.
	const addr = "198.18.77.77:0"
	ln, err := ListenTCP(context.Background(), addr)
	if err != nil {
		t.Fatalf("ListenTCP(%q) = %v, want success with IP_FREEBIND", addr, err)
	}
	ln.Close()
	pc, err := ListenUDP(context.Background(), addr)
	if err != nil {
		t.Fatalf("ListenUDP(%q) = %v, want success with IP_FREEBIND", addr, err)
	}
	pc.Close()
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind"); err == nil && strings.TrimSpace(string(b)) == "0" {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			t.Fatalf("net.Listen(%q) without IP_FREEBIND succeeded; the test proves nothing here", addr)
		}
		if !errors.Is(err, unix.EADDRNOTAVAIL) {
			t.Errorf("net.Listen(%q) = %v, want EADDRNOTAVAIL", addr, err)
		}
	}
}

// TestTCPSmallThenBulk sends small messages (each moved through the
// loop's buffer) and then 1 MiB each way (a bulk transfer, which the event
// loop moves with a larger buffer once a read fills the first), and checks
// every byte arrives in order and the byte counters add up.
func TestTCPSmallThenBulk(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Accept(t, ln, func(c net.Conn) { io.Copy(c, c); c.(*net.TCPConn).CloseWrite() })
	tp, addr := startTCP(t, upstreamtest.NewPicker(ln.Addr().(*net.TCPAddr).AddrPort()), TCPConfig{})
	c := proxytest.Dial(t, addr)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var sent int64
	for i := range 5 {
		msg := []byte("ping " + strconv.Itoa(i))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo %d = %q, %v; want %q", i, got, err, msg)
		}
		sent += int64(len(msg))
	}
	bulk := make([]byte, 1<<20)
	for i := range bulk {
		bulk[i] = byte(i * 7 / 5)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(bulk)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, bulk) {
		t.Fatalf("bulk echo: %d bytes back, want the %d sent, in order", len(got), len(bulk))
	}
	sent += int64(len(bulk))
	testkit.WaitFor(t, "both directions counted", func() bool {
		st := tp.Stats()
		return st.Open == 0 && st.BytesIn == uint64(sent) && st.BytesOut == uint64(sent)
	})
}

// TestListenerNoDelayInherited: a socket accepted from a listener with
// TCP_NODELAY has it too, which Serve counts on to skip a setsockopt per
// connection.
func TestListenerNoDelayInherited(t *testing.T) {
	ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := setListenerNoDelay(ln); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acc, err := accept.New(ln)
	if err != nil {
		t.Fatal(err)
	}
	fd, _, err := acc.TryAccept() // not Accept: the net package's sets TCP_NODELAY itself
	if err != nil {
		t.Fatalf("accept4 of a dialled connection: %v", err)
	}
	defer unix.Close(fd)
	if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v == 0 {
		t.Errorf("accepted socket's TCP_NODELAY = %d, %v, want set (inherited from the listener)", v, err)
	}
}
