package vip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// Form selects the gratuitous ARP operation. Some switches and hosts
// update their tables only from one of the two (RFC 5227 §3 discusses
// both), so the default sends both, as MetalLB does.
type Form int

const (
	FormBoth    Form = iota // an ARP request and an ARP reply (default)
	FormRequest             // ARP request only
	FormReply               // ARP reply only
)

// ParseForm parses "both", "request" or "reply"; "" is FormBoth.
func ParseForm(s string) (Form, error) {
	switch strings.ToLower(s) {
	case "", "both":
		return FormBoth, nil
	case "request":
		return FormRequest, nil
	case "reply":
		return FormReply, nil
	}
	return 0, fmt.Errorf("vip: garp form %q: want request, reply or both", s)
}

func (f Form) String() string {
	switch f {
	case FormBoth:
		return "both"
	case FormRequest:
		return "request"
	case FormReply:
		return "reply"
	}
	return fmt.Sprintf("Form(%d)", int(f))
}

// Sender sends one announcement of ip: gratuitous ARP in the given form for
// IPv4, an unsolicited neighbour advertisement for IPv6.
type Sender interface {
	Send(ip netip.Addr, form Form) error
	Close() error
}

// Dialer opens a Sender on a link, once per takeover.
type Dialer func(l Link, ip netip.Addr) (Sender, error)

// DialLink is the production Dialer: a raw ARP socket (mdlayher/arp) for
// IPv4 and a raw ICMPv6 socket for IPv6, on the link in the process's own
// network namespace. Both need CAP_NET_RAW.
func DialLink(l Link, ip netip.Addr) (Sender, error) {
	ifi, err := net.InterfaceByIndex(l.Index)
	if err != nil {
		return nil, fmt.Errorf("vip: looking up interface %q: %w", l.Name, err)
	}
	if ip.Is6() {
		return DialNA(ifi)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, fmt.Errorf("vip: opening ARP socket on %q: %w", l.Name, err)
	}
	return &ARPSender{c: c, hw: ifi.HardwareAddr}, nil
}

// ARPSender sends gratuitous ARP through an mdlayher/arp client.
type ARPSender struct {
	c  *arp.Client
	hw net.HardwareAddr
}

// NewARPSender returns an ARPSender writing Ethernet frames to p, as if
// sent from ifi (arp.New: tests pass a loopback UDP conn). ifi must have an
// IPv4 address and a hardware address.
func NewARPSender(ifi *net.Interface, p net.PacketConn) (*ARPSender, error) {
	c, err := arp.New(ifi, p)
	if err != nil {
		return nil, fmt.Errorf("vip: opening ARP client on %q: %w", ifi.Name, err)
	}
	return &ARPSender{c: c, hw: ifi.HardwareAddr}, nil
}

// Send broadcasts gratuitous ARP for ip: sender and target protocol address
// are both ip, sender hardware address is the link's (RFC 5227 §3).
func (s *ARPSender) Send(ip netip.Addr, form Form) error {
	if !ip.Is4() {
		return fmt.Errorf("vip: gratuitous ARP for %s: not an IPv4 address", ip)
	}
	ops := []arp.Operation{arp.OperationRequest, arp.OperationReply}
	switch form {
	case FormRequest:
		ops = ops[:1]
	case FormReply:
		ops = ops[1:]
	}
	for _, op := range ops {
		p, err := arp.NewPacket(op, s.hw, ip, ethernet.Broadcast, ip)
		if err != nil {
			return fmt.Errorf("vip: building gratuitous ARP %s for %s: %w", op, ip, err)
		}
		if err := s.c.WriteTo(p, ethernet.Broadcast); err != nil {
			return fmt.Errorf("vip: sending gratuitous ARP %s for %s: %w", op, ip, err)
		}
	}
	return nil
}

// Close closes the socket.
func (s *ARPSender) Close() error { return s.c.Close() }

// allNodes is ff02::1, where unsolicited neighbour advertisements go
// (RFC 4861 §7.2.6).
var allNodes = netip.MustParseAddr("ff02::1")

// NASender sends unsolicited neighbour advertisements.
type NASender struct {
	pc  *ipv6.PacketConn
	ifi *net.Interface
}

// DialNA opens a raw ICMPv6 socket for advertisements out of ifi.
func DialNA(ifi *net.Interface) (*NASender, error) {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("vip: opening ICMPv6 socket for %q: %w", ifi.Name, err)
	}
	return NewNASender(ifi, c.IPv6PacketConn())
}

// NewNASender wraps pc; ifi gives the interface and hardware address.
func NewNASender(ifi *net.Interface, pc *ipv6.PacketConn) (*NASender, error) {
	if len(ifi.HardwareAddr) == 0 {
		pc.Close()
		return nil, fmt.Errorf("vip: interface %q has no hardware address for neighbour advertisements", ifi.Name)
	}
	// Hop limit 255 is mandatory: receivers drop NDP with any other value
	// (RFC 4861 §7.1.2), which proves the sender is on-link.
	if err := pc.SetMulticastHopLimit(255); err != nil {
		pc.Close()
		return nil, fmt.Errorf("vip: setting hop limit on %q: %w", ifi.Name, err)
	}
	return &NASender{pc: pc, ifi: ifi}, nil
}

// Send sends one unsolicited neighbour advertisement for ip from ip to
// ff02::1. The form does not apply to IPv6.
func (s *NASender) Send(ip netip.Addr, _ Form) error {
	b, err := NeighborAdvert(ip, s.ifi.HardwareAddr, nil)
	if err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{HopLimit: 255, Src: ip.AsSlice(), IfIndex: s.ifi.Index}
	if _, err := s.pc.WriteTo(b, cm, &net.IPAddr{IP: allNodes.AsSlice(), Zone: s.ifi.Name}); err != nil {
		return fmt.Errorf("vip: sending neighbour advertisement for %s on %q: %w", ip, s.ifi.Name, err)
	}
	return nil
}

// Close closes the socket.
func (s *NASender) Close() error { return s.pc.Close() }

// NeighborAdvert marshals an unsolicited neighbour advertisement for target
// (RFC 4861 §4.4): Override set, Solicited and Router clear, with a target
// link-layer address option carrying hw. With psh nil the checksum is left
// zero for the kernel to fill in, as Linux does on raw ICMPv6 sockets;
// otherwise psh is the IPv6 pseudo header (icmp.IPv6PseudoHeader).
func NeighborAdvert(target netip.Addr, hw net.HardwareAddr, psh []byte) ([]byte, error) {
	if !target.Is6() || target.Is4In6() {
		return nil, fmt.Errorf("vip: neighbour advertisement for %s: not an IPv6 address", target)
	}
	if len(hw) != 6 {
		return nil, errors.New("vip: neighbour advertisement for " + target.String() + ": hardware address " + hw.String() + " is not 6 bytes")
	}
	const flagOverride = 0x20 // R=0x80, S=0x40, O=0x20 in the first byte
	body := make([]byte, 4+16+8)
	binary.BigEndian.PutUint32(body[0:4], uint32(flagOverride)<<24)
	t := target.As16()
	copy(body[4:20], t[:])
	body[20] = 2 // option: target link-layer address
	body[21] = 1 // length in units of 8 bytes
	copy(body[22:28], hw)
	m := icmp.Message{Type: ipv6.ICMPTypeNeighborAdvertisement, Code: 0, Body: &icmp.RawBody{Data: body}}
	b, err := m.Marshal(psh)
	if err != nil {
		return nil, fmt.Errorf("vip: marshalling neighbour advertisement for %s: %w", target, err)
	}
	return b, nil
}
