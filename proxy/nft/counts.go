package nft

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/ti-mo/conntrack"
)

// Counts is one real's connections as `ipvsadm -Ln` shows them: Active
// are established TCP connections (IPVS's ActiveConn), Inactive every
// other state, and UDP flows (InActConn).
type Counts struct {
	Active, Inactive int
}

// Dumper lists the kernel's conntrack entries; *conntrack.Conn
// (github.com/ti-mo/conntrack, Dial(nil)) is one.
type Dumper interface {
	Dump(*conntrack.DumpOptions) ([]conntrack.Flow, error)
}

// tcpEstablished is TCP_CONNTRACK_ESTABLISHED
// (linux include/uapi/linux/netfilter/nf_conntrack_tcp.h).
const tcpEstablished = 3

// Connections returns, per service name and real (fallback included),
// its connections. nat services are counted from conntrack: an entry
// whose original direction went to the VIP and whose reply comes from
// the real. dr traffic bypasses conntrack at ingress, so dr services
// count the flows in the real's flow set (each a client address and port
// seen within the flow timeout) as active.
func (t *Tables) Connections(d Dumper, svcs []Service) (map[string]map[netip.AddrPort]Counts, error) {
	out := map[string]map[netip.AddrPort]Counts{}
	var flows []conntrack.Flow
	dumped := false
	for i := range svcs {
		s := &svcs[i]
		m := map[netip.AddrPort]Counts{}
		out[s.Name] = m
		switch s.Method {
		case MethodNAT:
			if !dumped {
				var err error
				if flows, err = d.Dump(nil); err != nil {
					return nil, fmt.Errorf("nft: reading conntrack: %w", err)
				}
				dumped = true
			}
			countNAT(m, s, flows)
		case MethodDR:
			for _, r := range withFallback(s) {
				es, err := t.conn.Elements(nftables.TableFamilyNetdev, flowSet(s, r))
				if err != nil {
					return nil, fmt.Errorf("nft: reading flows of %s in %q: %w", r.Addr, s.Name, err)
				}
				m[r.Addr] = Counts{Active: len(es)}
			}
		}
	}
	return out, nil
}

func withFallback(s *Service) []Real {
	if s.Fallback == nil {
		return s.Reals
	}
	return append(append([]Real(nil), s.Reals...), *s.Fallback)
}

func countNAT(m map[netip.AddrPort]Counts, s *Service, flows []conntrack.Flow) {
	reals := realSet(s)
	for r := range reals {
		m[r] = Counts{}
	}
	for _, f := range flows {
		real, ok := natFlow(s, reals, f)
		if !ok {
			continue
		}
		c := m[real]
		if f.ProtoInfo.TCP != nil && f.ProtoInfo.TCP.State == tcpEstablished {
			c.Active++
		} else {
			c.Inactive++
		}
		m[real] = c
	}
}
