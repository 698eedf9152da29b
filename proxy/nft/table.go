package nft

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// ErrNotOurs is returned when a table named TableName exists without
// hapair's marker: another program owns it, and hapair leaves it alone.
var ErrNotOurs = errors.New("exists without hapair's marker (another program's table); not touching it")

// Tables programs hapair's two tables. Apply and Remove are serialized;
// Tables is safe for concurrent use.
type Tables struct {
	conn Conn

	mu       sync.Mutex
	replaced map[nftables.TableFamily]bool // stale tables already dealt with
}

// New returns Tables over conn. It touches nothing until Apply.
func New(conn Conn) *Tables {
	return &Tables{conn: conn, replaced: map[nftables.TableFamily]bool{}}
}

var families = []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyNetdev}

// familyName is nft's name of family f: ip, netdev or inet, the ones
// hapair's tables use.
func familyName(f nftables.TableFamily) string {
	if n, ok := familyNames[f]; ok {
		return n
	}
	return fmt.Sprintf("family %d", f)
}

var familyNames = map[nftables.TableFamily]string{nftables.TableFamilyIPv4: "ip",
	nftables.TableFamilyNetdev: "netdev", nftables.TableFamilyINet: "inet"}

// Apply makes the kernel's tables match svcs, each family in one atomic
// batch. The first Apply of a Tables replaces a marked table left by an
// earlier run (a crash); later ones keep the persistence and flow maps
// of services that stay. A family no service uses has its table removed.
// svcs are validated first; nothing is changed when one is invalid.
func (t *Tables) Apply(svcs []Service) error { return t.applyAll(svcs, false) }

// ApplyKeepNAT is Apply, except that when no nat service is left the ip
// table stays, with its two nat base chains and no rule, instead of going.
// The kernel registers its NAT hooks with the first nat chain of a network
// namespace and unregisters them with the last (nf_nat_register_fn), and
// without them it stops translating even the connections conntrack has
// already mapped: a node that releases its last nat service while peers
// still send it the connections' packets (their ARP caches not yet moved
// to the new owner) would forward a real's reply with the real's own source
// address, and the client answers that with a reset. Without rules no new
// connection is scheduled; a later Apply removes the table.
func (t *Tables) ApplyKeepNAT(svcs []Service) error { return t.applyAll(svcs, true) }

// keepConntrack is the one rule of a kept ip table (ApplyKeepNAT): `ct
// state new`, no verdict. The NAT hooks alone do not keep conntrack on
// in the namespace: its hooks are held by the expressions that need it
// (nf_ct_netns_get: dnat, ct), and nat base chains are not among them.
// With the dnat rules gone and nothing else using conntrack (a balancer
// with no other ct rule), the kernel stopped tracking, so a real's reply
// found no entry, left untranslated, with the real's own address, and
// the client reset the connection (e2e TestKernelNATTakeBack in CI,
// TestKernelNATRepliesUntracedOldOwner). The rule is added in the same
// batch that removes the dnat rules, so conntrack never lapses.
func keepConntrack() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: u32(ctStateNew)},
	}
}

// ctStateNew is NF_CT_STATE_BIT(IP_CT_NEW), conntrack's state bit of a
// connection's first packet (linux nf_conntrack_common.h).
const ctStateNew = 1 << 3

