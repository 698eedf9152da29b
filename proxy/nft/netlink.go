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
	for _, o := range ops {
		switch o.Kind {
		case OpDelTable:
			c.DelTable(o.Table)
		case OpAddTable:
			c.AddTable(o.Table)
		case OpFlushChain:
			c.FlushChain(o.Chain)
		case OpFlushSet:
			c.FlushSet(o.Set)
		case OpDelSet:
			c.DelSet(o.Set)
		case OpDelChain:
			c.DelChain(o.Chain)
		case OpAddChain:
			c.AddChain(o.Chain)
		case OpAddSet:
			if err := c.AddSet(o.Set, nil); err != nil {
				return fmt.Errorf("set %s: %w", o.Set.Name, err)
			}
		case OpAddElements:
			if err := c.SetAddElements(o.Set, o.Elems); err != nil {
				return fmt.Errorf("elements of %s: %w", o.Set.Name, err)
			}
		case OpAddRule:
			c.AddRule(o.Rule)
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
