// Package link carries sealed heartbeats over UDP: multicast groups and
// unicast peer lists, several links at once, every packet on every link, as
// Heartbeat's mcast and ucast media do (default port 694, IANA ha-cluster).
//
// It owns the sockets and the receive pipeline. Each datagram passes, in
// order: received TTL == 255 (GTSM, RFC 5082, as CARP and keepalived do;
// we also send with TTL 255, so an off-link sender cannot reach us) ->
// size -> MAC (before any body field is trusted; ha/wire.Open) -> cluster
// id -> known sender, not ourselves -> replay (ha/replay, one filter per
// peer shared by all links; a copy of an accepted packet counts as a
// duplicate, and as a sign of life of its link, only within the sender's
// keepalive, later it is a replay) -> Received. Every other outcome is a named
// DropReason, counted per link and logged rate-limited with the peer
// address. It owns the packet header's cluster id and sequence number
// (Send stamps them, receive checks them); it does not interpret groups or
// states (package ha does) and does not pick the generation
// (ha/generation, carried by the machine).
//
// Stats.Dropping names, per peer dropped as a replay, the cause ("generation
// 1 < 3"); ResetPeer is the operator's remedy. Unicast sockets are bound
// exclusively (no SO_REUSEADDR), so no other local socket receives the
// heartbeats; multicast sockets bind the group address.
//
// Open builds real sockets; New runs the same pipeline over conns the
// caller opened (loopback UDP in tests), like mdlayher/arp's Dial/New.
// IPv4 only, through golang.org/x/net/ipv4.
package link