func (t *Tables) applyAll(svcs []Service, keepNAT bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := map[string]bool{}
	for i := range svcs {
		if err := svcs[i].Validate(); err != nil {
			return err
		}
		if names[svcs[i].Name] {
			return fmt.Errorf("nft: service %q: listed twice", svcs[i].Name)
		}
		names[svcs[i].Name] = true
	}
	ip, netdev, err := build(svcs)
	if err != nil {
		return err
	}
	if ip == nil && keepNAT {
		ip = natBase()
		chainNamed(ip, "prerouting").add(keepConntrack()...)
	}
	for _, f := range families {
		want := ip
		if f == nftables.TableFamilyNetdev {
			want = netdev
		}
		if err := t.apply(f, want); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tables) apply(fam nftables.TableFamily, want *tableSpec) error {
	have, err := t.conn.Table(fam, TableName)
	if err != nil {
		return fmt.Errorf("nft: reading table %s %s: %w", familyName(fam), TableName, err)
	}
	if have != nil && !have.Marked {
		return fmt.Errorf("nft: table %s %s %w", familyName(fam), TableName, ErrNotOurs)
	}
	tbl := &nftables.Table{Name: TableName, Family: fam}
	var ops []Op
	if have != nil && (!t.replaced[fam] || want == nil) {
		ops = append(ops, Op{Kind: OpDelTable, Table: tbl})
		have = nil
	}
	if want != nil {
		ops = append(ops, update(have, want)...)
	}
	if len(ops) == 0 {
		t.replaced[fam] = true
		return nil
	}
	if err := t.conn.Run(ops); err != nil {
		return fmt.Errorf("nft: updating table %s %s: %w", familyName(fam), TableName, err)
	}
	t.replaced[fam] = true
	return nil
}

// update returns the batch turning have (nil: no table) into want. Order
// matters inside the batch: rules go first (flushing the chains drops
// their references to sets and chains), then maps are emptied (their
// elements reference chains), then what is no longer wanted is deleted,
// and the new state is added.
func update(have *TableState, want *tableSpec) []Op {
	tbl := want.table
	ops := []Op{{Kind: OpAddTable, Table: tbl}}
	wantSets := map[string]*setSpec{}
	for _, s := range want.sets {
		wantSets[s.set.Name] = s
	}
	wantChains := map[string]bool{}
	for _, c := range want.chains {
		wantChains[c.chain.Name] = true
	}
	kept := map[string]bool{} // sets that stay with their contents
	if have != nil {
		for _, c := range have.Chains {
			ops = append(ops, Op{Kind: OpFlushChain, Table: tbl, Chain: &nftables.Chain{Name: c, Table: tbl}})
		}
		for _, name := range have.Sets {
			s := &nftables.Set{Name: name, Table: tbl}
			w, ok := wantSets[name]
			switch {
			case ok && w.keep:
				kept[name] = true
			case ok:
				ops = append(ops, Op{Kind: OpFlushSet, Table: tbl, Set: s})
			case slices.Contains(have.Maps, name):
				ops = append(ops, Op{Kind: OpFlushSet, Table: tbl, Set: s}, Op{Kind: OpDelSet, Table: tbl, Set: s})
			default:
				// Not flushed: a flush takes the elements out at the
				// commit, and a packet still running the old rules
				// (see addHookRules) would miss them. A deleted set's
				// elements stay until the set is freed (a map's do not:
				// nft_delset deactivates them, and the chains its
				// verdicts name are only free once it is flushed).
				ops = append(ops, Op{Kind: OpDelSet, Table: tbl, Set: s})
			}
		}
		for _, c := range have.Chains {
			if !wantChains[c] {
				ops = append(ops, Op{Kind: OpDelChain, Table: tbl, Chain: &nftables.Chain{Name: c, Table: tbl}})
			}
		}
	}
	for _, c := range want.chains {
		// An existing chain is kept (flushed above); a base chain's hook
		// never changes under one name (the ingress device is in it).
		if have == nil || !slices.Contains(have.Chains, c.chain.Name) {
			ops = append(ops, Op{Kind: OpAddChain, Table: tbl, Chain: c.chain})
		}
	}
	for _, s := range want.sets {
		if kept[s.set.Name] {
			continue
		}
		if have == nil || !slices.Contains(have.Sets, s.set.Name) {
			ops = append(ops, Op{Kind: OpAddSet, Table: tbl, Set: s.set})
		}
		if len(s.elems) > 0 {
			ops = append(ops, Op{Kind: OpAddElements, Table: tbl, Set: s.set, Elems: s.elems})
		}
	}
	for _, c := range want.chains {
		for _, r := range c.rules {
			ops = append(ops, Op{Kind: OpAddRule, Table: tbl, Chain: c.chain, Rule: &nftables.Rule{Table: tbl, Chain: c.chain, Exprs: r}})
		}
	}
	return ops
}

// Remove deletes hapair's tables (at stop); tables that are absent are
// fine, tables without the marker are left alone and reported.
func (t *Tables) Remove() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, f := range families {
		if err := t.apply(f, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
