// Package nfttest is a fake nft.Conn: it records every batch as text (one
// line per message, see nft.Op.String) and keeps the names of the chains
// and sets the batches leave, so tests see what hapair would send to the
// kernel without root. It models names only, not packet paths.
package nfttest

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/hapair/hapair/proxy/nft"
)

// Fake is an in-memory nft.Conn. The zero value has no tables. Safe for
// concurrent use.
type Fake struct {
	mu     sync.Mutex
	tables map[key]*nft.TableState
	trace  []string
	// Fail, when set, makes the next Run fail with it, changing nothing.
	Fail error
	// Elems answers Elements by set name.
	Elems map[string][]nftables.SetElement
}

var _ nft.Conn = (*Fake)(nil)

type key struct {
	fam  nftables.TableFamily
	name string
}

// Seed puts a table in place as if an earlier run (or another program,
// with marked false) had left it.
func (f *Fake) Seed(fam nftables.TableFamily, marked bool, chains, sets []string) {
	f.SeedTable(fam, nft.TableName, marked, chains, sets)
}

// SeedTable is Seed for a table of any name (nft.HoldTableName).
func (f *Fake) SeedTable(fam nftables.TableFamily, name string, marked bool, chains, sets []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tables == nil {
		f.tables = map[key]*nft.TableState{}
	}
	f.tables[key{fam, name}] = &nft.TableState{Marked: marked, Chains: chains, Sets: sets}
}

// Table implements nft.Conn.
func (f *Fake) Table(fam nftables.TableFamily, name string) (*nft.TableState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[key{fam, name}]
	if t == nil {
		return nil, nil
	}
	c := *t
	c.Chains = slices.Clone(t.Chains)
	c.Sets = slices.Clone(t.Sets)
	return &c, nil
}

// Run implements nft.Conn: it records the batch and applies its names.
func (f *Fake) Run(ops []nft.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Fail; err != nil {
		f.Fail = nil
		return err
	}
	if f.tables == nil {
		f.tables = map[key]*nft.TableState{}
	}
	for _, o := range ops {
		f.trace = append(f.trace, o.String())
		k := key{o.Table.Family, o.Table.Name}
		t := f.tables[k]
		if t == nil && o.Kind != nft.OpAddTable && o.Kind != nft.OpDelTable {
			return fmt.Errorf("nfttest: %s: no such table", o)
		}
		switch o.Kind {
		case nft.OpDelTable:
			delete(f.tables, k)
		case nft.OpAddTable:
			if t == nil {
				f.tables[k] = &nft.TableState{}
			}
		case nft.OpAddChain:
			t.Chains = append(t.Chains, o.Chain.Name)
		case nft.OpDelChain:
			t.Chains = slices.DeleteFunc(t.Chains, func(s string) bool { return s == o.Chain.Name })
		case nft.OpAddSet:
			t.Sets = append(t.Sets, o.Set.Name)
			if o.Set.IsMap {
				t.Maps = append(t.Maps, o.Set.Name)
			}
		case nft.OpDelSet:
			t.Sets = slices.DeleteFunc(t.Sets, func(s string) bool { return s == o.Set.Name })
			t.Maps = slices.DeleteFunc(t.Maps, func(s string) bool { return s == o.Set.Name })
		case nft.OpAddElements:
			for _, e := range o.Elems {
				if o.Set.Name == "owner" && e.Comment == nft.Marker {
					t.Marked = true
				}
			}
		}
	}
	f.trace = append(f.trace, "commit")
	return nil
}

// Elements implements nft.Conn.
func (f *Fake) Elements(fam nftables.TableFamily, set string) ([]nftables.SetElement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Elems[set], nil
}

// Trace returns the batches recorded since the last call, one message per
// line, each batch ending in "commit".
func (f *Fake) Trace() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := strings.Join(f.trace, "\n")
	f.trace = nil
	return out
}

// Has reports whether the fake holds a table of family fam (any name).
func (f *Fake) Has(fam nftables.TableFamily) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.tables {
		if k.fam == fam {
			return true
		}
	}
	return false
}
