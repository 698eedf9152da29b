package rawio

import (
	"net"
	"testing"
)

// ZoneIndex takes a number as the index, a name as its interface's index,
// and gives 0 for no zone or an unknown one.
func TestZoneIndex(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface named lo: %v", err)
	}
	for _, c := range []struct {
		zone string
		want uint32
	}{
		{"", 0}, {"7", 7}, {"lo", uint32(lo.Index)}, {"no-such-interface0", 0},
	} {
		if got := ZoneIndex(c.zone); got != c.want {
			t.Errorf("ZoneIndex(%q) = %d, want %d", c.zone, got, c.want)
		}
	}
}
