package nft

import (
	"fmt"

	"github.com/google/nftables"
)

// Netlink is the Conn that programs the kernel through google/nftables.
type Netlink struct {
	opts []nftables.ConnOption
	c    *nftables.Conn // for queries; Run takes a fresh one
}

var _ Conn = (*Netlink)(nil)

// OpenNetlink returns the kernel Conn; opts go to nftables.New (for
// example nftables.WithNetNSFd to program another network namespace).
// Each call opens and closes its own netlink socket.
func OpenNetlink(opts ...nftables.ConnOption) (*Netlink, error) {
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nft: opening nftables netlink: %w", err)
	}
	return &Netlink{opts: opts, c: c}, nil
}

// Table implements Conn.
func (n *Netlink) Table(fam nftables.TableFamily, name string) (*TableState, error) {
	ts, err := n.c.ListTablesOfFamily(fam)
	if err != nil {
		return nil, err
	}
	var tbl *nftables.Table
	for _, t := range ts {
		if t.Name == name && t.Family == fam {
			tbl = t
		}
	}
	if tbl == nil {
		return nil, nil
	}
	st := &TableState{}
	chains, err := n.c.ListChainsOfTableFamily(fam)
	if err != nil {
		return nil, err
	}
	for _, c := range chains {
		if c.Table.Name == name {
			st.Chains = append(st.Chains, c.Name)
		}
	}
	sets, err := n.c.GetSets(tbl)
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		st.Sets = append(st.Sets, s.Name)
		if s.IsMap {
			st.Maps = append(st.Maps, s.Name)
		}
		if s.Name != markerSet {
			continue
		}
		es, err := n.c.GetSetElements(s)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Comment == Marker {
				st.Marked = true
			}
		}
	}
	return st, nil
}

// Run implements Conn: the ops are queued and sent in one batch by Flush,
// on a fresh nftables.Conn so that a batch abandoned half-queued is never
// sent with the next one.
func (n *Netlink) Run(ops []Op) error {
	c, err := nftables.New(n.opts...)
	if err != nil {
		return err
	}
	// The ops that name one object and cannot fail, by the field they use.
	onTable := map[OpKind]func(*nftables.Table){OpDelTable: c.DelTable, OpAddTable: func(t *nftables.Table) { c.AddTable(t) }}
	onChain := map[OpKind]func(*nftables.Chain){OpFlushChain: c.FlushChain, OpDelChain: c.DelChain,
		OpAddChain: func(ch *nftables.Chain) { c.AddChain(ch) }}
	onSet := map[OpKind]func(*nftables.Set){OpFlushSet: c.FlushSet, OpDelSet: c.DelSet}
	for _, o := range ops {
		switch {
		case onTable[o.Kind] != nil:
			onTable[o.Kind](o.Table)
		case onChain[o.Kind] != nil:
			onChain[o.Kind](o.Chain)
		case onSet[o.Kind] != nil:
			onSet[o.Kind](o.Set)
		case o.Kind == OpAddSet:
			if err := c.AddSet(o.Set, nil); err != nil {
				return fmt.Errorf("set %s: %w", o.Set.Name, err)
			}
		case o.Kind == OpAddElements:
			if err := c.SetAddElements(o.Set, o.Elems); err != nil {
				return fmt.Errorf("elements of %s: %w", o.Set.Name, err)
			}
		case o.Kind == OpAddRule:
			c.AddRule(o.Rule)
		default:
			return fmt.Errorf("op %d: unknown kind", o.Kind)
		}
	}
	return c.Flush()
}

// Elements implements Conn.
func (n *Netlink) Elements(fam nftables.TableFamily, set string) ([]nftables.SetElement, error) {
	s, err := n.c.GetSetByName(&nftables.Table{Name: TableName, Family: fam}, set)
	if err != nil {
		return nil, err
	}
	return n.c.GetSetElements(s)
}
