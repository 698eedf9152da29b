package serviceconf

import (
	"fmt"
	"slices"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/fwd"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/sched"
)

// kernelService checks what the kernel methods (nat, dr) cannot do, with
// the reason, and what dr needs.
func (c *reader) kernelService(path string, r *config.RawService, s *config.Service) {
	if !s.Method.Kernel() {
		return
	}
	if s.Mode == "http" {
		c.k.Errorf(path+".mode", "method %q forwards packets in the kernel; http mode needs method \"proxy\"", s.Method)
	}
	// An unknown scheduler has proxy.Config.Validate's error already.
	if err := nft.SchedulerError(s.Scheduler); err != nil && slices.Contains(sched.Names(), s.Scheduler) {
		c.k.Errorf(path+".scheduler", "%q with method %q: %v", s.Scheduler, s.Method, err)
	}
	switch a := s.Listen.Addr(); {
	case !a.IsValid():
	case !a.Is4():
		c.k.Errorf(path+".listen", "method %q is IPv4 only", s.Method)
	// The kernel rules match the destination address (proxy/nft's match):
	// a wildcard would match no packet, and no client's packet is
	// addressed to a loopback address.
	case a.IsUnspecified():
		c.k.Errorf(path+".listen", "%s: method %q forwards the packets whose destination is the listen address, and no packet is addressed to %s; listen on a VIP of the group, or use method \"proxy\"", s.Listen, s.Method, a)
	case a.IsLoopback():
		c.k.Errorf(path+".listen", "%s: method %q forwards the packets whose destination is the listen address, and no client's packet is addressed to a loopback address; listen on a VIP of the group, or use method \"proxy\"", s.Listen, s.Method)
	}
	if s.Fallback.IsValid() && s.Fallback.Addr().IsLoopback() {
		c.k.Errorf(path+".fallback", "%s: a loopback fallback cannot take forwarded packets with method %q; give a server on the reals' network", s.Fallback, s.Method)
	}
	c.kernelLimits(path, s)
	if s.Method == fwd.DR {
		// What each real must have is in the error text and Config docs:
		// the VIP on a loopback, arp_ignore=1 and arp_announce=2, the same
		// port, and the same L2 segment as the balancer.
		if c.k.Has(path + ".interface") {
			s.Interface = c.k.Ifname(path+".interface", r.Interface)
		} else {
			c.k.Errorf(path+".interface", `required for method "dr": the interface the VIP's packets arrive on, where dr rewrites their MAC address at ingress`)
		}
		for i, rr := range s.Reals {
			if rr.Address.Port() != s.Listen.Port() {
				c.k.Errorf(field.Index(path+".reals", i)+".address", "%s: dr forwards frames unchanged, so each real serves the virtual port %d itself, holds the VIP on a loopback with arp_ignore=1 and arp_announce=2, and sits on the balancer's segment", rr.Address, s.Listen.Port())
			}
		}
		if s.Fallback.IsValid() && s.Fallback.Port() != s.Listen.Port() {
			c.k.Errorf(path+".fallback", "%s: dr forwards frames unchanged, so the fallback serves the virtual port %d itself, as a real does", s.Fallback, s.Listen.Port())
		}
	}
}

// maxServiceName bounds a service name in bytes.
const maxServiceName = 64

// ServiceNameError reports why name cannot be the name of a [[service]]
// forwarded with method ("proxy" or "", "nat", "dr"), nil when it can: the
// rule Services applies, the kernel methods' (proxy/nft.ValidName:
// nftables chains and maps carry the name, so no '.') on top of
// config.ValidName's.
func ServiceNameError(name, method string) error {
	if !config.ValidName(name, maxServiceName) {
		return fmt.Errorf("service name %q: want 1..%d characters of A-Z a-z 0-9 . _ -", name, maxServiceName)
	}
	if fwd.Method(method).Kernel() {
		return nft.ValidName(name)
	}
	return nil
}

// kernelLimits positions what proxy/nft's Validate refuses in a nat or
// dr service that the proxy method takes: the names nftables objects can
// carry, IPv6 and loopback reals, an IPv6 fallback, sub-second persistence
// and the slot table's size.
func (c *reader) kernelLimits(path string, s *config.Service) {
	if s.Name != "" && nft.ValidName(s.Name) != nil {
		c.k.Errorf(path+".name", "%q: method %q names its nftables chains and maps after the service: want only A-Z a-z 0-9 _ -", s.Name, s.Method)
	}
	var weights []int
	for i, r := range s.Reals {
		switch a := r.Address.Addr(); {
		case a.IsValid() && !a.Is4():
			c.k.Errorf(field.Index(path+".reals", i)+".address", "%s: method %q is IPv4 only: give the real's IPv4 address, or method \"proxy\"", r.Address, s.Method)
		case a.IsLoopback():
			c.k.Errorf(field.Index(path+".reals", i)+".address", "%s: a loopback real cannot take forwarded packets with method %q; give a server on the reals' network", r.Address, s.Method)
		}
		weights = append(weights, r.Weight)
	}
	if a := s.Fallback.Addr(); a.IsValid() && !a.Is4() {
		c.k.Errorf(path+".fallback", "%s: method %q is IPv4 only: give the fallback's IPv4 address, or method \"proxy\"", s.Fallback, s.Method)
	}
	if s.Persistent > 0 && s.Persistent < nft.MinPersistent {
		c.k.Errorf(path+".persistent", "%v: method %q takes 0 (off) or at least %v, as ipvsadm -p counts whole seconds", s.Persistent, s.Method, nft.MinPersistent)
	}
	if n := nft.WRRSlotCount(weights); nft.Weighted(s.Scheduler) && n > nft.MaxSlots {
		c.k.Errorf(path+".reals", "%s weights need %d slots in the kernel's slot map, more than %d: use smaller weights with a common divisor", s.Scheduler, n, nft.MaxSlots)
	}
}
