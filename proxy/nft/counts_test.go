package nft_test

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/nft/nfttest"
	"github.com/ti-mo/conntrack"
)

type dump []conntrack.Flow

func (d dump) Dump(*conntrack.DumpOptions) ([]conntrack.Flow, error) { return d, nil }

func flow(proto uint8, client, vip, real string, state uint8) conntrack.Flow {
	c, v, r := ap(client), ap(vip), ap(real)
	f := conntrack.Flow{
		TupleOrig: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: c.Addr(), DestinationAddress: v.Addr()},
			Proto: conntrack.ProtoTuple{Protocol: proto, SourcePort: c.Port(), DestinationPort: v.Port()}},
		TupleReply: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: r.Addr(), DestinationAddress: c.Addr()},
			Proto: conntrack.ProtoTuple{Protocol: proto, SourcePort: r.Port(), DestinationPort: c.Port()}},
	}
	if proto == 6 {
		f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: state}
	}
	return f
}

func TestConnections(t *testing.T) {
	const est, timeWait = 3, 7
	d := dump{
		flow(6, "198.18.0.50:40000", "198.18.0.100:80", "198.18.0.21:8080", est),
		flow(6, "198.18.0.50:40001", "198.18.0.100:80", "198.18.0.21:8080", timeWait),
		flow(6, "198.18.0.50:40002", "198.18.0.100:80", "198.18.0.22:8080", est),
		flow(6, "198.18.0.50:40003", "198.18.0.100:80", "198.18.0.30:8080", est),  // fallback
		flow(6, "198.18.0.50:40004", "198.18.0.100:443", "198.18.0.21:8080", est), // other port
		flow(17, "198.18.0.50:40005", "198.18.0.100:80", "198.18.0.21:8080", 0),   // other protocol
		flow(6, "198.18.0.50:40006", "198.18.0.101:80", "198.18.0.21:8080", est),  // other VIP
	}
	f := &nfttest.Fake{Elems: map[string][]nftables.SetElement{"flows_sip_1d309c73": {{}, {}}}}
	got, err := nft.New(f).Connections(d, []nft.Service{natService(), drService()})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[netip.AddrPort]nft.Counts{
		"web": {ap("198.18.0.21:8080"): {1, 1}, ap("198.18.0.22:8080"): {1, 0}, ap("198.18.0.30:8080"): {1, 0}},
		"sip": {ap("198.18.0.21:5060"): {2, 0}, ap("198.18.0.22:5060"): {0, 0}},
	}
	for svc, reals := range want {
		for r, c := range reals {
			if got[svc][r] != c {
				t.Errorf("Connections()[%s][%s] = %+v, want %+v", svc, r, got[svc][r], c)
			}
		}
	}
}
