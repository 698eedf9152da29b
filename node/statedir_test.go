package node

import (
	"strings"
	"testing"
)

// TestLockNodeRefusesSecond: a second had for the same cluster in this
// network namespace fails at the lock, which is released on Close (issue 9
// case 2); another cluster is not blocked.
func TestLockNodeRefusesSecond(t *testing.T) {
	first, err := lockNode("locktest", 99)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockNode("locktest", 99)
	if err == nil || !strings.Contains(err.Error(), `another had for cluster "locktest" (id 99) runs on this node`) {
		t.Fatalf("second lockNode = %v, want refused naming the cluster", err)
	}
	other, err := lockNode("locktest", 100)
	if err != nil {
		t.Fatalf("lockNode for another cluster id = %v, want nil", err)
	}
	other.Close()
	first.Close()
	again, err := lockNode("locktest", 99)
	if err != nil {
		t.Fatalf("lockNode after Close = %v, want the lock free", err)
	}
	again.Close()
}
