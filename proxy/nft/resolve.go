package nft

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
)

// ResolveDR fills the link and MAC fields of s's reals and fallback for
// direct routing: the route to each real must be on-link (no gateway; dr
// rewrites only the MAC, so the real must share a segment with the
// balancer, as with ipvsadm -g), and its MAC comes from the neighbour
// table or, when absent, from one ARP request (RFC 826) bounded by ctx
// (default 1s). It changes no host state.
func ResolveDR(ctx context.Context, s *Service) error {
	for i := range s.Reals {
		if err := resolveReal(ctx, &s.Reals[i]); err != nil {
			return fmt.Errorf("nft: service %q: %w", s.Name, err)
		}
	}
	if s.Fallback != nil {
		if err := resolveReal(ctx, s.Fallback); err != nil {
			return fmt.Errorf("nft: service %q: fallback: %w", s.Name, err)
		}
	}
	return nil
}

func resolveReal(ctx context.Context, r *Real) error {
	ip := r.Addr.Addr()
	routes, err := netlink.RouteGet(ip.AsSlice())
	if err != nil || len(routes) == 0 {
		return fmt.Errorf("dr real %s: no route: %v", ip, err)
	}
	rt := routes[0]
	if rt.Gw != nil {
		return fmt.Errorf("dr real %s: reached through gateway %s; direct routing needs the real on a directly connected network", ip, rt.Gw)
	}
	link, err := netlink.LinkByIndex(rt.LinkIndex)
	if err != nil {
		return fmt.Errorf("dr real %s: link %d: %w", ip, rt.LinkIndex, err)
	}
	attrs := link.Attrs()
	if attrs.Flags&net.FlagLoopback != 0 {
		return fmt.Errorf("dr real %s: is a local address", ip)
	}
	if len(attrs.HardwareAddr) != 6 {
		return fmt.Errorf("dr real %s: link %s has no Ethernet address", ip, attrs.Name)
	}
	r.Link, r.LinkIndex, r.LinkMAC = attrs.Name, attrs.Index, attrs.HardwareAddr
	if hw := neighbour(attrs.Index, ip); hw != nil {
		r.MAC = hw
		return nil
	}
	hw, err := arpResolve(ctx, attrs.Name, ip)
	if err != nil {
		return fmt.Errorf("dr real %s: ARP on %s: %w", ip, attrs.Name, err)
	}
	r.MAC = hw
	return nil
}

func neighbour(ifindex int, ip netip.Addr) net.HardwareAddr {
	ns, err := netlink.NeighList(ifindex, netlink.FAMILY_V4)
	if err != nil {
		return nil
	}
	for _, n := range ns {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip && len(n.HardwareAddr) == 6 &&
			n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT) != 0 {
			return n.HardwareAddr
		}
	}
	return nil
}

func arpResolve(ctx context.Context, ifname string, ip netip.Addr) (net.HardwareAddr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Second)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	hw, err := c.Resolve(ip)
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return nil, fmt.Errorf("no reply from %s by %s", ip, deadline.Format(time.RFC3339Nano))
	}
	return hw, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
