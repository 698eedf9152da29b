package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Open opens a socket for every link in cfg and starts the Set (see New).
//
// A ucast link binds its own address (Peers[Self]) and port, on
// Spec.Interface when set (SO_BINDTODEVICE), exclusively: without
// SO_REUSEADDR, so no other socket (a local user's, on a port >= 1024) can
// bind the port on that address or the wildcard and receive the heartbeats
// instead; a port already taken fails with ErrPortTaken. An mcast link
// binds the group address itself (not the wildcard, as Go's ListenPacket
// would) and port on Spec.Interface with SO_REUSEADDR, since several
// receivers of one group is what multicast is, joins the group there,
// sends from that interface, and turns multicast loopback off so it never
// hears itself.
func Open(cfg Config) (*Set, error) {
	if err := cfg.Validate(); err != nil {
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
	return New(cfg, conns)
}

func listen(spec Spec, self string) (net.PacketConn, error) {
	ctx := context.Background()
	switch spec.Kind {
	case KindUcast:
		laddr := netip.AddrPortFrom(spec.Peers[self], spec.port())
		lc := net.ListenConfig{Control: sockopts(spec.Interface, false)}
		c, err := lc.ListenPacket(ctx, "udp4", laddr.String())
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("link: %q: listening on %v: %w (another had, or another program, has it; heartbeats must reach only this daemon)", spec.Name, laddr, ErrPortTaken)
		}
		if err != nil {
			return nil, fmt.Errorf("link: %q: listening on %v: %w", spec.Name, laddr, err)
		}
		return c, nil
	case KindMcast:
		ifi, err := net.InterfaceByName(spec.Interface)
		if err != nil {
			return nil, fmt.Errorf("link: %q: finding interface %q: %w", spec.Name, spec.Interface, err)
		}
		laddr := netip.AddrPortFrom(spec.Group, spec.port())
		c, err := listenGroup(laddr, spec.Interface)
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

// ErrPortTaken is returned (wrapped) by Open when a ucast link's address
// and port are bound by another socket.
var ErrPortTaken = errors.New("port already in use")

// listenGroup binds a UDP socket to the multicast group address and port:
// it receives only datagrams sent to the group, so it never overlaps a
// ucast link's exclusive bind of a unicast address on the same port.
func listenGroup(laddr netip.AddrPort, iface string) (net.PacketConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("opening socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mcast "+laddr.String())
	defer f.Close() // FilePacketConn dups it
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := sockopts(iface, true)("udp4", laddr.String(), rc); err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(laddr.Port()), Addr: laddr.Addr().As4()}); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	return net.FilePacketConn(f)
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

// RecvBuffer is the receive buffer every link socket asks for. A flood of
// forged packets (10,000/s in the chaos suite) queues one skb of about
// 1 KiB truesize per datagram; the default (net.core.rmem_default, about
// 208 KiB) overflowed when the reading goroutine was descheduled on a busy
// machine, and the kernel dropped real heartbeats with the forged ones.
// 4 MiB holds about 0.4 s of such a flood. had has CAP_NET_ADMIN, so it
// sets it with SO_RCVBUFFORCE past net.core.rmem_max; without the
// capability it falls back to SO_RCVBUF (capped at rmem_max).
const RecvBuffer = 4 << 20

// sockopts returns a ListenConfig.Control that sizes the receive buffer,
// binds the socket to iface (when set) and, with reuse (multicast only),
// allows several sockets on one group:port.
func sockopts(iface string, reuse bool) func(string, string, syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, RecvBuffer) != nil {
				if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, RecvBuffer); serr != nil {
					serr = fmt.Errorf("setting SO_RCVBUF to %d: %w", RecvBuffer, serr)
					return
				}
			}
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
