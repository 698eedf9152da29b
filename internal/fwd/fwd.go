// Package fwd names the forwarding methods of a [[service]] and says what
// each implies, so that the config reader, the kernel balancer (proxy/nft)
// and package node share one list instead of each writing "nat" and "dr".
// The names are ipvsadm's (-m masquerading is nat, -g gatewaying is dr);
// "proxy" is hapair's own userspace balancer.
//
// The package is pure: no imports, no I/O. It sits under internal/ because
// both internal/config (which imports ha/...) and proxy/nft use it, and
// neither may import the other's side.
package fwd

// Method is a forwarding method as the config file writes it.
type Method string

// The forwarding methods. Adding one means a constant here, a row in
// Methods and, for a kernel method, proxy/nft's rules.
const (
	// Proxy is hapair's userspace l4/http balancer (proxy/l4, proxy/l7),
	// the default: the balancer ends the client's connection and opens
	// its own to the real.
	Proxy Method = "proxy"
	// NAT is LVS-NAT (ipvsadm -m): the kernel rewrites the destination
	// (DNAT) and the reals route their replies through a VIP of the group.
	NAT Method = "nat"
	// DR is LVS-DR (ipvsadm -g): the kernel rewrites the destination MAC
	// at ingress, and each real holds the VIP on a loopback and replies
	// to the client directly.
	DR Method = "dr"
)

// Default is the method of a service that names none.
const Default = Proxy

// Methods lists every method, the default first.
func Methods() []Method { return []Method{Proxy, NAT, DR} }

// Names lists every method's name, the default first, for a reader that
// takes strings.
func Names() []string {
	var out []string
	for _, m := range Methods() {
		out = append(out, string(m))
	}
	return out
}

// Kernel reports whether m forwards packets in the kernel (proxy/nft's
// nftables rules) rather than through hapair's userspace balancer.
func (m Method) Kernel() bool { return m == NAT || m == DR }

// Flows reports whether m pins established connections in a flow table
// of its own, which the persistence sync carries to the peer: dr does,
// as it forwards at netdev ingress before conntrack (nat's connections
// ride in conntrack, which conntrackd carries).
func (m Method) Flows() bool { return m == DR }
