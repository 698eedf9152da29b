package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/mdlayher/arp"
)

// A lingering old owner (releaseLinger) answers the clients it accepted
// until their requests end, but a client whose next segment after its
// handshake there leaves after this node's gratuitous ARP reached it sends
// that segment here, and this node's kernel, which knows no such
// connection, resets it (about one planned move in ten under an HTTP
// client every 10ms). So the successor of a lingering group forwards, while
// the old owner may still linger, the TCP segments to the group's VIPs and
// proxied ports of flows whose SYN it never saw to the old owner's MAC
// (nft.Forward, the table `netdev hapair_fwd`). The old owner's MAC is
// asked for by ARP for the VIP before the VIP is added here: the linger
// guarantees that the old owner still holds it and answers.

// handoverARP bounds the ARP question: the old owner is on the link and
// answers in well under a millisecond; nobody answers when no peer held
// the group, and the takeover then waits this long more.
const handoverARP = 100 * time.Millisecond

// handoverFor is how long the forward stays: the old owner's linger
// (lingerBound) began before this node started the group, so it has ended
// by then.
const handoverFor = lingerBound

// forwarder is nft.Forward (a fake in tests).
type forwarder interface {
	Add(nft.Handover) error
	Drop(netip.Addr) error
	Clear() error
}

// openForward removes a forward a crashed run left and returns this run's,
// nil on a host without nftables (planned moves then go without it).
func openForward(log *slog.Logger) forwarder {
	conn, err := nft.OpenNetlink()
	if err != nil {
		log.Debug("no handover forward for planned moves", "err", err)
		return nil
	}
	f := nft.NewForward(conn)
	switch err := f.Clear(); {
	case errors.Is(err, nft.ErrNotOurs):
		log.Warn("leaving a table named "+nft.ForwardTableName+" alone", "reason", "it has no hapair marker", "err", err)
		return nil
	case err != nil:
		log.Debug("no handover forward for planned moves", "err", err)
		return nil
	}
	return f
}

// handoverVIP is one VIP of a lingering group with the TCP ports of its
// proxied services, and its device ("" = the one whose prefix holds it).
type handoverVIP struct {
	addr   netip.Addr
	device string
	ports  []uint16
}

// handoverVIPs lists g's IPv4 VIPs with the ports of services on them
// (heldVIPs). IPv6 VIPs are left out (nft.Forward says why).
func handoverVIPs(cfg *config.Config, g config.Group, services []string) []handoverVIP {
	var out []handoverVIP
	held := heldVIPs(cfg, []string{g.Name}, services)
	for _, r := range g.Resources {
		if r.VIP == nil || !r.VIP.Prefix.Addr().Is4() {
			continue
		}
		v := handoverVIP{addr: r.VIP.Prefix.Addr(), device: r.VIP.Interface}
		for _, h := range held {
			if h.Addr() == v.addr && !slices.Contains(v.ports, h.Port()) {
				v.ports = append(v.ports, h.Port())
			}
		}
		if len(v.ports) > 0 {
			out = append(out, v)
		}
	}
	return out
}

// handoverForward is the first resource of a lingering group: its Start,
// before the VIPs are added, puts the forward to the old owner in place
// for handoverFor; its Stop removes it if it is still there. It never
// fails: without the forward the takeover goes on as it did before.
type handoverForward struct {
	group     string
	vips      func() []handoverVIP // of the config the group was built from
	fwd       forwarder
	peerAlive func() bool // a peer that may have held the group and may linger
	resolve   func(ctx context.Context, dev string, ip netip.Addr) (net.HardwareAddr, error)
	link      func(dev string, ip netip.Addr) (*net.Interface, error)
	log       func(msg string, args ...any)
	after     func(time.Duration, func()) *time.Timer // time.AfterFunc

	mu    sync.Mutex
	on    []netip.Addr
	timer *time.Timer
}

var _ resource.Resource = (*handoverForward)(nil)

func (r *handoverForward) Name() string                 { return "handover forward " + r.group }
func (r *handoverForward) Status(context.Context) error { return nil }

