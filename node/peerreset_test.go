package node_test

import (
	"context"
	"testing"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/node"
	"github.com/hapair/hapair/node/nodetest"
)

// TestPeerResetSelf: `hactl peer reset lb1` on lb1 is refused as this node
// itself, saying where the reset does what was meant, not "not one of
// nodes" with lb1 in the list.
func TestPeerResetSelf(t *testing.T) {
	path, _ := nodetest.Example(t, "web-pair.toml", 0o600)
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Build(cfg, node.Options{Node: "lb1", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	_, err = n.Handle(context.Background(), ctl.Request{Verb: ctl.VerbPeer, Action: "reset", Peer: "lb1"})
	want := "lb1 is this node; peer reset is for a peer: to have lb2 accept lb1's heartbeats again, run hactl peer reset lb1 on lb2"
	if err == nil || err.Error() != want {
		t.Errorf("peer reset lb1 on lb1 = %v,\nwant %s", err, want)
	}
}
