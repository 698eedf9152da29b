package proxy

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/proxytest"
)

// TestCloseLeavesNoGoroutines runs every kind of service with checks and a
// monitor, carries traffic, closes the balancer, and expects the goroutine
// count back where it started: serve loops, probes, monitors, connection
// and flow goroutines all end.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	tcpB, webB, udpB := proxytest.TCP(t, "t"), proxytest.HTTP(t, "w"), proxytest.UDP(t, "u")
	before := runtime.NumGoroutine()
	lt, lw, lu := proxytest.ClosedPort(t), proxytest.ClosedPort(t), proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{
		{Name: "tcp", Listen: lt, Reals: reals(tcpB), Check: check.Spec{Type: "connect", Interval: 20 * time.Millisecond}},
		{Name: "web", Listen: lw, Mode: "http", Reals: reals(webB), Persistent: time.Minute,
			Monitors: []check.Monitor{{Program: "/bin/true", Interval: 20 * time.Millisecond}}},
		{Name: "udp", Listen: lu, Protocol: "udp", Reals: reals(udpB)},
	}})
	b.Activate("tcp", "web", "udp")
	waitHealthy(t, b, "tcp")
	if out, err := proxytest.TCPRequest(lt.String(), "x"); err != nil || out != "x|t" {
		t.Errorf("tcp request = %q, %v", out, err)
	}
	if body, err := httpGet(lw); err != nil || body != "w" {
		t.Errorf("http request = %q, %v", body, err)
	}
	if _, err := proxytest.UDPRequest(lu, "ping"); err != nil {
		t.Errorf("udp exchange: %v", err)
	}
	est, err := net.Dial("tcp", lt.String()) // left open: Close must reset it
	if err != nil {
		t.Fatal(err)
	}
	defer est.Close()
	testkit.WaitFor(t, "established connection counted", func() bool { return svcStatus(t, b, "tcp").Reals[0].ActiveConn == 1 })
	b.Close()
	testkit.AwaitGoroutines(t, before)
}
