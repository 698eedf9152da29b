package testkit

import (
	"context"
	"errors"
	"net/netip"
)

// Resolver answers host-name lookups from memory, so that no test sends
// a DNS query off the machine. It has the LookupNetIP method of
// net.Resolver; a name it does not hold fails with "lookup NAME: no such
// host".
type Resolver map[string][]netip.Addr

// LookupNetIP returns the addresses of host, ignoring the network.
func (r Resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, errors.New("lookup " + host + ": no such host")
}
