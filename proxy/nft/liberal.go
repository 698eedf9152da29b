package nft

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"
)

// A node that releases a nat service goes on translating the connections
// it carried while the peers still send it their packets (the linger of
// ApplyKeepNAT). Its conntrack entries were made from the connections'
// first packets, so the kernel tracks their TCP windows strictly
// (nf_conntrack_tcp_be_liberal=0): once the client's segments reach the
// new owner, a real's reply that still reaches this node acknowledges
// data it never saw, conntrack marks it invalid ("ACK is over the upper
// bound"), an invalid packet is never translated, and it goes to the
// client with the real's own address, which the client resets. The new
// owner's copies do not have this: conntrackd's commit creates them with
// IP_CT_TCP_FLAG_BE_LIBERAL (conntrack-tools, nl_create_conntrack), as
// they too start in the middle of a stream. Liberal gives the released
// entries the same flag.

// beLiberal is IP_CT_TCP_FLAG_BE_LIBERAL (linux
// include/uapi/linux/netfilter/nf_conntrack_tcp.h): the window checks of
// tcp_in_window accept whatever the sender sends.
const beLiberal = 0x08

// ctnetlink attribute types (linux include/uapi/linux/netfilter/
// nfnetlink_conntrack.h) of the update Liberal sends.
const (
	ctaTupleOrig          = 1
	ctaProtoinfo          = 4
	ctaZone               = 18
	ctaTupleIP            = 1
	ctaTupleProto         = 2
	ctaIPv4Src            = 1
	ctaIPv4Dst            = 2
	ctaProtoNum           = 1
	ctaProtoSrcPort       = 2
	ctaProtoDstPort       = 3
	ctaProtoinfoTCP       = 1
	ctaProtoinfoTCPFlagsO = 4
	ctaProtoinfoTCPFlagsR = 5
	ipctnlMsgCtNew        = 0
)

// Conntrack is the kernel's connection tracking table as Liberal needs
// it; CTNetlink is the real one.
type Conntrack interface {
	Dumper
	// SetLiberal sets IP_CT_TCP_FLAG_BE_LIBERAL on both directions of the
	// TCP entries whose original tuples (and zones) are fs's, and changes
	// nothing else; it returns how many it set. An entry that is gone is
	// not an error; it goes on past a failed one and returns every
	// failure joined.
	SetLiberal(fs []conntrack.Flow) (int, error)
}

// Liberal sets IP_CT_TCP_FLAG_BE_LIBERAL on both directions of the TCP
// conntrack entries of svcs' nat services (those natFlow matches) that
// lack it, and returns how many it set. It is for a node that has just
// released them; dr services and UDP are skipped (dr bypasses conntrack,
// UDP has no window). It goes on past a failed entry and returns every
// failure joined.
func Liberal(ct Conntrack, svcs []Service) (int, error) {
	var nat []*Service
	for i := range svcs {
		if svcs[i].Method == MethodNAT && svcs[i].Protocol != "udp" {
			nat = append(nat, &svcs[i])
		}
	}
	if len(nat) == 0 {
		return 0, nil
	}
	flows, err := ct.Dump(nil)
	if err != nil {
		return 0, fmt.Errorf("nft: reading conntrack: %w", err)
	}
	fs := liberalTargets(nat, flows)
	if len(fs) == 0 {
		return 0, nil
	}
	return ct.SetLiberal(fs)
}

// liberalTargets returns the TCP flows of svcs not liberal in both
// directions yet.
func liberalTargets(svcs []*Service, flows []conntrack.Flow) []conntrack.Flow {
	var out []conntrack.Flow
	for _, s := range svcs {
		reals := realSet(s)
		for _, f := range flows {
			if _, ok := natFlow(s, reals, f); !ok {
				continue
			}
			if tcp := f.ProtoInfo.TCP; tcp != nil && liberalFlag(tcp.OriginalFlags) && liberalFlag(tcp.ReplyFlags) {
				continue
			}
			out = append(out, f)
		}
	}
	return out
}

// liberalFlag reports whether a direction's flags, as ti-mo/conntrack
// reads them (struct nf_ct_tcp_flags, the flags byte then the mask byte,
// as one big-endian uint16; a dump leaves the mask 0), have the liberal
// flag.
func liberalFlag(v uint16) bool { return byte(v>>8)&beLiberal != 0 }

// realSet is s's reals and fallback by address.
func realSet(s *Service) map[netip.AddrPort]bool {
	reals := map[netip.AddrPort]bool{}
	for _, r := range withFallback(s) {
		reals[r.Addr] = true
	}
	return reals
}

// natFlow reports whether f is a connection of the nat service s (its
// original direction went to the VIP in s's protocol, its reply comes
// from one of reals) and returns the real.
func natFlow(s *Service, reals map[netip.AddrPort]bool, f conntrack.Flow) (netip.AddrPort, bool) {
	proto := uint8(unix.IPPROTO_TCP)
	if s.Protocol == "udp" {
		proto = unix.IPPROTO_UDP
	}
	o, r := f.TupleOrig, f.TupleReply
	if o.Proto.Protocol != proto || o.IP.DestinationAddress.Unmap() != s.VIP.Addr() || o.Proto.DestinationPort != s.VIP.Port() {
		return netip.AddrPort{}, false
	}
	real := netip.AddrPortFrom(r.IP.SourceAddress.Unmap(), r.Proto.SourcePort)
	return real, reals[real]
}

