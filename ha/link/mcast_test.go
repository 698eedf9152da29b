package link

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

// testGroup is an administratively scoped group (RFC 2365), used on lo only.
var testGroup = netip.MustParseAddr("239.255.69.4")

// TestMulticastLoopback runs two mcast links on lo: each joins the group,
// sends with TTL 255 and loopback off. On lo the packets reach both sockets
// anyway, because what lo transmits it receives; IP_MULTICAST_LOOP only
// turns off the host's extra local copy on real interfaces (tested in the
// netns lab). So here the sender also hears itself, which exercises
// DropSelf through a real multicast socket.
func TestMulticastLoopback(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	spec := Spec{Name: "mcast0", Kind: "mcast", Interface: "lo", Group: testGroup, Port: port}
	lb1, err := tryOpenMcast(t, "lb1", spec)
	if err != nil {
		skipOrFail(t, err)
	}
	lb2, err := tryOpenMcast(t, "lb2", spec)
	if err != nil {
		skipOrFail(t, err)
	}
	if err := lb1.Send(&wire.Packet{Generation: 1}); err != nil {
		t.Fatalf("lb1.Send() error: %v", err)
	}
	d := <-lb2.got
	if st := lb2.Stats().Links[0]; d.Sender != "lb1" || st.Name != "mcast0" || st.Delivered != 1 {
		t.Errorf("lb2 delivered %+v (link %s delivered %d), want lb1's packet on mcast0", d, st.Name, st.Delivered)
	}
	testkit.WaitFor(t, "lb1 dropping its own packet", func() bool { return lb1.drops(0, DropSelf) == 1 })
	st := lb1.Stats().Links[0]
	want := LinkStats{Name: "mcast0", Kind: "mcast", Sent: 1, Received: 1,
		Drops: map[DropReason]uint64{DropSelf: 1}, LastHeard: map[string]time.Time{}, Heard: map[string]uint64{},
		SentTo: map[string]uint64{"lb2": 1}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("lb1.Stats() = %+v, want %+v", st, want)
	}
	lb1.expectNoDelivery(t)
}

func tryOpenMcast(t *testing.T, self string, spec Spec) (*node, error) {
	t.Helper()
	n := &node{clock: clocktest.New(time.Time{}), logs: &testkit.Buffer{}}
	s, err := Open(Config{ClusterID: testCluster, Self: self, Nodes: []string{"lb1", "lb2"},
		Keyring: clusterKeys(), Links: []Spec{spec}, Clock: n.clock})
	if err != nil {
		return nil, err
	}
	n.Set = s
	n.got = s.Received()
	t.Cleanup(func() {
		s.Close()
		checkNoReceivers(t, s)
	})
	return n, nil
}

// skipOrFail skips when the kernel refuses multicast on lo for lack of
// privilege, and fails on anything else.
func skipOrFail(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("skipping, multicast on lo needs privilege here: %v", err)
	}
	t.Fatalf("opening multicast link on lo: %v", err)
}
