package node

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/config"
)

// procHex renders a as /proc/net/tcp does: 32-bit words in host order.
func procHex(a netip.AddrPort) string {
	b := a.Addr().AsSlice()
	var s strings.Builder
	for w := 0; w < len(b); w += 4 {
		fmt.Fprintf(&s, "%08X", binary.NativeEndian.Uint32(b[w:]))
	}
	return fmt.Sprintf("%s:%04X", s.String(), a.Port())
}

func procLine(sl int, local, remote netip.AddrPort, st, queues string) string {
	return "   " + string(rune('0'+sl)) + ": " + procHex(local) + " " + procHex(remote) + " " + st + " " + queues +
		" 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0"
}

func TestParseQueued(t *testing.T) {
	vip := netip.MustParseAddrPort("198.18.0.100:80")
	other := netip.MustParseAddrPort("198.18.0.100:81")
	client := netip.MustParseAddrPort("198.18.1.2:40000")
	any4 := netip.MustParseAddrPort("0.0.0.0:80")
	table := strings.Join([]string{
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
		procLine(0, vip, netip.MustParseAddrPort("0.0.0.0:0"), "0A", "00000000:00000002"),   // listener, 2 queued
		procLine(1, vip, client, "03", "00000000:00000000"),                                 // half-open: 1
		procLine(2, vip, client, "01", "00000000:00000000"),                                 // accepted: the proxy counts it
		procLine(3, vip, client, "06", "00000000:00000000"),                                 // TIME_WAIT: gone
		procLine(4, other, netip.MustParseAddrPort("0.0.0.0:0"), "0A", "00000000:00000005"), // another port
		procLine(5, any4, netip.MustParseAddrPort("0.0.0.0:0"), "0A", "00000000:00000001"),  // wildcard on the port: 1
	}, "\n") + "\n"
	got, err := parseQueued([]byte(table), []netip.AddrPort{vip})
	if err != nil {
		t.Fatal(err)
	}
	if got != 4 {
		t.Errorf("queued = %d, want 4 (2 in the VIP listener's queue, 1 half-open, 1 in the wildcard listener's)", got)
	}
	// A release's linger counts the accept queues only (inFlight).
	if got, err := parseQueues([]byte(table), []netip.AddrPort{vip}, false); err != nil || got != 3 {
		t.Errorf("accept queues = %d, %v; want 3 (the half-open one left out)", got, err)
	}

	v6 := netip.MustParseAddrPort("[2001:db8::100]:443")
	t6 := "  sl  local_address ...\n" + procLine(0, v6, netip.MustParseAddrPort("[::]:0"), "0A", "00000000:00000003") + "\n"
	if got, err := parseQueued([]byte(t6), []netip.AddrPort{v6}); err != nil || got != 3 {
		t.Errorf("IPv6 queued = %d, %v; want 3", got, err)
	}

	bad := "header\n   0: 0100007F:0050 00000000:0000 0A zz\n"
	if _, err := parseQueued([]byte(bad), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:80")}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad queues: err %v, want one naming line 2", err)
	}
}

// Against the kernel's own table: connections a loopback listener has
// not accepted are counted, and none once it has.
func TestQueuedConnsLive(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	for range 2 {
		c, err := net.Dial("tcp4", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// Dial returns at the SYN-ACK; the listener queues the connection at
	// the client's ACK, which loopback may deliver a moment later.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := queuedConns([]netip.AddrPort{addr})
		if err != nil {
			t.Fatal(err)
		}
		if got == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued before accepting = %d, want 2", got)
		}
		time.Sleep(time.Millisecond)
	}
	for range 2 {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if got, err := queuedConns([]netip.AddrPort{addr}); err != nil || got != 0 {
		t.Errorf("queued after accepting = %d, %v; want 0", got, err)
	}
}

func TestProcAddrPortLoopback(t *testing.T) {
	a, err := procAddrPort(procHex(netip.MustParseAddrPort("127.0.0.1:80")))
	if err != nil || a != netip.MustParseAddrPort("127.0.0.1:80") {
		t.Errorf("round trip = %v, %v", a, err)
	}
	for _, s := range []string{"0100007F", "0100007F:zz", "01007F:0050"} {
		if _, err := procAddrPort(s); err == nil {
			t.Errorf("procAddrPort(%q) = nil error", s)
		}
	}
}

// The hold covers each drained TCP service's listen address, the group's
// VIPs for a wildcard listener, and neither UDP nor loopback services.
func TestHeldVIPs(t *testing.T) {
	pfx := netip.MustParsePrefix
	cfg := &config.Config{
		Groups: []config.Group{
			{Name: "web", Resources: []config.Resource{{VIP: &config.VIP{Prefix: pfx("198.18.0.100/24")}}, {VIP: &config.VIP{Prefix: pfx("2001:db8::100/64")}}}},
			{Name: "other", Resources: []config.Resource{{VIP: &config.VIP{Prefix: pfx("198.18.0.200/24")}}}},
		},
		Services: []config.Service{
			{Name: "http", Listen: netip.MustParseAddrPort("198.18.0.100:80")},
			{Name: "dns", Protocol: "udp", Listen: netip.MustParseAddrPort("198.18.0.100:53")},
			{Name: "any4", Listen: netip.MustParseAddrPort("0.0.0.0:8080")},
			{Name: "any6", Listen: netip.MustParseAddrPort("[::]:8443")},
			{Name: "local", Listen: netip.MustParseAddrPort("127.0.0.1:9000")},
			{Name: "undrained", Listen: netip.MustParseAddrPort("198.18.0.200:80")},
		},
	}
	got := heldVIPs(cfg, []string{"web"}, []string{"http", "dns", "any4", "any6", "local"})
	want := []netip.AddrPort{
		netip.MustParseAddrPort("198.18.0.100:80"),
		netip.MustParseAddrPort("198.18.0.100:8080"),
		netip.MustParseAddrPort("198.18.0.100:8443"),
		netip.MustParseAddrPort("[2001:db8::100]:8443"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("heldVIPs = %v, want %v", got, want)
	}
}
