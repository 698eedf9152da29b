package rawio

import (
	"net"
	"strconv"
)

// ZoneIndex is an IPv6 zone ("eth0", or a number) as the interface index
// a sockaddr_in6's sin6_scope_id holds, for callers that build their own
// sockaddr for connect(2). A number is taken as the index itself (looked
// at first: it needs no interface lookup), else the interface of that
// name; 0 (no scope) when neither is found, as for an empty zone.
func ZoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if id, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(id)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}
