// Package upstream is the seam between the balancer's choice of a real and
// its data paths: package proxy implements Picker (scheduler, persistence,
// health, drain, fallback), and proxy/l4 (TCP relay, UDP flows) and
// proxy/l7 (HTTP mode) consume it. It holds only these two interfaces, so
// both data paths share one contract; upstreamtest has the fake.
package upstream

import "net/netip"

// Upstream is one real server chosen by a Picker.
type Upstream interface {
	// Addr is where to connect.
	Addr() netip.AddrPort
	// AddConns moves the real's connection counters by the given deltas,
	// in ipvsadm's terms: a TCP connection is active while both directions
	// are open and inactive once one side has finished (half-closed); a UDP
	// flow counts as inactive; HTTP mode counts the requests in flight to
	// the real as active and reports no inactive ones.
	AddConns(active, inactive int64)
}

// ByteCounter is an Upstream that also counts the bytes relayed to and
// from it, like ipvsadm --stats' InBytes (client to real) and OutBytes
// (real to client). It is optional: data paths count only when the
// Upstream has it.
type ByteCounter interface {
	AddBytes(in, out uint64)
}

// Picker chooses a real for each new connection, flow or request.
type Picker interface {
	// Pick returns the real for client, never one in tried (earlier failed
	// connect attempts for the same connection or request). ok is false
	// when no real is available.
	Pick(client netip.Addr, tried []netip.AddrPort) (u Upstream, ok bool)
}
