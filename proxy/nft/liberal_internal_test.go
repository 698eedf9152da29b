package nft

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"
)

// The update names the entry by its original tuple (and zone) and
// carries only the two flag attributes: no state, no window scale (which
// nlattr_to_tcp would overwrite), no NLM_F_CREATE (an entry that went
// meanwhile is not created again).
func TestLiberalMessage(t *testing.T) {
	f := conntrack.Flow{
		TupleOrig: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: netip.MustParseAddr("198.18.0.50"), DestinationAddress: netip.MustParseAddr("198.18.0.100")},
			Proto: conntrack.ProtoTuple{Protocol: 6, SourcePort: 40000, DestinationPort: 80}},
		Zone:      7,
		ProtoInfo: conntrack.ProtoInfo{TCP: &conntrack.ProtoInfoTCP{State: 3, OriginalWindowScale: 7, ReplyWindowScale: 7}},
	}
	m, err := liberalMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Flags != netlink.Request|netlink.Acknowledge {
		t.Errorf("netlink flags %v, want request|acknowledge only (an update, never a create)", m.Header.Flags)
	}
	h, attrs, err := netfilter.UnmarshalNetlink(m)
	if err != nil {
		t.Fatal(err)
	}
	if h.SubsystemID != netfilter.NFSubsysCTNetlink || h.MessageType != ipctnlMsgCtNew || h.Family != netfilter.ProtoIPv4 {
		t.Errorf("header %v, want ctnetlink IPCTNL_MSG_CT_NEW for IPv4", h)
	}
	want := "1{1{1=c6120032 2=c6120064} 2{1=06 2=9c40 3=0050}} 4{1{4=0808 5=0808}} 18=0007"
	if got := attrString(attrs); got != want {
		t.Errorf("attributes\n got %s\nwant %s", got, want)
	}
}

func TestLiberalMessageRefusesOthers(t *testing.T) {
	for _, f := range []conntrack.Flow{
		{TupleOrig: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: netip.MustParseAddr("2001:db8::1"), DestinationAddress: netip.MustParseAddr("2001:db8::2")},
			Proto: conntrack.ProtoTuple{Protocol: 6, SourcePort: 1, DestinationPort: 2}}},
		{TupleOrig: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: netip.MustParseAddr("198.18.0.50"), DestinationAddress: netip.MustParseAddr("198.18.0.100")},
			Proto: conntrack.ProtoTuple{Protocol: 17, SourcePort: 1, DestinationPort: 2}}},
	} {
		if _, err := liberalMessage(f); err == nil {
			t.Errorf("liberalMessage(%v): no error, want one (IPv4 TCP only)", f.TupleOrig)
		}
	}
}

// attrString writes attributes as TYPE=HEX, nested ones as TYPE{...}.
func attrString(as []netfilter.Attribute) string {
	s := ""
	for i, a := range as {
		if i > 0 {
			s += " "
		}
		if a.Nested {
			s += strconv.Itoa(int(a.Type)) + "{" + attrString(a.Children) + "}"
			continue
		}
		s += strconv.Itoa(int(a.Type)) + "=" + hex.EncodeToString(a.Data)
	}
	return s
}
