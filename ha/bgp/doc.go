// Package bgp is the `bgp` resource: it announces a group's virtual
// addresses as host routes (/32, /128) to upstream BGP routers through a
// local BIRD 2 (Debian's bird2), so routers spread flows over every node
// announcing them with ECMP (as MetalLB's and kube-vip's BGP modes do).
//
// One BIRD per node (Speaker) runs with a generated config: a BGP session
// per configured neighbour with BFD (RFC 5880/5881, single hop) so a dead
// node's routes leave the router in about 3 × the BFD interval, and one
// static protocol per group, disabled at start, holding the group's
// routes. A Resource enables its group's protocol (announce) and disables
// it (withdraw) through BIRD's control socket (the birdc protocol: one
// command a line, numbered reply lines); while enabled, a health gate is
// polled and the routes are withdrawn while it fails. The addresses
// themselves are bound on lo (no ARP for them on the LAN: the routers, not
// the switches, steer traffic to the node).
//
// BIRD is started with the parent-death signal set to SIGKILL, so when had
// dies, its BIRD dies with it and the router drops the sessions (at once
// when the host still runs, by BFD when the host is gone). Speaker.Close
// withdraws everything and stops BIRD with `down`, which ends each session
// with a BGP Cease NOTIFICATION (RFC 4486).
package bgp
