package nft

import (
	"github.com/google/nftables"
)

// OpKind is one step of a batch.
type OpKind int

// The batch steps, in the order Apply emits them.
const (
	OpDelTable OpKind = iota
	OpAddTable
	OpFlushChain
	OpFlushSet
	OpDelSet
	OpDelChain
	OpAddChain
	OpAddSet
	OpAddElements
	OpAddRule
)

// Op is one message of a batch; only the fields its Kind names are set.
type Op struct {
	Kind  OpKind
	Table *nftables.Table
	Chain *nftables.Chain       // FlushChain, DelChain, AddChain, AddRule
	Set   *nftables.Set         // FlushSet, DelSet, AddSet, AddElements
	Elems []nftables.SetElement // AddElements
	Rule  *nftables.Rule        // AddRule
}

// TableState is what the kernel holds of one of hapair's tables.
type TableState struct {
	Marked bool     // holds the owner set with Marker
	Chains []string // names
	Sets   []string // names (the marker included)
	Maps   []string // the names in Sets that are maps (verdict maps)
}

// Conn is the kernel as this package needs it. Netlink is the real one;
// tests use a fake that records batches as text (Trace).
type Conn interface {
	// Table returns the table name (TableName or HoldTableName) of
	// family fam, or nil when there is none.
	Table(fam nftables.TableFamily, name string) (*TableState, error)
	// Run sends ops as one batch; the kernel applies all or none.
	Run(ops []Op) error
	// Elements lists the elements of set name in table TableName of fam.
	Elements(fam nftables.TableFamily, set string) ([]nftables.SetElement, error)
}
