package link

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

var _ Keyring = (*testkit.Keys)(nil)

func clusterKeys() *testkit.Keys { return testkit.Keyring("cluster-secret") }
func forgerKeys() *testkit.Keys  { return testkit.Keyring("guessed-secret") }

const testCluster = 4242

var (
	addr1 = netip.MustParseAddr("127.0.0.1")
	addr2 = netip.MustParseAddr("127.0.0.2")
	addr3 = netip.MustParseAddr("127.0.0.3") // the attacker
)

func ucastSpec(name string, port uint16) Spec {
	return Spec{Name: name, Kind: "ucast", Port: port, Peers: map[string]netip.Addr{"lb1": addr1, "lb2": addr2}}
}

// node is one Set under test with what it delivered.
type node struct {
	*Set
	got   <-chan *wire.Packet // s.Received()
	clock *clocktest.Clock
	logs  *testkit.Buffer
}

// openNode opens a Set for self over real loopback sockets and closes it,
// checking for leaked goroutines, when the test ends.
func openNode(t *testing.T, self string, links ...Spec) *node {
	t.Helper()
	n := &node{clock: clocktest.New(time.Time{}), logs: &testkit.Buffer{}}
	cfg := Config{
		ClusterID: testCluster,
		Self:      self,
		Nodes:     []string{"lb1", "lb2"},
		Keyring:   clusterKeys(),
		Links:     links,
		Logger:    slog.New(slog.NewTextHandler(n.logs, nil)),
		Clock:     n.clock,
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s) error: %v", self, err)
	}
	n.Set = s
	n.got = s.Received()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() error: %v", err)
		}
		checkNoReceivers(t, s)
	})
	return n
}

// checkNoReceivers fails if any goroutine of s outlived Close.
func checkNoReceivers(t *testing.T, s *Set) {
	t.Helper()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if strings.Contains(string(buf), fmt.Sprintf("ha/link.(*Set).receive(%p", s)) ||
		strings.Contains(string(buf), fmt.Sprintf("ha/link.(*Set).receiveRealtime(%p", s)) {
		t.Errorf("link goroutine still running after Close:\n%s", buf)
	}
}

func (n *node) drops(i int, r DropReason) uint64 { return n.Stats().Links[i].Drops[r] }

// expectNoDelivery fails if anything was delivered.
func (n *node) expectNoDelivery(t *testing.T) {
	t.Helper()
	select {
	case d := <-n.got:
		t.Errorf("delivered %+v, want nothing", d)
	default:
	}
}

// rawSender sends arbitrary datagrams from 127.0.0.3 with a chosen TTL.
type rawSender struct {
	t  *testing.T
	c  *net.UDPConn
	to *net.UDPAddr
}

func newRawSender(t *testing.T, ttl int, to netip.AddrPort) *rawSender {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr3, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := ipv4.NewConn(c).SetTTL(ttl); err != nil {
		t.Fatal(err)
	}
	return &rawSender{t, c, net.UDPAddrFromAddrPort(to)}
}

func (r *rawSender) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.WriteToUDP(b, r.to); err != nil {
		r.t.Fatalf("sending %d bytes to %v: %v", len(b), r.to, err)
	}
}

// openWithSender opens lb2 on one ucast link and returns it with a
// sender of TTL 255 to its port: lb1's packets, from another address.
func openWithSender(t *testing.T) (*node, *rawSender) {
	t.Helper()
	port := testkit.FreeUDPPair(t)
	lb2 := openNode(t, "lb2", ucastSpec("ucast0", port))
	return lb2, newRawSender(t, 255, netip.AddrPortFrom(addr2, port))
}

// deliver sends b and fails the test unless n delivers it: a packet the
// case needs accepted before the one it is about.
func (r *rawSender) deliver(n *node, b []byte) {
	r.t.Helper()
	r.send(b)
	if d := <-n.got; d == nil {
		r.t.Fatal("setup packet not delivered")
	}
}

// sealed returns p sealed with keys, with test defaults filled in.
func sealed(t *testing.T, p wire.Packet, keys wire.Signer) []byte {
	t.Helper()
	if p.ClusterID == 0 {
		p.ClusterID = testCluster
	}
	if p.Sender == "" {
		p.Sender = "lb1"
	}
	b, err := wire.Seal(&p, keys)
	if err != nil {
		t.Fatalf("Seal(%+v) error: %v", p, err)
	}
	return b
}
