package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName names both of hapair's tables (ip and netdev families).
const TableName = "hapair"

// Marker identifies a table as hapair's: the set named markerSet holds
// one element, markerKey ("hapr"), with this comment. (google/nftables
// v0.3.0 cannot write a table's user data, nor read a set's comment back;
// it reads element comments.)
const (
	markerSet = "owner"
	markerKey = 0x68617072
	Marker    = "hapair: owned by had, replaced at start, removed at stop"
)

// Registers (linux include/uapi/linux/netfilter/nf_tables.h): 16-byte
// registers 1 and 2; a concatenated key (address . port) starts in reg 1
// and its second part goes to NFT_REG32_01, the way nft itself writes it
// (nft cannot list a rule that names the first part NFT_REG32_00).
const (
	reg1    = unix.NFT_REG_1
	reg2    = unix.NFT_REG_2
	reg32a  = reg1
	reg32b  = unix.NFT_REG32_00 + 1
	regVerd = unix.NFT_REG_VERDICT
)

// Hook priorities (nft's named priorities): dstnat for the DNAT chain,
// mangle for the persistence refresh that must see the VIP before DNAT.
const (
	prioDstNAT  = -100
	prioMangle  = -150
	prioIngress = 0
)

// shSeed is sh's jhash seed. It must be fixed: without one the kernel
// draws a random seed per rule, so every Apply, and each node of the
// pair, would send a client to a different real (IPVS's sh hash, too,
// is a fixed function of the address).
const shSeed = 0x68617072

// maxEntries sizes the dynamic sets (the kernel's default is 65535): a
// full dr flow set would leave new flows unrecorded, and their next packet
// rescheduled. Memory is spent per entry, not per slot.
const maxEntries = 1 << 20

// tableSpec is one family's wanted table.
type tableSpec struct {
	table  *nftables.Table
	chains []*chainSpec
	sets   []*setSpec
}

type chainSpec struct {
	chain *nftables.Chain
	rules [][]expr.Any
}

type setSpec struct {
	set   *nftables.Set
	elems []nftables.SetElement
	// keep: sets holding state (persistence and dr flows, which the
	// kernel writes, and the marker) are kept with their contents across
	// updates; their elements are added only when the set is new.
	keep bool
}

func (t *tableSpec) addChain(c *nftables.Chain) *chainSpec {
	c.Table = t.table
	cs := &chainSpec{chain: c}
	t.chains = append(t.chains, cs)
	return cs
}

func (t *tableSpec) addSet(s *nftables.Set, elems []nftables.SetElement, keep bool) {
	s.Table = t.table
	t.sets = append(t.sets, &setSpec{set: s, elems: elems, keep: keep})
}

func (c *chainSpec) add(exprs ...expr.Any) { c.rules = append(c.rules, exprs) }

func newTableSpec(fam nftables.TableFamily) *tableSpec {
	return newNamedTableSpec(fam, TableName)
}

// newNamedTableSpec is an empty table of hapair's: only the marker.
func newNamedTableSpec(fam nftables.TableFamily, name string) *tableSpec {
	t := &tableSpec{table: &nftables.Table{Name: name, Family: fam}}
	t.addSet(&nftables.Set{Name: markerSet, KeyType: nftables.TypeMark},
		[]nftables.SetElement{{Key: u32(markerKey), Comment: Marker}}, true)
	return t
}

// Names of a service's chains and sets. A real's sets are named by its
// id, so they survive other reals coming and going.
func svcChain(s *Service) string          { return "svc_" + s.Name }
func realChain(s *Service, r Real) string { return fmt.Sprintf("real_%s_%08x", s.Name, r.id()) }
func outChain(s *Service, r Real) string  { return fmt.Sprintf("out_%s_%08x", s.Name, r.id()) }
func persistSet(s *Service, r Real) string {
	return fmt.Sprintf("persist_%s_%08x", s.Name, r.id())
}
func flowSet(s *Service, r Real) string { return fmt.Sprintf("flows_%s_%08x", s.Name, r.id()) }
func slotMap(s *Service) string         { return "slots_" + s.Name }
func ingressChain(dev string) string    { return "ingress_" + dev }
func goTo(chain string) *expr.Verdict   { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain} }
func imm(reg uint32, b []byte) *expr.Immediate {
	return &expr.Immediate{Register: reg, Data: b}
}
func u32(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }

