package importer

import (
	"net/netip"
	"testing"

	"github.com/hapair/hapair/proxy"
)

// TestListenSetIsOverlap: over every sequence of three listens from a mix
// of wildcards and addresses of both families, listenSet refuses exactly
// the ones proxy.Overlap (had's load) finds bound already.
func TestListenSetIsOverlap(t *testing.T) {
	cands := []string{"0.0.0.0:80", "[::]:80", "198.18.0.1:80", "198.18.0.2:80", "[2001:db8::1]:80", "0.0.0.0:81", "198.18.0.1:81"}
	for _, a := range cands {
		for _, b := range cands {
			for _, c := range cands {
				ls := listenSet{}
				var kept []netip.AddrPort
				for i, l := range []string{a, b, c} {
					ap := netip.MustParseAddrPort(l)
					want := false
					for _, k := range kept {
						want = want || proxy.Overlap(k, ap)
					}
					if _, got := ls.clash("tcp", ap); got != want {
						t.Fatalf("%s then %s then %s: listen %d (%s) clashes %v, proxy.Overlap says %v", a, b, c, i+1, l, got, want)
					}
					if !want {
						kept = append(kept, ap)
						ls.add("tcp", ap, listenAt{l, src{}})
					}
				}
			}
		}
	}
	ls := listenSet{}
	ls.add("tcp", netip.MustParseAddrPort("0.0.0.0:53"), listenAt{"0.0.0.0:53", src{}})
	if _, clash := ls.clash("udp", netip.MustParseAddrPort("198.18.0.1:53")); clash {
		t.Error("udp clashes with tcp on the same port")
	}
}
