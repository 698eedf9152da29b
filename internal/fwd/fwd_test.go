package fwd

import (
	"slices"
	"testing"
)

// TestMethods: the names are the ones users write (ipvsadm's, and
// "proxy" for the default), and the predicates split them as the kernel
// balancer does.
func TestMethods(t *testing.T) {
	if got, want := Names(), []string{"proxy", "nat", "dr"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if Methods()[0] != Default {
		t.Errorf("Methods()[0] = %q, want the default %q first", Methods()[0], Default)
	}
	for _, tt := range []struct {
		m             Method
		kernel, flows bool
	}{{Proxy, false, false}, {NAT, true, false}, {DR, true, true}, {"tun", false, false}} {
		if tt.m.Kernel() != tt.kernel || tt.m.Flows() != tt.flows {
			t.Errorf("%q: Kernel() = %v, Flows() = %v; want %v, %v", tt.m, tt.m.Kernel(), tt.m.Flows(), tt.kernel, tt.flows)
		}
	}
}
