package e2e

import (
	"testing"
	"time"
)

// Test 1: the pair starts, exactly one node holds the VIP, and a client
// reaches the balanced service on it.
func TestPairStartsWithOneOwner(t *testing.T) {
	p := newPair(t, pairOptions{})
	p.start("lb1")
	p.start("lb2")
	took := p.waitOwner("lb1", 10*time.Second)
	t.Logf("lb1 (preferred) holds the VIP %v after start", took)
	if hs := p.holders(); len(hs) != 1 {
		t.Fatalf("VIP holders = %v, want exactly one", hs)
	}
	served := p.waitServed(5 * time.Second)
	t.Logf("client served through the VIP %v later", served.Round(time.Millisecond))
	if code, out := p.isMaster("lb1"); code != 0 || out != "master running" {
		t.Errorf("lb1: hactl is-master web = %d %q, want 0 \"master running\"", code, out)
	}
	if code, out := p.isMaster("lb2"); code != 1 || out != "master stopped" {
		t.Errorf("lb2: hactl is-master web = %d %q, want 1 \"master stopped\"", code, out)
	}
}
