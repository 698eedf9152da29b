package ping

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Pinger sends one ICMP echo request and waits for its reply.
type Pinger interface {
	Ping(ctx context.Context, addr netip.Addr) error
}

// ICMP is the production Pinger. Each Ping opens its own socket, so
// concurrent pings never see each other's replies; at one ping a second
// per ping node that costs nothing.
type ICMP struct {
	id  int
	seq atomic.Uint32

	mu  sync.Mutex
	raw map[bool]bool // per family (true = IPv6): unprivileged sockets refused, use raw
}

// NewICMP returns a pinger. id is the echo identifier for raw sockets
// (unprivileged sockets get theirs from the kernel); 0 picks the pid.
func NewICMP(id int) *ICMP {
	if id == 0 {
		id = os.Getpid()
	}
	return &ICMP{id: id & 0xffff, raw: map[bool]bool{}}
}

var _ Pinger = (*ICMP)(nil)

// PingProbe is the probe of a ping node.
func PingProbe(p Pinger, addr netip.Addr) Probe {
	return func(ctx context.Context) error { return p.Ping(ctx, addr) }
}

func (p *ICMP) listen(v6 bool) (c *icmp.PacketConn, raw bool, err error) {
	p.mu.Lock()
	useRaw := p.raw[v6]
	p.mu.Unlock()
	udp, rawNet, addr := "udp4", "ip4:icmp", "0.0.0.0"
	if v6 {
		udp, rawNet, addr = "udp6", "ip6:ipv6-icmp", "::"
	}
	if !useRaw {
		c, err = icmp.ListenPacket(udp, addr)
		if err == nil {
			return c, false, nil
		}
		if !errors.Is(err, os.ErrPermission) {
			return nil, false, err
		}
		// net.ipv4.ping_group_range excludes us: fall back to a raw
		// socket (needs CAP_NET_RAW) and remember.
		p.mu.Lock()
		p.raw[v6] = true
		p.mu.Unlock()
	}
	c, err = icmp.ListenPacket(rawNet, addr)
	return c, true, err
}

// Ping sends one echo request to addr and waits for the matching reply
// until ctx ends (1s when ctx has no deadline).
func (p *ICMP) Ping(ctx context.Context, addr netip.Addr) error {
	addr = addr.Unmap()
	v6 := addr.Is6()
	c, raw, err := p.listen(v6)
	if err != nil {
		return fmt.Errorf("ping %s: opening ICMP socket: %w", addr, err)
	}
	defer c.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Second)
	}
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	seq := int(p.seq.Add(1) & 0xffff)
	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1 // ICMP, for ParseMessage
	if v6 {
		typ, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	payload := []byte("hapair-ping")
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: p.id, Seq: seq, Data: payload}}).Marshal(nil)
	if err != nil {
		return fmt.Errorf("ping %s: %w", addr, err)
	}
	var dst net.Addr = &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	if !raw {
		dst = &net.UDPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	}
	start := time.Now()
	if _, err := c.WriteTo(b, dst); err != nil {
		return fmt.Errorf("ping %s: sending echo request: %w", addr, err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("ping %s: %w", addr, ctx.Err())
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("ping %s: no reply after %v", addr, time.Since(start).Round(time.Millisecond))
			}
			return fmt.Errorf("ping %s: reading reply: %w", addr, err)
		}
		if !fromAddr(from, addr) {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != replyType {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		// Unprivileged sockets rewrite the identifier (it is the socket's
		// port) and only deliver their own replies; raw ones see every
		// reply on the host, so the identifier must match too.
		if !ok || e.Seq != seq || (raw && e.ID != p.id) || string(e.Data) != string(payload) {
			continue
		}
		return nil
	}
}

func fromAddr(from net.Addr, want netip.Addr) bool {
	var ip net.IP
	switch a := from.(type) {
	case *net.IPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		return false
	}
	got, ok := netip.AddrFromSlice(ip)
	return ok && got.Unmap() == want.WithZone("")
}
