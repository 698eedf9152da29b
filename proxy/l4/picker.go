package l4

import "net/netip"

// Upstream is one real server chosen by a Picker.
type Upstream interface {
	// Addr is where to connect.
	Addr() netip.AddrPort
	// AddConns moves the real's connection counters by the given deltas.
	// Like ipvsadm, a TCP connection is active while both directions are
	// open and inactive once one side has finished (half-closed); a UDP
	// flow counts as inactive.
	AddConns(active, inactive int64)
}

// Picker chooses a real for each new connection or flow. It is
// implemented by package proxy (scheduler, persistence, health, drain).
type Picker interface {
	// Pick returns the real for a new connection from client, never one in
	// tried (earlier failed connect attempts for this connection). ok is
	// false when no real is available.
	Pick(client netip.Addr, tried []netip.AddrPort) (u Upstream, ok bool)
}
