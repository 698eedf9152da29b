package link

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

var _ Keyring = (*authkeys.Keyring)(nil)

// TestAuthkeysRotation runs the real keyring mid-rotation: lb1 already signs
// with key 2, lb2 still signs with key 1; both verify both, so both hear each
// other, and a node with only the old key drops lb1 as bad-mac.
func TestAuthkeysRotation(t *testing.T) {
	keyring := func(text string) *authkeys.Keyring {
		t.Helper()
		k, _, err := authkeys.Parse(strings.NewReader(text), "authkeys")
		if err != nil {
			t.Fatalf("authkeys.Parse(%q) error: %v", text, err)
		}
		return k
	}
	const keys = "1 sha256 old secret\n2 sha256 new secret\n"
	port := testkit.FreeUDPPair(t)
	open := func(self string, k *authkeys.Keyring) *node {
		n := &node{clock: clocktest.New(time.Time{}), logs: &testkit.Buffer{}}
		s, err := Open(Config{ClusterID: testCluster, Self: self, Nodes: []string{"lb1", "lb2"}, Keyring: k,
			Links: []Spec{ucastSpec("ucast0", port)}, Logger: slog.New(slog.NewTextHandler(n.logs, nil)), Clock: n.clock})
		if err != nil {
			t.Fatalf("Open(%s) error: %v", self, err)
		}
		n.Set = s
		n.got = s.Received()
		t.Cleanup(func() { s.Close(); checkNoReceivers(t, s) })
		return n
	}
	lb1 := open("lb1", keyring("auth 2\n"+keys))
	lb2 := open("lb2", keyring("auth 1\n"+keys))
	if err := lb1.Send(&wire.Packet{Generation: 1}); err != nil {
		t.Fatal(err)
	}
	if d := <-lb2.got; d.Sender != "lb1" {
		t.Errorf("lb2 delivered %+v, want lb1's packet", d)
	}
	if err := lb2.Send(&wire.Packet{Generation: 1}); err != nil {
		t.Fatal(err)
	}
	if d := <-lb1.got; d.Sender != "lb2" {
		t.Errorf("lb1 delivered %+v, want lb2's packet", d)
	}

	// lb2 restarts knowing only the old key: lb1's key-2 packets fail.
	lb2.Close()
	lb2 = open("lb2", keyring("auth 1\n1 sha256 old secret\n"))
	if err := lb1.Send(&wire.Packet{Generation: 1}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "bad-mac drop", func() bool { return lb2.drops(0, DropBadMAC) == 1 })
	lb2.expectNoDelivery(t)
	if logs := lb2.logs.String(); !strings.Contains(logs, "opening packet with key 2: bad MAC") {
		t.Errorf("log %q does not name key 2", logs)
	}
}
