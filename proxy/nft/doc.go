// Package nft programs the kernel forwarding methods of LVS on nftables:
// `nat` (LVS-NAT, ipvsadm -m "masq": DNAT in the prerouting hook, the reals
// route their replies back through the balancer) and `dr` (direct routing,
// ipvsadm -g "gate": at netdev ingress the destination MAC is rewritten to
// the real's and the frame is sent out again; the reals hold the VIP on a
// loopback with arp_ignore=1 and arp_announce=2). The kernel has no IPVS
// here; the schedulers rr, wrr and sh and ipvsadm -p persistence are built
// from numgen, jhash and dynamic maps with timeouts.
//
// It owns two tables named "hapair": `ip hapair` (nat) and `netdev hapair`
// (dr, whose base chains hook a device's ingress), and two of planned
// moves: `inet hapair_hold` (Hold, the SYN hold) and `netdev hapair_fwd`
// (Forward, the successor's forward to a lingering old owner). Each is
// marked as hapair's by a set named "owner" with a fixed comment; a table of
// that name without the marker is someone else's and is never touched.
// Every change (Apply) is one netlink batch, which the kernel applies
// atomically: a packet sees either the old rules or the new ones. Updates
// keep the dynamic maps (persistence, and dr's flow table), and established
// connections never pass the scheduling rules again: nat ones are pinned by
// conntrack's DNAT mapping, dr ones by the flow map.
//
// Persistence and Flows read the persistence templates and dr flows back
// for the peer, and Service.Seed and SeedFlows load the peer's into the
// sets at a takeover, as the IPVS sync daemon carries its templates and
// connection table (nat connections travel in conntrack, by conntrackd).
//
// It does not bind VIPs, check health, resolve neighbours on its own, or
// decide when to apply: the caller hands it the wanted state of every
// kernel service. The kernel is reached only through the Conn interface;
// Netlink wraps github.com/google/nftables, and tests read the batch as a
// text trace in the style of `nft --debug=netlink`, without root.
package nft