// build returns the wanted ip (nat) and netdev (dr) tables for svcs, nil
// for a family no service uses. svcs must be validated, dr ones resolved.
func build(svcs []Service) (ip, netdev *tableSpec, err error) {
	for i := range svcs {
		s := &svcs[i]
		switch s.Method {
		case MethodNAT:
			if ip == nil {
				ip = natBase()
			}
			// The refresh chain sees every packet to the VIPs: hooked only
			// while some nat service is persistent.
			if s.Persistent > 0 && chainNamed(ip, "refresh") == nil {
				ip.addChain(&nftables.Chain{Name: "refresh", Type: nftables.ChainTypeFilter,
					Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(prioMangle)})
			}
			buildNAT(ip, s)
		case MethodDR:
			if netdev == nil {
				netdev = newTableSpec(nftables.TableFamilyNetdev)
			}
			if err := buildDR(netdev, s); err != nil {
				return nil, nil, err
			}
		}
	}
	return ip, netdev, nil
}

// natBase is the ip table with its two nat base chains and no rule.
func natBase() *tableSpec {
	ip := newTableSpec(nftables.TableFamilyIPv4)
	ip.addChain(&nftables.Chain{Name: "prerouting", Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(prioDstNAT)})
	// Connections the balancer host opens itself to the VIP (monitoring,
	// local clients) are scheduled too, as IPVS does at LOCAL_OUT.
	ip.addChain(&nftables.Chain{Name: "output", Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityRef(prioDstNAT)})
	return ip
}

func chainNamed(t *tableSpec, name string) *chainSpec {
	for _, c := range t.chains {
		if c.chain.Name == name {
			return c
		}
	}
	return nil
}

// match returns the expressions matching packets to the virtual service.
// netdev first checks that the frame is addressed to this host
// (`meta pkttype host`): ingress also sees frames a switch floods or a
// bridge delivers to every port, and IPVS-DR only forwards what the
// host's own stack would receive, so a node that does not hold the VIP's
// MAC must not forward them too (the real would get every packet twice).
// Then that it carries IPv4 (ingress sees every protocol).
func match(s *Service, fam nftables.TableFamily) []expr.Any {
	var e []expr.Any
	if fam == nftables.TableFamilyNetdev {
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{unix.PACKET_HOST}},
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)})
	}
	proto := byte(unix.IPPROTO_TCP)
	if s.Protocol == "udp" {
		proto = unix.IPPROTO_UDP
	}
	a := s.VIP.Addr().As4()
	return append(e,
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: a[:]},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{proto}},
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(s.VIP.Port())},
	)
}

