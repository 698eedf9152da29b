package vip

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ifaProto is IFA_PROTO (linux/if_addr.h, kernel 5.18 and later), which
// golang.org/x/sys and vishvananda/netlink do not name yet: the protocol
// that installed an address, as `ip address add ... proto N` sets it.
const ifaProto = 11

// Netlink is the Kernel backed by rtnetlink (vishvananda/netlink). Address
// listing and adding go through raw requests on sock, since the library
// neither sends nor parses IFA_PROTO.
type Netlink struct {
	nsPath string // "" = this process's namespace
	h      *netlink.Handle
	mu     sync.Mutex // one request at a time on sock
	sock   map[int]*nl.SocketHandle
}

var _ Kernel = (*Netlink)(nil)

// OpenNetlink opens a netlink handle in the network namespace at nsPath
// (e.g. /run/netns/lb1) without moving any thread, or in the process's own
// namespace when nsPath is empty.
func OpenNetlink(nsPath string) (*Netlink, error) {
	ns, where := netns.None(), "this namespace"
	if nsPath != "" {
		var err error
		if ns, err = netns.GetFromPath(nsPath); err != nil {
			return nil, fmt.Errorf("vip: opening network namespace %q: %w", nsPath, err)
		}
		defer ns.Close()
		where = fmt.Sprintf("%q", nsPath)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("vip: opening netlink in %s: %w", where, err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("vip: opening netlink in %s: %w", where, err)
	}
	return &Netlink{nsPath: nsPath, h: h, sock: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}}, nil
}

// Close releases the handle and the socket.
func (n *Netlink) Close() error {
	n.h.Close()
	n.sock[unix.NETLINK_ROUTE].Socket.Close()
	return nil
}

func (n *Netlink) request(typ, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: uint16(typ), Flags: unix.NLM_F_REQUEST | uint16(flags)},
		Sockets:  n.sock,
	}
}

func toLink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{Name: a.Name, Index: a.Index, HardwareAddr: a.HardwareAddr,
		Up: a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_LOWER_UP != 0}
}

// Watch reports link changes (admin state, carrier, deletion) to onLink and
// removed addresses to onAddrGone, from the rtnetlink multicast groups
// RTNLGRP_LINK and RTNLGRP_IPV4_IFADDR/RTNLGRP_IPV6_IFADDR (what `ip
// monitor link address` shows), until ctx ends. Callbacks run on Watch's
// goroutines and must not block for long. It returns once both
// subscriptions are open, or an error naming the one that failed; a
// subscription that fails later (ENOBUFS after an event storm) ends the
// watch and is reported once to onErr.
func (n *Netlink) Watch(ctx context.Context, onLink func(Link), onAddrGone func(Addr), onErr func(error)) error {
	var ns *netns.NsHandle
	if n.nsPath != "" {
		h, err := netns.GetFromPath(n.nsPath)
		if err != nil {
			return fmt.Errorf("vip: watching links in %q: %w", n.nsPath, err)
		}
		defer h.Close()
		ns = &h
	}
	links := make(chan netlink.LinkUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	var once sync.Once
	errs := func(err error) { // the library closes the channel after this; the loop below ends then
		if ctx.Err() != nil {
			return // closing the sockets at stop fails the library's pending receive: not an error
		}
		once.Do(func() { onErr(fmt.Errorf("vip: watching links and addresses: %w", err)) })
	}
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: ns, ErrorCallback: errs}); err != nil {
		close(done)
		return fmt.Errorf("vip: subscribing to link events: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: ns, ErrorCallback: errs}); err != nil {
		close(done)
		return fmt.Errorf("vip: subscribing to address events: %w", err)
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-links:
				if !ok {
					return
				}
				l := toLink(u.Link)
				l.Gone = u.Header.Type == unix.RTM_DELLINK
				onLink(l)
			case u, ok := <-addrs:
				if !ok {
					return
				}
				if u.NewAddr {
					continue
				}
				ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
				if !ok {
					continue
				}
				bits, _ := u.LinkAddress.Mask.Size()
				onAddrGone(Addr{Prefix: netip.PrefixFrom(ip.Unmap(), bits), LinkIndex: u.LinkIndex})
			}
		}
	}()
	return nil
}

// LinkByName returns the link called name.
func (n *Netlink) LinkByName(name string) (Link, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return Link{}, err
	}
	return toLink(l), nil
}

