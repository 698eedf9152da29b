package nft

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// HoldTableName is the table of the SYN hold: `inet hapair_hold`.
const HoldTableName = "hapair_hold"

// Names inside the hold table; prioHold runs the drop before the filter
// chains (priority filter = 0) so an accept there cannot let a SYN by.
const (
	holdChain = "input"
	holdSet4  = "hold_v4"
	holdSet6  = "hold_v6"
	prioHold  = -10
)

// Hold is the SYN hold of a planned move: while it is in place the host
// silently drops TCP segments with SYN set and ACK clear addressed to the
// held VIP:port pairs, so a client's new connection is neither accepted
// here nor refused; its SYN is retransmitted (RFC 6298 section 2: initial
// RTO 1 s) and reaches the node that holds the VIP by then. Established
// connections, and UDP, pass. It is the trick of HAProxy reloads that drop
// SYNs for a moment, and of an IPVS real at quiescent weight 0.
//
// The hold is one table, `inet hapair_hold`, marked like hapair's other
// tables (a set "owner" holding Marker); a table of that name without the
// marker is another program's and is never touched (ErrNotOurs). Install
// and Release are each one atomic batch. Safe for concurrent use.
type Hold struct {
	conn Conn
	mu   sync.Mutex
}

// NewHold returns the hold over conn. It touches nothing until called.
func NewHold(conn Conn) *Hold { return &Hold{conn: conn} }

// Install puts the hold in place for the TCP services at vips (VIP:port,
// IPv4 or IPv6), replacing a hold already there in the same batch. An
// empty vips is an error: a hold of nothing is a caller's mistake.
func (h *Hold) Install(vips []netip.AddrPort) error {
	if len(vips) == 0 {
		return errors.New("nft: installing a SYN hold: no VIP:port to hold")
	}
	spec, err := holdSpec(vips)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	have, err := h.table()
	if err != nil {
		return err
	}
	// An existing table is updated in place, not replaced: a new base
	// chain would be hooked beside the old one until the commit, with no
	// rules in the old generation, and a SYN crossing the commit could
	// pass both (the table's sets are plain, so update keeps their
	// elements visible to a packet under the old rules; see addHookRules).
	ops := update(have, spec)
	if err := h.conn.Run(ops); err != nil {
		return fmt.Errorf("nft: installing table inet %s: %w", HoldTableName, err)
	}
	return nil
}

// Release removes the hold. No table is fine (nothing held, or released
// already); at start it removes the table a crashed run left.
func (h *Hold) Release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	have, err := h.table()
	if err != nil || have == nil {
		return err
	}
	tbl := &nftables.Table{Name: HoldTableName, Family: nftables.TableFamilyINet}
	if err := h.conn.Run([]Op{{Kind: OpDelTable, Table: tbl}}); err != nil {
		return fmt.Errorf("nft: removing table inet %s: %w", HoldTableName, err)
	}
	return nil
}

// table returns the hold table in the kernel, nil when there is none, and
// ErrNotOurs when the table there has no marker.
func (h *Hold) table() (*TableState, error) {
	have, err := h.conn.Table(nftables.TableFamilyINet, HoldTableName)
	if err != nil {
		return nil, fmt.Errorf("nft: reading table inet %s: %w", HoldTableName, err)
	}
	if have != nil && !have.Marked {
		return nil, fmt.Errorf("nft: table inet %s %w", HoldTableName, ErrNotOurs)
	}
	return have, nil
}

// holdSpec builds the hold table: one input chain, with a rule per
// address family looking `daddr . tcp dport` up in that family's set.
func holdSpec(vips []netip.AddrPort) (*tableSpec, error) {
	t := newNamedTableSpec(nftables.TableFamilyINet, HoldTableName)
	var e4, e6 []nftables.SetElement
	for _, v := range vips {
		if !v.IsValid() || v.Port() == 0 {
			return nil, fmt.Errorf("nft: installing a SYN hold: %q is not a VIP:port", v)
		}
		a := v.Addr().Unmap()
		key := append(a.AsSlice(), binaryutil.BigEndian.PutUint16(v.Port())...)
		key = append(key, 0, 0) // the port is padded to 4 bytes, as nft does
		if a.Is4() {
			e4 = append(e4, nftables.SetElement{Key: key})
		} else {
			e6 = append(e6, nftables.SetElement{Key: key})
		}
	}
	in := t.addChain(&nftables.Chain{Name: holdChain, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(prioHold)})
	t.addSet(&nftables.Set{Name: holdSet4, Concatenation: true,
		KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)}, e4, false)
	t.addSet(&nftables.Set{Name: holdSet6, Concatenation: true,
		KeyType: nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetService)}, e6, false)
	// IPv4: daddr at network header + 16 (4 bytes) in NFT_REG32_00, the
	// port in _01. IPv6: daddr at + 24 fills 16-byte register 1, the port
	// goes to register 2, as nft writes `ip6 daddr . tcp dport`.
	in.add(append(synTo(unix.NFPROTO_IPV4),
		&expr.Payload{DestRegister: reg32a, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Payload{DestRegister: reg32b, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: reg32a, SetName: holdSet4},
		&expr.Verdict{Kind: expr.VerdictDrop})...)
	in.add(append(synTo(unix.NFPROTO_IPV6),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
		&expr.Payload{DestRegister: reg2, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: reg1, SetName: holdSet6},
		&expr.Verdict{Kind: expr.VerdictDrop})...)
	return t, nil
}

// synTo matches a TCP segment of address family nfproto opening a
// connection: `tcp flags & (syn|ack) == syn` (byte 13 of the TCP header).
func synTo(nfproto byte) []expr.Any {
	const syn, ack = 0x02, 0x10
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{nfproto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 1, Mask: []byte{syn | ack}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{syn}},
	}
}