func loadSaddr(reg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

// Persistence (ipvsadm -p) is one dynamic set of client addresses per
// real, with the service's timeout. A client found in a live real's set
// goes to that real; every packet the client sends refreshes the entry, so
// it expires only after the client has been idle for the timeout. (One set
// per real rather than one client->real map: nft can list neither a
// dynset whose data comes from a map lookup nor a map lookup feeding a
// verdict map, and operators must be able to run `nft list ruleset`.)
func persistSets(t *tableSpec, s *Service) {
	for _, r := range s.Reals {
		t.addSet(&nftables.Set{Name: persistSet(s, r), HasTimeout: true, Dynamic: true,
			Timeout: s.Persistent, KeyType: nftables.TypeIPAddr, Size: maxEntries}, seedElems(s, r), true)
	}
}

// persistRules returns, per live real, `ip saddr @persist_R` followed by
// then (a refresh, or a goto to the real's chain).
func persistRules(s *Service, then func(Real) []expr.Any) [][]expr.Any {
	var rules [][]expr.Any
	for _, r := range s.Reals {
		if !r.live() {
			continue
		}
		rules = append(rules, append([]expr.Any{
			loadSaddr(reg1),
			&expr.Lookup{SourceRegister: reg1, SetName: persistSet(s, r)},
		}, then(r)...))
	}
	return rules
}

// refresh updates the client's entry in r's set (reg 1 holds its address).
func refresh(s *Service, r Real) []expr.Any {
	return []expr.Any{&expr.Dynset{SrcRegKey: reg1, Operation: unix.NFT_DYNSET_OP_UPDATE,
		Timeout: s.Persistent, SetName: persistSet(s, r)}}
}

// persistRecord adds or refreshes the client's entry in r's set.
func persistRecord(s *Service, r Real) []expr.Any {
	return append([]expr.Any{loadSaddr(reg1)}, refresh(s, r)...)
}

// schedule adds the slot map and returns the scheduling rule: numgen inc
// (rr, wrr) or jhash of the source address (sh) modulo the slots, then the
// verdict map. nil when no real is schedulable (a modulus of 0 is invalid).
// A lookup that misses leaves the service chain (the hook chain's catch,
// addHookRules, takes the packet); it may only across a commit.
func schedule(t *tableSpec, s *Service) []expr.Any {
	slots := serviceSlots(s)
	elems := make([]nftables.SetElement, len(slots))
	for i, ri := range slots {
		elems[i] = nftables.SetElement{Key: u32(uint32(i)), VerdictData: goTo(realChain(s, s.Reals[ri]))}
	}
	// numgen and jhash write host byte order; so must the keys.
	t.addSet(&nftables.Set{Name: slotMap(s), IsMap: true, KeyType: nftables.TypeInteger,
		KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict}, elems, false)
	if len(slots) == 0 {
		return nil
	}
	n := uint32(len(slots))
	var pick []expr.Any
	if s.Scheduler == "sh" {
		pick = []expr.Any{loadSaddr(reg1),
			&expr.Hash{SourceRegister: reg1, DestRegister: reg1, Length: 4, Modulus: n, Seed: shSeed, Type: expr.HashTypeJenkins}}
	} else {
		pick = []expr.Any{&expr.Numgen{Register: reg1, Modulus: n, Type: unix.NFT_NG_INCREMENTAL}}
	}
	return append(pick, &expr.Lookup{SourceRegister: reg1, DestRegister: regVerd, IsDestRegSet: true, SetName: slotMap(s)})
}

// serviceSlots is s's slot table under its scheduler (wrrSlots, rrSlots).
func serviceSlots(s *Service) []int {
	if Weighted(s.Scheduler) {
		return wrrSlots(s.Reals)
	}
	return rrSlots(s.Reals)
}

// addHookRules adds s's rules to a hook chain: the jump to its service
// chain, then a catch for a packet that comes back from it undirected,
// `goto` the chain of the first real in the slot order, or of the
// fallback when no real is schedulable (none when neither is: the packet
// then reaches the host, as with no real at all).
//
// Only a packet that crosses a commit comes back. nf_tables runs a
// packet's chains from the rule blobs of the generation it read on entry
// (nft_do_chain), but a set lookup tests elements against the generation
// current at the lookup (nft_genmask_cur). So a packet that entered under
// an Apply's old rules and looks the slot map up just after the commit
// sees the new elements:
//   - with the old modulus n_old, a key at or above the new n_new misses
//     (with nft alone, 3 misses in 1.8M packets across 800 commits between
//     mod 8 and mod 1; in e2e TestNATHealthChangeUnderLoad, 1 connection
//     in 16,855 refused);
//   - a hit on the element of a real the Apply has just added goes to a
//     chain the old generation holds empty (a new chain's rules exist in
//     the next generation only, nf_tables_commit_chain), which returns
//     without a verdict (with nft alone, 14 of 1.9M packets across 800
//     commits that moved a map's keys to a new chain).
//
// Either way the packet would reach the balancer's own stack, which holds
// the VIP and answers a SYN with a reset. The catch sends it to a real
// schedulable under the rules it ran, as if it had come a moment earlier.
func addHookRules(hook *chainSpec, s *Service, fam nftables.TableFamily) {
	hook.add(append(match(s, fam), &expr.Verdict{Kind: expr.VerdictJump, Chain: svcChain(s)})...)
	if c := catchChain(s); c != "" {
		hook.add(append(match(s, fam), goTo(c))...)
	}
}

// catchChain is the chain an undirected packet of s is sent to: the first
// slot's real, else the fallback, else none.
func catchChain(s *Service) string {
	switch slots := serviceSlots(s); {
	case len(slots) > 0:
		return realChain(s, s.Reals[slots[0]])
	case s.Fallback != nil:
		return realChain(s, *s.Fallback)
	}
	return ""
}

func buildNAT(t *tableSpec, s *Service) {
	for _, hook := range []string{"prerouting", "output"} {
		addHookRules(chainNamed(t, hook), s, t.table.Family)
	}
	svc := t.addChain(&nftables.Chain{Name: svcChain(s)})
	if s.Persistent > 0 {
		persistSets(t, s)
		// The DNAT chain sees only a connection's first packet; the
		// refresh chain (before DNAT, so the VIP still matches) sees all.
		ref := chainNamed(t, "refresh")
		for _, r := range persistRules(s, func(r Real) []expr.Any { return refresh(s, r) }) {
			ref.add(append(match(s, t.table.Family), r...)...)
		}
		for _, r := range persistRules(s, func(r Real) []expr.Any { return []expr.Any{goTo(realChain(s, r))} }) {
			svc.add(r...)
		}
	}
	pick := schedule(t, s)
	if pick != nil {
		svc.add(pick...)
	}
	for _, r := range s.Reals {
		c := t.addChain(&nftables.Chain{Name: realChain(s, r)})
		if s.Persistent > 0 {
			c.add(persistRecord(s, r)...)
		}
		c.add(dnat(r)...)
	}
	if s.Fallback != nil {
		fb := t.addChain(&nftables.Chain{Name: realChain(s, *s.Fallback)})
		fb.add(dnat(*s.Fallback)...)
		if pick == nil { // else the slot lookup always directs (or the hook's catch)
			svc.add(goTo(fb.chain.Name))
		}
	}
}

func dnat(r Real) []expr.Any {
	a := r.Addr.Addr().As4()
	return []expr.Any{
		imm(reg1, a[:]),
		imm(reg2, binaryutil.BigEndian.PutUint16(r.Addr.Port())),
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
	}
}

// buildDR programs direct routing at the ingress of s.Ingress. Ingress
// has no conntrack, so dr keeps its own flow table, as IPVS keeps its
// connection table: per real, a dynamic set of (client address . client
// port) with the protocol's idle timeout, refreshed by every packet.
// Every configured real keeps its flow rule, down or not: a flow already
// sent to a real keeps going there (IPVS's expire_nodest_conn=0).
func buildDR(t *tableSpec, s *Service) error {
	ing := chainNamed(t, ingressChain(s.Ingress))
	if ing == nil {
		ing = t.addChain(&nftables.Chain{Name: ingressChain(s.Ingress), Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityRef(prioIngress), Device: s.Ingress})
	}
	addHookRules(ing, s, t.table.Family)

	all := s.Reals
	if s.Fallback != nil {
		all = append(append([]Real(nil), s.Reals...), *s.Fallback)
	}
	timeout := FlowTimeoutTCP
	if s.Protocol == "udp" {
		timeout = FlowTimeoutUDP
	}
	flowType := nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	svc := t.addChain(&nftables.Chain{Name: svcChain(s)})
	for _, r := range all {
		if err := r.resolved(); err != nil {
			return fmt.Errorf("nft: service %q: %w", s.Name, err)
		}
		t.addSet(&nftables.Set{Name: flowSet(s, r), HasTimeout: true, Dynamic: true, Timeout: timeout,
			KeyType: flowType, Concatenation: true, Size: maxEntries}, seedFlowElems(s, r), true)
		svc.add(append(loadFlow(),
			&expr.Lookup{SourceRegister: reg32a, SetName: flowSet(s, r)},
			&expr.Dynset{SrcRegKey: reg32a, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: timeout, SetName: flowSet(s, r)},
			goTo(outChain(s, r)))...)
	}
	if s.Persistent > 0 {
		persistSets(t, s)
		for _, r := range persistRules(s, func(r Real) []expr.Any { return append(refresh(s, r), goTo(realChain(s, r))) }) {
			svc.add(r...)
		}
	}
	pick := schedule(t, s)
	if pick != nil {
		svc.add(pick...)
	}
	for i, r := range all {
		c := t.addChain(&nftables.Chain{Name: realChain(s, r)})
		c.add(append(loadFlow(),
			&expr.Dynset{SrcRegKey: reg32a, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: timeout, SetName: flowSet(s, r)})...)
		fallback := s.Fallback != nil && i == len(all)-1
		if s.Persistent > 0 && !fallback {
			c.add(persistRecord(s, r)...)
		}
		c.add(goTo(outChain(s, r)))
		t.addChain(&nftables.Chain{Name: outChain(s, r)}).add(xmit(r)...)
		if fallback && pick == nil {
			svc.add(goTo(c.chain.Name))
		}
	}
	return nil
}

// loadFlow loads the flow key, client address . client port, into
// NFT_REG32_00 and _01 (the port is padded to 4 bytes, as nft does).
func loadFlow() []expr.Any {
	return []expr.Any{
		loadSaddr(reg32a),
		&expr.Payload{DestRegister: reg32b, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
	}
}

// xmit rewrites the frame's MAC addresses (source: the out link's, so
// the switch never learns the client's MAC on this port) and sends it out
// of the real's link. google/nftables v0.3.0 (the newest release) has no
// fwd expression, and none can be added from outside it (expr.Any's
// marshal method is unexported), so it is `dup to <link>` then drop: one
// skb clone per packet, where netdev `fwd to <link>` would send the
// frame itself.
func xmit(r Real) []expr.Any {
	return []expr.Any{
		imm(reg1, r.MAC),
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg1, Base: expr.PayloadBaseLLHeader, Offset: 0, Len: 6},
		imm(reg1, r.LinkMAC),
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		imm(reg1, u32(uint32(r.LinkIndex))),
		&expr.Dup{RegDev: reg1, IsRegDevSet: true},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}
