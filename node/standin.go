package node

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"slices"
	"sync"
)

// standInHosts is the resolver of a check with NoHost: the config is for
// another machine, whose resolver may answer differently (or be the only
// one that knows the names), so no name is looked up here. Each host name
// gets an address of its own from the documentation ranges (RFC 5737),
// one the config does not write, so the rest of the check (duplicate
// reals, self-forwarding, the dry build) runs on distinct addresses; had
// resolves the names at its start and reloads as always. Names, in the
// order asked, say which were not resolved.
type standInHosts struct {
	text []byte // the config file, to skip addresses it writes

	mu    sync.Mutex
	addrs map[string]netip.Addr
	names []string
	next  int
}

func newStandInHosts(path string) *standInHosts {
	text, _ := os.ReadFile(path) // unreadable: config.Load reports it
	return &standInHosts{text: text, addrs: map[string]netip.Addr{}}
}

// standInNets are the RFC 5737 ranges, 254 hosts each.
var standInNets = [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}

// LookupNetIP returns name's stand-in address; it fails only when the
// config writes every documentation-range address.
func (h *standInHosts) LookupNetIP(_ context.Context, _, name string) ([]netip.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.addrs[name]; ok {
		return []netip.Addr{a}, nil
	}
	for h.next < len(standInNets)*254 {
		n := standInNets[h.next/254]
		a := netip.AddrFrom4([4]byte{n[0], n[1], n[2], byte(h.next%254 + 1)})
		h.next++
		if bytes.Contains(h.text, []byte(a.String())) {
			continue
		}
		h.addrs[name] = a
		h.names = append(h.names, name)
		return []netip.Addr{a}, nil
	}
	return nil, errNoStandIn
}

// Names returns the host names given stand-ins, sorted.
func (h *standInHosts) Names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(slices.Values(h.names))
}

type noStandIn struct{}

func (noStandIn) Error() string {
	return "not resolved (--no-host) and no documentation-range address is left to stand in for it"
}

var errNoStandIn error = noStandIn{}
