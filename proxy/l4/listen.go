package l4

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// freebind sets IP_FREEBIND (IPV6_FREEBIND for IPv6 sockets) so bind(2)
// succeeds for an address this host does not hold yet, like keepalived's and
// HAProxy's "transparent"/"freebind" options. The balancer then listens on
// the VIP on both nodes and a takeover costs only the address move.
func freebind(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		switch network {
		case "tcp6", "udp6":
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
			if errors.Is(serr, unix.ENOPROTOOPT) {
				// Kernels before 4.15 have no IPV6_FREEBIND; IP_FREEBIND
				// covers IPv6 sockets there.
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
			}
		default:
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setting IP_FREEBIND: %w", serr)
	}
	return nil
}

// freeListen binds with IP_FREEBIND. KeepAlive -1 leaves TCP keep-alive
// probes off on accepted connections, as HAProxy does without "option
// clitcpka": Go's default (15s) costs four setsockopt calls per accepted
// connection, a tenth of a short connection's system calls in the bench,
// and an abandoned connection is the idle timeout's to close (TCP 15m,
// HTTP keep-alive 60s, DefaultTCPIdle and l7.DefaultIdleTimeout).
var freeListen = net.ListenConfig{Control: freebind, KeepAlive: -1}

// ListenTCP binds a TCP listener on addr ("198.18.0.10:80") with
// IP_FREEBIND, so the address need not be configured on the host yet.
func ListenTCP(ctx context.Context, addr string) (*net.TCPListener, error) {
	ln, err := freeListen.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("l4: listening on tcp %q: %w", addr, err)
	}
	return ln.(*net.TCPListener), nil
}

// ListenUDP binds a UDP socket on addr with IP_FREEBIND.
func ListenUDP(ctx context.Context, addr string) (*net.UDPConn, error) {
	pc, err := freeListen.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("l4: listening on udp %q: %w", addr, err)
	}
	return pc.(*net.UDPConn), nil
}

// DialTCP connects to addr with d and leaves the choice of the local
// address and port to connect(2). (net.Dialer.DialTCP with a zero local
// address binds to 0.0.0.0:0 first: one more system call per connection,
// and a port taken at bind(2) is kept from every destination, where
// connect(2) shares a port among connections to different ones.)
func DialTCP(ctx context.Context, d *net.Dialer, addr netip.AddrPort) (*net.TCPConn, error) {
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// setListenerNoDelay sets TCP_NODELAY on ln's socket, for the connections
// it accepts from now on to inherit.
func setListenerNoDelay(ln *net.TCPListener) error {
	rc, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setting TCP_NODELAY on the listener: %w", serr)
	}
	return nil
}
