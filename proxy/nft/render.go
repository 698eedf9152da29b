package nft

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// String renders o as one line, close to `nft --debug=netlink` for
// rules, so a test can compare a whole batch as text.
func (o Op) String() string {
	tbl := familyName(o.Table.Family) + " " + o.Table.Name
	switch o.Kind {
	case OpDelTable:
		return "delete table " + tbl
	case OpAddTable:
		return "add table " + tbl
	case OpFlushChain:
		return fmt.Sprintf("flush chain %s %s", tbl, o.Chain.Name)
	case OpDelChain:
		return fmt.Sprintf("delete chain %s %s", tbl, o.Chain.Name)
	case OpFlushSet:
		return fmt.Sprintf("flush set %s %s", tbl, o.Set.Name)
	case OpDelSet:
		return fmt.Sprintf("delete set %s %s", tbl, o.Set.Name)
	case OpAddChain:
		c := o.Chain
		if c.Hooknum == nil {
			return fmt.Sprintf("add chain %s %s", tbl, c.Name)
		}
		dev := ""
		if c.Device != "" {
			dev = " device " + c.Device
		}
		return fmt.Sprintf("add chain %s %s { type %s hook %s%s priority %d }", tbl, c.Name, c.Type,
			hookName(o.Table.Family, *c.Hooknum), dev, int32(*c.Priority))
	case OpAddSet:
		return "add " + setString(o.Set)
	case OpAddElements:
		var es []string
		for _, e := range o.Elems {
			es = append(es, elemString(o.Set, e))
		}
		return fmt.Sprintf("add element %s %s { %s }", tbl, o.Set.Name, strings.Join(es, ", "))
	case OpAddRule:
		var es []string
		for _, e := range o.Rule.Exprs {
			es = append(es, "[ "+exprString(e)+" ]")
		}
		return fmt.Sprintf("add rule %s %s %s", tbl, o.Chain.Name, strings.Join(es, " "))
	}
	return fmt.Sprintf("op %d", o.Kind)
}

func hookName(fam nftables.TableFamily, h nftables.ChainHook) string {
	if fam == nftables.TableFamilyNetdev && h == *nftables.ChainHookIngress {
		return "ingress"
	}
	switch h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookInput:
		return "input"
	}
	return fmt.Sprintf("hook%d", h)
}

func setString(s *nftables.Set) string {
	kind := "set"
	typ := s.KeyType.Name
	if s.IsMap {
		kind = "map"
		typ += " : " + s.DataType.Name
	}
	var flags []string
	if s.Dynamic {
		flags = append(flags, "dynamic")
	}
	if s.HasTimeout {
		flags = append(flags, "timeout")
	}
	out := fmt.Sprintf("%s %s %s { type %s;", kind, familyName(s.Table.Family)+" "+s.Table.Name, s.Name, typ)
	if len(flags) > 0 {
		out += " flags " + strings.Join(flags, ",") + ";"
	}
	if s.Timeout > 0 {
		out += " timeout " + s.Timeout.String() + ";"
	}
	if s.Comment != "" {
		out += fmt.Sprintf(" comment %q;", s.Comment)
	}
	return out + " }"
}

func elemString(s *nftables.Set, e nftables.SetElement) string {
	k := fmt.Sprintf("0x%x", e.Key)
	if s.KeyType.Name == "integer" || s.KeyType.Name == "mark" {
		k = fmt.Sprint(binary.NativeEndian.Uint32(e.Key))
	}
	if e.Timeout > 0 {
		k += " timeout " + e.Timeout.String()
	}
	if e.VerdictData != nil {
		return k + " : " + exprString(e.VerdictData)
	}
	return k
}