// liberalMessage is the ctnetlink update (IPCTNL_MSG_CT_NEW without
// NLM_F_CREATE: the kernel changes the entry with f's original tuple and
// zone, or answers ENOENT) that sets the liberal flag on both directions.
// It carries no state and no window scale, which ctnetlink would
// overwrite (nlattr_to_tcp), so it cannot race a state change. Only
// IPv4 TCP entries are taken.
func liberalMessage(f conntrack.Flow) (netlink.Message, error) {
	o := f.TupleOrig
	src, dst := o.IP.SourceAddress.Unmap(), o.IP.DestinationAddress.Unmap()
	if !src.Is4() || !dst.Is4() || o.Proto.Protocol != unix.IPPROTO_TCP {
		return netlink.Message{}, fmt.Errorf("nft: marking %s:%d -> %s:%d liberal: only IPv4 TCP entries", src, o.Proto.SourcePort, dst, o.Proto.DestinationPort)
	}
	s4, d4 := src.As4(), dst.As4()
	// nf_ct_tcp_flags: {flags, mask}.
	flags := []byte{beLiberal, beLiberal}
	attrs := []netfilter.Attribute{
		{Type: ctaTupleOrig, Nested: true, Children: []netfilter.Attribute{
			{Type: ctaTupleIP, Nested: true, Children: []netfilter.Attribute{
				{Type: ctaIPv4Src, Data: s4[:]},
				{Type: ctaIPv4Dst, Data: d4[:]},
			}},
			{Type: ctaTupleProto, Nested: true, Children: []netfilter.Attribute{
				{Type: ctaProtoNum, Data: []byte{unix.IPPROTO_TCP}},
				{Type: ctaProtoSrcPort, Data: netfilter.Uint16Bytes(o.Proto.SourcePort)},
				{Type: ctaProtoDstPort, Data: netfilter.Uint16Bytes(o.Proto.DestinationPort)},
			}},
		}},
		{Type: ctaProtoinfo, Nested: true, Children: []netfilter.Attribute{
			{Type: ctaProtoinfoTCP, Nested: true, Children: []netfilter.Attribute{
				{Type: ctaProtoinfoTCPFlagsO, Data: flags},
				{Type: ctaProtoinfoTCPFlagsR, Data: flags},
			}},
		}},
	}
	if f.Zone != 0 {
		attrs = append(attrs, netfilter.Attribute{Type: ctaZone, Data: netfilter.Uint16Bytes(f.Zone)})
	}
	return netfilter.MarshalNetlink(netfilter.Header{
		SubsystemID: netfilter.NFSubsysCTNetlink,
		MessageType: ipctnlMsgCtNew,
		Family:      netfilter.ProtoIPv4,
		Flags:       netlink.Request | netlink.Acknowledge,
	}, attrs)
}

// CTNetlink is the kernel's conntrack table over ctnetlink, in the
// network namespace of the thread that opens it.
type CTNetlink struct {
	dump *conntrack.Conn
	upd  *netlink.Conn
}

var _ Conntrack = (*CTNetlink)(nil)

// OpenCTNetlink opens the two ctnetlink sockets CTNetlink uses; Close
// closes them.
func OpenCTNetlink() (*CTNetlink, error) {
	d, err := conntrack.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("nft: opening ctnetlink: %w", err)
	}
	u, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("nft: opening ctnetlink: %w", err)
	}
	return &CTNetlink{dump: d, upd: u}, nil
}

// Dump implements Dumper.
func (c *CTNetlink) Dump(o *conntrack.DumpOptions) ([]conntrack.Flow, error) { return c.dump.Dump(o) }

// liberalBatch is how many updates go in one sendmsg (about 90 bytes
// each).
const liberalBatch = 256

// liberalWait bounds the wait for the kernel's answers after the last
// batch; the kernel handles a batch within its sendmsg, so they are
// queued by then.
const liberalWait = 5 * time.Second

// SetLiberal implements Conntrack. The updates go in batches without
// acknowledgements (the kernel applies each batch within its sendmsg, in
// order) and a final NLMSG_NOOP asks for one; the answers before it are
// the updates that failed, one datagram each. One round trip per entry
// took 150 µs (5000 entries in 0.7 s).
func (c *CTNetlink) SetLiberal(fs []conntrack.Flow) (int, error) {
	var errs []error
	var msgs []netlink.Message
	for _, f := range fs {
		m, err := liberalMessage(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.Header.Flags = netlink.Request
		msgs = append(msgs, m)
	}
	built := len(msgs)
	msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: netlink.Noop, Flags: netlink.Request | netlink.Acknowledge}})
	var last netlink.Message
	for len(msgs) > 0 {
		n := min(len(msgs), liberalBatch)
		sent, err := c.upd.SendMessages(msgs[:n])
		if err != nil {
			return 0, errors.Join(append(errs, fmt.Errorf("nft: marking conntrack entries liberal: %w", err))...)
		}
		last, msgs = sent[len(sent)-1], msgs[n:]
	}
	if err := c.upd.SetReadDeadline(time.Now().Add(liberalWait)); err != nil {
		return 0, errors.Join(append(errs, err)...)
	}
	failed := 0
	for {
		ms, err := c.upd.Receive()
		if err != nil {
			// An answer's error is a bare errno; the socket's own
			// (a deadline, a closed socket) is not.
			var se *os.SyscallError
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &se) || errors.Is(err, net.ErrClosed) {
				return 0, errors.Join(append(errs, fmt.Errorf("nft: reading ctnetlink's answers: %w", err))...)
			}
			failed++
			if !errors.Is(err, unix.ENOENT) { // gone meanwhile: nothing to mark
				errs = append(errs, fmt.Errorf("nft: marking a conntrack entry liberal: %w", err))
			}
			continue
		}
		for _, m := range ms {
			if m.Header.Sequence == last.Header.Sequence {
				return built - failed, errors.Join(errs...)
			}
		}
	}
}

// Close closes the sockets.
func (c *CTNetlink) Close() error { return errors.Join(c.dump.Close(), c.upd.Close()) }