func (r *handoverForward) Start(ctx context.Context) error {
	r.drop() // a Start after a failed Stop
	if !r.peerAlive() {
		return nil // nobody lingers: a failover, or the first owner
	}
	var on []netip.Addr
	for _, v := range r.vips() {
		if err := r.add(ctx, v); err != nil {
			r.log("taking over without forwarding the old owner's connections", "group", r.group, "vip", v.addr, "err", err)
			continue
		}
		on = append(on, v.addr)
	}
	if len(on) == 0 {
		return nil
	}
	r.mu.Lock()
	r.on = on
	r.timer = r.after(handoverFor, r.drop)
	r.mu.Unlock()
	r.log("forwarding the old owner's connections", "group", r.group, "vips", on, "for", handoverFor)
	return nil
}

func (r *handoverForward) add(ctx context.Context, v handoverVIP) error {
	ifi, err := r.link(v.device, v.addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, handoverARP)
	defer cancel()
	peer, err := r.resolve(ctx, ifi.Name, v.addr)
	if err != nil {
		return fmt.Errorf("asking who holds %v on %s: %w", v.addr, ifi.Name, err)
	}
	if slices.Equal(peer, ifi.HardwareAddr) {
		return fmt.Errorf("%v answered by this node's own MAC %v", v.addr, peer)
	}
	return r.fwd.Add(nft.Handover{VIP: v.addr, Ports: v.ports, Device: ifi.Name, LinkIndex: ifi.Index,
		LinkMAC: ifi.HardwareAddr, PeerMAC: peer})
}

func (r *handoverForward) Stop(context.Context) error {
	r.drop()
	return nil
}

// drop removes the forwards in place, once.
func (r *handoverForward) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	for _, a := range r.on {
		if err := r.fwd.Drop(a); err != nil {
			r.log("removing the handover forward failed", "group", r.group, "vip", a, "err", err)
		}
	}
	r.on = nil
}

// withForward puts g's handoverForward first (in start order) when g
// lingers and the node has the forward. Its VIPs are cfg's, the config g
// is built from (at a reload, the one not yet in place: a held group is
// restarted before had's own config is replaced).
func (e *env) withForward(cfg *config.Config, g config.Group, rs []resource.Resource) []resource.Resource {
	services := lingerServices(g, e.kernelNames)
	if len(services) == 0 || e.forward == nil || e.peerAlive == nil {
		return rs
	}
	vips := func() []handoverVIP { return handoverVIPs(cfg, g, services) }
	f := &handoverForward{group: g.Name, vips: vips, fwd: e.forward, peerAlive: e.peerAlive,
		resolve: resolveARP, link: vipLink, after: time.AfterFunc,
		log: func(msg string, args ...any) { e.log.Info(msg, args...) }}
	return append([]resource.Resource{f}, rs...)
}

// peerAlive reports whether a peer is alive, or said it is leaving within
// lingerBound: a peer that stops lingers too, and its status is no longer
// Alive from its leaving message on (e2e TestPlannedMovesUnderProbe with
// HAPAIR_MOVES_BY=stop: 4 of 30 moves reset a request without it).
func (n *Node) peerAlive() bool {
	if n.agent == nil {
		return false
	}
	return peerMayLinger(n.agent.Status().Peers, time.Now())
}

func peerMayLinger(peers []ha.PeerStatus, now time.Time) bool {
	return slices.ContainsFunc(peers, func(p ha.PeerStatus) bool {
		return p.Alive || p.Leaving && now.Sub(p.LastHeard) < lingerBound
	})
}

// vipLink is the link of dev, or, without dev, the one with an address
// whose prefix holds ip (where the vip resource adds it).
func vipLink(dev string, ip netip.Addr) (*net.Interface, error) {
	if dev != "" {
		return net.InterfaceByName(dev)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if p, err := netip.ParsePrefix(n.String()); err == nil && p.Masked().Contains(ip) && p.Addr() != ip {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no link holds a prefix with %v", ip)
}

// resolveARP asks who holds ip on dev, until ctx ends.
func resolveARP(ctx context.Context, dev string, ip netip.Addr) (net.HardwareAddr, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, err
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, fmt.Errorf("arp on %s: %w", dev, err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(d); err != nil {
			return nil, err
		}
	}
	return c.Resolve(ip)
}