func exprString(e expr.Any) string {
	switch e := e.(type) {
	case *expr.Meta:
		return fmt.Sprintf("meta load %s => reg %d", metaName(e.Key), e.Register)
	case *expr.Ct:
		if e.Key == expr.CtKeySTATE {
			return fmt.Sprintf("ct load state => reg %d", e.Register)
		}
	case *expr.Cmp:
		return fmt.Sprintf("cmp eq reg %d %s", e.Register, bytesString(e.Data))
	case *expr.Payload:
		base := map[expr.PayloadBase]string{expr.PayloadBaseLLHeader: "link", expr.PayloadBaseNetworkHeader: "network",
			expr.PayloadBaseTransportHeader: "transport"}[e.Base]
		if e.OperationType == expr.PayloadWrite {
			return fmt.Sprintf("payload write reg %d => %db @ %s header + %d", e.SourceRegister, e.Len, base, e.Offset)
		}
		return fmt.Sprintf("payload load %db @ %s header + %d => reg %d", e.Len, base, e.Offset, e.DestRegister)
	case *expr.Bitwise:
		return fmt.Sprintf("bitwise reg %d = ( reg %d & %s ) ^ %s", e.DestRegister, e.SourceRegister, bytesString(e.Mask), bytesString(e.Xor))
	case *expr.Immediate:
		return fmt.Sprintf("immediate reg %d %s", e.Register, bytesString(e.Data))
	case *expr.Lookup:
		switch {
		case !e.IsDestRegSet && e.Invert:
			return fmt.Sprintf("lookup reg %d set %s inverted", e.SourceRegister, e.SetName)
		case !e.IsDestRegSet:
			return fmt.Sprintf("lookup reg %d set %s", e.SourceRegister, e.SetName)
		case e.DestRegister == regVerd:
			return fmt.Sprintf("lookup reg %d set %s dreg verdict", e.SourceRegister, e.SetName)
		}
		return fmt.Sprintf("lookup reg %d set %s dreg %d", e.SourceRegister, e.SetName, e.DestRegister)
	case *expr.Dynset:
		op := map[uint32]string{unix.NFT_DYNSET_OP_ADD: "add", unix.NFT_DYNSET_OP_UPDATE: "update"}[e.Operation]
		t := ""
		if e.Timeout > 0 {
			t = " timeout " + e.Timeout.String()
		}
		return fmt.Sprintf("dynset %s reg_key %d set %s%s", op, e.SrcRegKey, e.SetName, t)
	case *expr.Numgen:
		return fmt.Sprintf("numgen reg %d = inc mod %d", e.Register, e.Modulus)
	case *expr.Hash:
		return fmt.Sprintf("hash reg %d = jhash(reg %d, %d, seed 0x%x) %% mod %d", e.DestRegister, e.SourceRegister, e.Length, e.Seed, e.Modulus)
	case *expr.NAT:
		return fmt.Sprintf("nat dnat ip addr_min reg %d proto_min reg %d", e.RegAddrMin, e.RegProtoMin)
	case *expr.Dup:
		return fmt.Sprintf("dup sreg_dev %d", e.RegDev)
	case *expr.Verdict:
		if v, ok := verdictNames[e.Kind]; ok {
			return strings.TrimSuffix("immediate reg 0 "+v+" "+e.Chain, " ") // drop and accept name no chain
		}
	}
	return fmt.Sprintf("%T", e)
}

// verdictNames and metaNames are nft's words for the verdicts and meta
// keys hapair's rules use.
var (
	verdictNames = map[expr.VerdictKind]string{expr.VerdictJump: "jump", expr.VerdictGoto: "goto",
		expr.VerdictDrop: "drop", expr.VerdictAccept: "accept"}
	metaNames = map[expr.MetaKey]string{expr.MetaKeyPROTOCOL: "protocol", expr.MetaKeyL4PROTO: "l4proto",
		expr.MetaKeyPKTTYPE: "pkttype", expr.MetaKeyNFPROTO: "nfproto"}
)

func metaName(k expr.MetaKey) string {
	if n, ok := metaNames[k]; ok {
		return n
	}
	return fmt.Sprint(uint32(k))
}

// bytesString shows 4 bytes as an IPv4 address, 6 as a MAC, others in hex.
func bytesString(b []byte) string {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)).String() + fmt.Sprintf("/0x%x", b)
	case 6:
		return net.HardwareAddr(b).String()
	}
	return fmt.Sprintf("0x%x", b)
}