// LinkByIndex returns the link with the given index.
func (n *Netlink) LinkByIndex(index int) (Link, error) {
	l, err := n.h.LinkByIndex(index)
	if err != nil {
		return Link{}, err
	}
	return toLink(l), nil
}

// Addrs returns every IPv4 and IPv6 address on every link, with its
// label, IFA_PROTO and valid lifetime (ip -d address show).
func (n *Netlink) Addrs() ([]Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	req := n.request(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
	if err != nil {
		return nil, err
	}
	out := make([]Addr, 0, len(msgs))
	for _, m := range msgs {
		if len(m) < unix.SizeofIfAddrmsg {
			continue
		}
		a, ok := parseAddr(nl.DeserializeIfAddrmsg(m), m[unix.SizeofIfAddrmsg:])
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// parseAddr reads one RTM_NEWADDR message. IFA_LOCAL is the address on
// point-to-point links and IPv4 in general; IFA_ADDRESS the one otherwise.
func parseAddr(msg *nl.IfAddrmsg, b []byte) (Addr, bool) {
	attrs, err := nl.ParseRouteAttr(b)
	if err != nil {
		return Addr{}, false
	}
	var local, address []byte
	a := Addr{LinkIndex: int(msg.Index)}
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local = at.Value
		case unix.IFA_ADDRESS:
			address = at.Value
		case unix.IFA_LABEL:
			a.Label = string(trimNUL(at.Value))
		case ifaProto:
			if len(at.Value) >= 1 {
				a.Proto = at.Value[0]
			}
		case unix.IFA_CACHEINFO:
			if len(at.Value) >= 8 {
				if valid := binary.NativeEndian.Uint32(at.Value[4:8]); valid != infinity {
					a.Lifetime = time.Duration(valid) * time.Second
				}
			}
		}
	}
	if local == nil {
		local = address
	}
	ip, ok := netip.AddrFromSlice(local)
	if !ok {
		return Addr{}, false
	}
	a.Prefix = netip.PrefixFrom(ip.Unmap(), int(msg.Prefixlen))
	return a, a.Prefix.IsValid()
}

// infinity is INFINITY_LIFE_TIME (include/net/addrconf.h): no expiry.
const infinity = 0xFFFFFFFF

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// AddrAdd adds a to l or, when l already has it, replaces its label,
// protocol and lifetime (ip address replace ... proto P valid_lft L
// preferred_lft L), which restarts the lifetime.
func (n *Netlink) AddrAdd(l Link, a Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip := a.Prefix.Addr()
	family, raw := unix.AF_INET, ip.AsSlice()
	if ip.Is6() {
		family = unix.AF_INET6
	}
	req := n.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	msg := nl.NewIfAddrmsg(family)
	msg.Index = uint32(l.Index)
	msg.Prefixlen = uint8(a.Prefix.Bits())
	if ip.Is6() {
		// No duplicate address detection: the address must be usable at
		// once (keepalived does the same), and during a takeover the old
		// owner may still hold it for a moment, which would fail DAD.
		msg.Flags = unix.IFA_F_NODAD
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, raw))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, raw))
	if ip.Is4() {
		if a.Prefix.Bits() < 31 {
			req.AddData(nl.NewRtAttr(unix.IFA_BROADCAST, broadcast(a.Prefix)))
		}
		if a.Label != "" {
			req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(a.Label)))
		}
	}
	if a.Proto != 0 {
		req.AddData(nl.NewRtAttr(ifaProto, []byte{a.Proto}))
	}
	if a.Lifetime > 0 {
		secs := uint32(a.Lifetime / time.Second)
		ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Prefered: secs, Valid: secs}}
		req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()))
	}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// broadcast returns the IPv4 directed broadcast address of p, as `ip
// address add ... brd +` computes it.
func broadcast(p netip.Prefix) []byte {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := binary.BigEndian.Uint32(b[:]) | host
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

// AddrDel removes a from l (ip address del). The label is not sent: the
// kernel would only delete an address whose label matches.
func (n *Netlink) AddrDel(l Link, a Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip := a.Prefix.Addr()
	family := unix.AF_INET
	if ip.Is6() {
		family = unix.AF_INET6
	}
	req := n.request(unix.RTM_DELADDR, unix.NLM_F_ACK)
	msg := nl.NewIfAddrmsg(family)
	msg.Index = uint32(l.Index)
	msg.Prefixlen = uint8(a.Prefix.Bits())
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip.AsSlice()))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
