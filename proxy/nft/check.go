package nft

import (
	"fmt"

	"github.com/google/nftables"
)

// probeTable names the table Check adds and deletes within one batch.
const probeTable = "hapair_probe"

// Check asks the kernel whether it can hold what nat (a nat-type chain on
// prerouting, with conntrack behind it) and, if dr is set, dr (a netdev
// ingress chain, on loopback) need. Each probe is one batch that adds a
// table with the chain and deletes it again, so the kernel validates the
// chain but nothing is left behind. The error names the missing piece.
func Check(c Conn, dr bool) error {
	ip := &nftables.Table{Name: probeTable, Family: nftables.TableFamilyIPv4}
	nat := &nftables.Chain{Name: "probe", Table: ip, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(prioDstNAT)}
	if err := c.Run([]Op{{Kind: OpAddTable, Table: ip}, {Kind: OpAddChain, Table: ip, Chain: nat}, {Kind: OpDelTable, Table: ip}}); err != nil {
		return fmt.Errorf("nft: the kernel refuses an nftables nat chain (method nat needs nf_tables with nft_chain_nat and conntrack): %w", err)
	}
	if !dr {
		return nil
	}
	nd := &nftables.Table{Name: probeTable, Family: nftables.TableFamilyNetdev}
	ing := &nftables.Chain{Name: "probe", Table: nd, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityRef(prioIngress), Device: "lo"}
	if err := c.Run([]Op{{Kind: OpAddTable, Table: nd}, {Kind: OpAddChain, Table: nd, Chain: ing}, {Kind: OpDelTable, Table: nd}}); err != nil {
		return fmt.Errorf("nft: the kernel refuses an nftables netdev ingress chain (method dr needs the netdev family): %w", err)
	}
	return nil
}
