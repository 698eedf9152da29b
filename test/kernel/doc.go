// Package kernel tests proxy/nft's forwarding methods (LVS nat and dr on
// nftables) against the real kernel, in network namespaces built by
// test/lab: a balancer (lb1), reals (backend1..3) and a client. The
// servers and clients run inside the test process, each socket created
// in its host's namespace, so the tests see exactly which real served a
// connection and which client address it saw. They need root, ip and nft
// and skip without them, unless HAPAIR_E2E=1.
package kernel
