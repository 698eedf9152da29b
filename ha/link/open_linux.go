package link

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/ha/wire"
)

// Open opens a socket for every link in cfg and starts the Set (see New).
//
// A ucast link binds its own address (Peers[Self]) and port, on
// Spec.Interface when set (SO_BINDTODEVICE). An mcast link binds the group
// address and port on Spec.Interface (Go binds multicast listeners to the
// wildcard address; SO_REUSEADDR on both kinds lets them share the port), joins the group there, sends from that
// interface, and turns multicast loopback off so it never hears itself.
func Open(cfg Config, deliver func(p *wire.Packet, link string)) (*Set, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conns := make([]net.PacketConn, 0, len(cfg.Links))
	for _, spec := range cfg.Links {
		c, err := listen(spec, cfg.Self)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return New(cfg, conns, deliver)
}

func listen(spec Spec, self string) (net.PacketConn, error) {
	ctx := context.Background()
	switch spec.Kind {
	case "ucast":
		laddr := netip.AddrPortFrom(spec.Peers[self], spec.port())
		// SO_REUSEADDR: Go binds an mcast link to the wildcard address on
		// the same port, which would otherwise refuse this bind.
		lc := net.ListenConfig{Control: sockopts(spec.Interface, true)}
		c, err := lc.ListenPacket(ctx, "udp4", laddr.String())
		if err != nil {
			return nil, fmt.Errorf("link: %q: listening on %v: %w", spec.Name, laddr, err)
		}
		return c, nil
	case "mcast":
		ifi, err := net.InterfaceByName(spec.Interface)
		if err != nil {
			return nil, fmt.Errorf("link: %q: finding interface %q: %w", spec.Name, spec.Interface, err)
		}
		laddr := netip.AddrPortFrom(spec.Group, spec.port())
		lc := net.ListenConfig{Control: sockopts(spec.Interface, true)}
		c, err := lc.ListenPacket(ctx, "udp4", laddr.String())
		if err != nil {
			return nil, fmt.Errorf("link: %q: listening on %v: %w", spec.Name, laddr, err)
		}
		if err := joinMulticast(ipv4.NewPacketConn(c), ifi, spec); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("link: %q: kind %q, want mcast or ucast", spec.Name, spec.Kind)
}

func joinMulticast(pc *ipv4.PacketConn, ifi *net.Interface, spec Spec) error {
	group := &net.UDPAddr{IP: spec.Group.AsSlice()}
	if err := pc.JoinGroup(ifi, group); err != nil {
		return fmt.Errorf("link: %q: joining %v on %q: %w", spec.Name, spec.Group, ifi.Name, err)
	}
	if err := pc.SetMulticastInterface(ifi); err != nil {
		return fmt.Errorf("link: %q: sending multicast from %q: %w", spec.Name, ifi.Name, err)
	}
	if err := pc.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("link: %q: turning multicast loopback off: %w", spec.Name, err)
	}
	return nil
}

// sockopts returns a ListenConfig.Control that binds the socket to iface
// (when set) and, for multicast, allows several sockets on one group:port.
func sockopts(iface string, reuse bool) func(string, string, syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if reuse {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
					serr = fmt.Errorf("setting SO_REUSEADDR: %w", serr)
					return
				}
			}
			if iface != "" {
				if serr = unix.BindToDevice(int(fd), iface); serr != nil {
					serr = fmt.Errorf("binding to device %q: %w", iface, serr)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
