package ha_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/wire"
)

// TestMaxNodes: every heartbeat lists what its sender hears of each other
// node, so a cluster larger than the wire's heard list is refused at
// configuration time instead of failing every send.
func TestMaxNodes(t *testing.T) {
	if ha.MaxNodes != wire.MaxHeard+1 {
		t.Fatalf("ha.MaxNodes = %d, want wire.MaxHeard+1 = %d", ha.MaxNodes, wire.MaxHeard+1)
	}
	nodes := func(n int) []string {
		var ns []string
		for i := range n {
			ns = append(ns, fmt.Sprintf("n%02d", i))
		}
		return ns
	}
	groups := []ha.GroupConfig{{Name: "web"}}
	if _, err := ha.New(ha.Config{Self: "n00", Nodes: nodes(ha.MaxNodes), Groups: groups}); err != nil {
		t.Errorf("New(%d nodes) = %v, want ok", ha.MaxNodes, err)
	}
	_, err := ha.New(ha.Config{Self: "n00", Nodes: nodes(ha.MaxNodes + 1), Groups: groups})
	if err == nil || !strings.Contains(err.Error(), "34 nodes, at most 33 fit a heartbeat") {
		t.Errorf("New(%d nodes) = %v, want the at most 33 error", ha.MaxNodes+1, err)
	}
}
