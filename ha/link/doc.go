// Package link carries sealed heartbeats over UDP: multicast groups and
// unicast peer lists, several links at once, every packet on every link, as
// Heartbeat's mcast and ucast media do (default port 694, IANA ha-cluster).
//
// It owns the sockets and the receive pipeline. Each datagram passes, in
// order: received TTL == 255 (GTSM, RFC 5082, as CARP and keepalived do;
// we also send with TTL 255, so an off-link sender cannot reach us) ->
// size -> MAC (before any body field is trusted; ha/wire.Open) -> cluster
// id -> known sender, not ourselves -> replay (ha/replay, one filter per
// peer shared by all links) -> Received. Every other outcome is a named
// DropReason, counted per link and logged rate-limited with the peer
// address. It owns the packet header's cluster id and sequence number
// (Send stamps them, receive checks them); it does not interpret groups or
// states (package ha does) and does not pick the generation
// (ha/generation, carried by the machine).
//
// Open builds real sockets; New runs the same pipeline over conns the
// caller opened (loopback UDP in tests), like mdlayher/arp's Dial/New.
// IPv4 only, through golang.org/x/net/ipv4.
package link
