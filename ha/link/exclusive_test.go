package link

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
	"golang.org/x/sys/unix"
)

// listenReuse binds addr the way a local user trying to steal heartbeats
// would: with SO_REUSEADDR, which shares a port with any other socket that
// set it too.
func listenReuse(addr string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.ListenPacket(context.Background(), "udp4", addr)
}

// TestUcastBindIsExclusive: once a ucast link is open, no other socket can
// bind its port on its address or on the wildcard, even with SO_REUSEADDR
// (issue 9 case 9).
func TestUcastBindIsExclusive(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	openNode(t, "lb1", ucastSpec("eth1", port))
	for _, addr := range []string{netip.AddrPortFrom(addr1, port).String(), netip.AddrPortFrom(netip.IPv4Unspecified(), port).String()} {
		if c, err := listenReuse(addr); err == nil {
			c.Close()
			t.Errorf("binding %s with SO_REUSEADDR next to an open ucast link succeeded, want address in use", addr)
		}
	}
}

// TestUcastPortTaken: a port someone else holds fails Open with
// ErrPortTaken, naming the link and address.
func TestUcastPortTaken(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	thief, err := listenReuse(netip.AddrPortFrom(addr1, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	_, err = Open(Config{ClusterID: testCluster, Self: "lb1", Nodes: []string{"lb1", "lb2"}, Keyring: clusterKeys(),
		Links: []Spec{ucastSpec("eth1", port)}})
	if !errors.Is(err, ErrPortTaken) {
		t.Fatalf("Open() with the port taken = %v, want ErrPortTaken", err)
	}
	if want := `link: "eth1": listening on ` + netip.AddrPortFrom(addr1, port).String() + `: port already in use`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open() error = %q, want prefix %q", err, want)
	}
}

// TestUcastBesideMcast: an mcast link and a ucast link share one port, as
// Heartbeat's default setup has them on 694 (the mcast socket binds the
// group, not the wildcard).
func TestUcastBesideMcast(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	mc := Spec{Name: "mcast0", Kind: "mcast", Interface: "lo", Group: testGroup, Port: port}
	if _, err := tryOpenMcast(t, "lb1", mc); err != nil {
		skipOrFail(t, err)
	}
	openNode(t, "lb1", ucastSpec("eth1", port))
}
