package nft

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ForwardTableName is the table of the handover forward: `netdev hapair_fwd`.
const ForwardTableName = "hapair_fwd"

// prioForward runs the forward before anything else at ingress (hapair's
// dr chains run at 0): a segment it sends on must not be scheduled here.
const prioForward = -500

// forwardMine is how long a flow whose SYN reached this node stays known
// as its own; the forward lasts about a second (the old owner's linger).
const forwardMine = 10 * time.Second

// Handover is the forward of one VIP during a planned move: this node (the
// successor) has just added the VIP, and the old owner keeps it a little
// longer for the connections it accepted (node's releaseLinger). A client
// that finished its handshake with the old owner and sends its next segment
// after this node's gratuitous ARP reached it sends that segment here, where
// no such connection exists and the kernel would answer with a reset. So
// the TCP segments to VIP:Ports of flows whose SYN this node never saw go to
// the old owner's MAC, with this link's MAC as source (else the switch
// learns the client's MAC on this port and the old owner's replies to the
// client come here).
type Handover struct {
	VIP       netip.Addr // IPv4 only (see Forward)
	Ports     []uint16   // TCP ports of the proxied services on VIP
	Device    string     // the link the VIP is on
	LinkIndex int        // its index
	LinkMAC   net.HardwareAddr
	PeerMAC   net.HardwareAddr // the old owner's MAC for VIP
}

func (h Handover) validate() error {
	switch {
	case !h.VIP.Is4():
		return fmt.Errorf("nft: handover forward of %v: IPv4 only", h.VIP)
	case len(h.Ports) == 0:
		return fmt.Errorf("nft: handover forward of %v: no port", h.VIP)
	case h.Device == "" || h.LinkIndex <= 0:
		return fmt.Errorf("nft: handover forward of %v: device %q index %d", h.VIP, h.Device, h.LinkIndex)
	case len(h.LinkMAC) != 6 || len(h.PeerMAC) != 6:
		return fmt.Errorf("nft: handover forward of %v: MACs %v and %v, want 6 bytes each", h.VIP, h.LinkMAC, h.PeerMAC)
	}
	return nil
}

// Forward keeps the table `netdev hapair_fwd`, marked as hapair's other
// tables are (a table of that name without the marker is another
// program's, ErrNotOurs), holding the Handovers in place. Each change is
// one atomic batch that keeps the flow sets of the VIPs that stay. Safe
// for concurrent use.
//
// IPv6 VIPs are not forwarded: the old owner's MAC would come from NDP, and
// the matching of ip6 headers (extension headers before TCP) is more than
// the one planned move in ten it would save is worth today.
type Forward struct {
	conn Conn
	mu   sync.Mutex
	on   map[netip.Addr]Handover
}

// NewForward returns the forward over conn. It touches nothing until called.
func NewForward(conn Conn) *Forward {
	return &Forward{conn: conn, on: map[netip.Addr]Handover{}}
}

// Add puts h in place, replacing the forward of h.VIP if there is one.
func (f *Forward) Add(h Handover) error {
	if err := h.validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	was, had := f.on[h.VIP]
	f.on[h.VIP] = h
	if err := f.apply(); err != nil {
		if had {
			f.on[h.VIP] = was
		} else {
			delete(f.on, h.VIP)
		}
		return err
	}
	return nil
}

// Drop removes the forward of vip (none is fine); the table goes with the
// last one.
func (f *Forward) Drop(vip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.on[vip]; !ok {
		return nil
	}
	delete(f.on, vip)
	return f.apply()
}

// Clear removes the table whatever it holds: at start (a crashed run's)
// and at stop.
func (f *Forward) Clear() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.on)
	return f.apply()
}

func (f *Forward) apply() error {
	have, err := f.conn.Table(nftables.TableFamilyNetdev, ForwardTableName)
	if err != nil {
		return fmt.Errorf("nft: reading table netdev %s: %w", ForwardTableName, err)
	}
	if have != nil && !have.Marked {
		return fmt.Errorf("nft: table netdev %s %w", ForwardTableName, ErrNotOurs)
	}
	var ops []Op
	if len(f.on) == 0 {
		if have == nil {
			return nil
		}
		ops = []Op{{Kind: OpDelTable, Table: &nftables.Table{Name: ForwardTableName, Family: nftables.TableFamilyNetdev}}}
	} else {
		ops = update(have, forwardSpec(f.on))
	}
	if err := f.conn.Run(ops); err != nil {
		return fmt.Errorf("nft: updating table netdev %s: %w", ForwardTableName, err)
	}
	return nil
}

func mineSet(vip netip.Addr) string { return fmt.Sprintf("mine_%x", vip.AsSlice()) }
func fwdChain(dev string) string    { return "in_" + dev }

// forwardSpec builds the table: per device an ingress chain; per VIP a set
// of the flows (client address . port) whose SYN came here, and per port
// two rules, as nft writes them:
//
//	... tcp dport P tcp flags & (syn|ack) == syn add @mine_V { ip saddr . tcp sport } accept
//	... tcp dport P ip saddr . tcp sport != @mine_V ether saddr set LINK ether daddr set PEER dup to DEV drop
func forwardSpec(on map[netip.Addr]Handover) *tableSpec {
	t := newNamedTableSpec(nftables.TableFamilyNetdev, ForwardTableName)
	vips := make([]netip.Addr, 0, len(on))
	for v := range on {
		vips = append(vips, v)
	}
	slices.SortFunc(vips, netip.Addr.Compare)
	for _, v := range vips {
		h := on[v]
		c := chainNamed(t, fwdChain(h.Device))
		if c == nil {
			c = t.addChain(&nftables.Chain{Name: fwdChain(h.Device), Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityRef(prioForward), Device: h.Device})
		}
		t.addSet(&nftables.Set{Name: mineSet(v), HasTimeout: true, Dynamic: true, Timeout: forwardMine,
			KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService), Concatenation: true,
			Size: maxEntries}, nil, true)
		for _, p := range h.Ports {
			c.add(slices.Concat(segmentTo(v, p), synOnly(), loadFlow(),
				[]expr.Any{&expr.Dynset{SrcRegKey: reg32a, Operation: unix.NFT_DYNSET_OP_ADD, Timeout: forwardMine, SetName: mineSet(v)},
					&expr.Verdict{Kind: expr.VerdictAccept}})...)
			c.add(slices.Concat(segmentTo(v, p), loadFlow(),
				[]expr.Any{&expr.Lookup{SourceRegister: reg32a, SetName: mineSet(v), Invert: true}},
				xmit(Real{MAC: h.PeerMAC, LinkMAC: h.LinkMAC, LinkIndex: h.LinkIndex}))...)
		}
	}
	return t
}

// segmentTo matches a TCP segment to vip:port addressed to this host's
// MAC (a frame flooded to every port is the old owner's already).
func segmentTo(vip netip.Addr, port uint16) []expr.Any {
	a := vip.As4()
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{unix.PACKET_HOST}},
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)},
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: a[:]},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// synOnly matches `tcp flags & (syn|ack) == syn` (byte 13 of the TCP header).
func synOnly() []expr.Any {
	const syn, ack = 0x02, 0x10
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 1, Mask: []byte{syn | ack}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{syn}},
	}
}
