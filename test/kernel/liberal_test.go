package kernel

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/ti-mo/conntrack"
)

// beLiberal is IP_CT_TCP_FLAG_BE_LIBERAL in ProtoInfoTCP's flags (a
// flags byte then a mask byte).
const beLiberal = 0x08

// TestNATLiberal: nft.Liberal marks, in the kernel, both directions of
// the TCP entries of a released nat service liberal and nothing else:
// the connection's state stays, another service's entry is untouched,
// and an established connection goes on through the balancer. It also
// times the marking of many entries (a release waits for it).
func TestNATLiberal(t *testing.T) {
	s := newNAT(t)
	web := s.svc("rr")
	other := s.svc("rr")
	other.Name, other.VIP = "other", netip.MustParseAddrPort(vip+":81")
	s.b.apply(web, other)
	_, _, c, err := s.client.hello(vip + ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, c2, err := s.client.hello(vip + ":81")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// The release: web's rules go, then its entries are marked.
	s.b.apply(other)
	const many = 5000
	var marked int
	var took time.Duration
	var flows []conntrack.Flow
	err = inNetns(s.b.ns, func() error {
		ct, err := nft.OpenCTNetlink()
		if err != nil {
			return err
		}
		defer ct.Close()
		// Entries as conntrackd's commit would leave them, to time a
		// release that carried many connections.
		raw, err := conntrack.Dial(nil)
		if err != nil {
			return err
		}
		defer raw.Close()
		for i := range many {
			f := natEntry(s.clientA, uint16(20000+i), netip.MustParseAddrPort(vip+":80"), s.reals[i%len(s.reals)].Addr)
			if err := raw.Create(f); err != nil {
				return fmt.Errorf("creating entry %d: %w", i, err)
			}
		}
		start := time.Now()
		if marked, err = nft.Liberal(ct, []nft.Service{web}); err != nil {
			return err
		}
		took = time.Since(start)
		// An entry gone meanwhile (ENOENT) is neither marked nor an
		// error, and the others of its batch are marked.
		gone := natEntry(s.clientA, 19999, netip.MustParseAddrPort(vip+":80"), s.reals[0].Addr)
		again := natEntry(s.clientA, 20000, netip.MustParseAddrPort(vip+":80"), s.reals[0].Addr)
		if n, err := ct.SetLiberal([]conntrack.Flow{gone, again}); n != 1 || err != nil {
			return fmt.Errorf("SetLiberal of a gone entry and a present one = %d, %v; want 1, nil", n, err)
		}
		flows, err = ct.Dump(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nft.Liberal marked %d entries in %v", marked, took.Round(time.Millisecond))
	if marked != many+1 {
		t.Errorf("marked %d entries, want %d (the connection and the %d made)", marked, many+1, many)
	}
	seen := 0
	for _, f := range flows {
		o := f.TupleOrig
		if o.Proto.Protocol != 6 || o.IP.DestinationAddress.Unmap().String() != vip || f.ProtoInfo.TCP == nil {
			continue
		}
		tcp := f.ProtoInfo.TCP
		lib := tcp.OriginalFlags>>8&beLiberal != 0 && tcp.ReplyFlags>>8&beLiberal != 0
		switch o.Proto.DestinationPort {
		case 80:
			seen++
			if !lib {
				t.Errorf("web's entry %v: flags %#x/%#x, want liberal both ways", o, tcp.OriginalFlags, tcp.ReplyFlags)
			}
			if o.Proto.SourcePort < 20000 && tcp.State != 3 {
				t.Errorf("web's connection: state %d after the marking, want ESTABLISHED (3)", tcp.State)
			}
		case 81:
			if tcp.OriginalFlags>>8&beLiberal != 0 || tcp.ReplyFlags>>8&beLiberal != 0 {
				t.Errorf("other's entry %v was marked liberal: flags %#x/%#x", o, tcp.OriginalFlags, tcp.ReplyFlags)
			}
		}
	}
	if seen != many+1 {
		t.Errorf("found %d of web's entries after the marking, want %d", seen, many+1)
	}
	// The connection still works (its mapping stays; the ip table stays
	// while another nat service is there).
	if err := echo(c, "after"); err != nil {
		t.Errorf("web's connection after the marking: %v", err)
	}
}

// natEntry is an ESTABLISHED conntrack entry of a connection from client
// to the VIP that the balancer sent to real.
func natEntry(client netip.Addr, port uint16, vip, real netip.AddrPort) conntrack.Flow {
	return conntrack.Flow{
		TupleOrig: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: client, DestinationAddress: vip.Addr()},
			Proto: conntrack.ProtoTuple{Protocol: 6, SourcePort: port, DestinationPort: vip.Port()}},
		TupleReply: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: real.Addr(), DestinationAddress: client},
			Proto: conntrack.ProtoTuple{Protocol: 6, SourcePort: real.Port(), DestinationPort: port}},
		Timeout:   120,
		ProtoInfo: conntrack.ProtoInfo{TCP: &conntrack.ProtoInfoTCP{State: 3}},
	}
}
