package nft

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
)

// Persisted is one ipvsadm -p template: new connections from Client go
// to Real until Client has been idle for TTL more. Persistence reads
// them from the kernel's sets so a peer can hold them (the IPVS sync
// daemon carries its persistence templates the same way), and
// Service.Seed loads them at a takeover.
type Persisted struct {
	Client netip.Addr     // IPv4
	Real   netip.AddrPort // one of the service's reals
	TTL    time.Duration  // time left, at least 1ms
}

// seedElems returns the elements that seed r's persistence set: the
// service's Seed entries for r, each with its time left as its timeout
// (the rules' refresh then sets the service's full timeout again).
func seedElems(s *Service, r Real) []nftables.SetElement {
	var out []nftables.SetElement
	for _, p := range s.Seed {
		if p.Real != r.Addr || !p.Client.Is4() || p.TTL < time.Millisecond {
			continue
		}
		a := p.Client.As4()
		out = append(out, nftables.SetElement{Key: a[:], Timeout: p.TTL})
	}
	return out
}

// Persistence returns, by service name, the persistence entries the
// kernel holds for svcs (those with Persistent set; the tables must be
// applied with them). An entry whose time is up is left out.
func (t *Tables) Persistence(svcs []Service) (map[string][]Persisted, error) {
	out := map[string][]Persisted{}
	for i := range svcs {
		s := &svcs[i]
		if s.Persistent <= 0 {
			continue
		}
		fam := nftables.TableFamilyIPv4
		if s.Method == MethodDR {
			fam = nftables.TableFamilyNetdev
		}
		var ps []Persisted
		for _, r := range s.Reals {
			es, err := t.conn.Elements(fam, persistSet(s, r))
			if err != nil {
				return nil, fmt.Errorf("nft: reading the persistence of %s in %q: %w", r.Addr, s.Name, err)
			}
			for _, e := range es {
				if len(e.Key) != 4 || e.Expires <= 0 {
					continue
				}
				ps = append(ps, Persisted{Client: netip.AddrFrom4([4]byte(e.Key)), Real: r.Addr, TTL: e.Expires})
			}
		}
		out[s.Name] = ps
	}
	return out, nil
}

// Flow is one entry of dr's flow table: packets from Client (address and
// port) go to Real until the flow has been idle for TTL more. Flows reads
// them from the kernel so the peer can hold them (the IPVS sync daemon
// carries its connection table the same way), and Service.SeedFlows
// loads them at a takeover: a dr connection then goes on to its real
// whatever the scheduler would pick for a new one.
type Flow struct {
	Client netip.AddrPort // IPv4
	Real   netip.AddrPort // one of the service's reals or its fallback
	TTL    time.Duration  // time left, at least 1ms
}

// flowKey is a flow set's key: the client address, then its port padded
// to 4 bytes, as nft lays out a concatenation of ipv4_addr . inet_service.
func flowKey(c netip.AddrPort) []byte {
	a := c.Addr().As4()
	return append(a[:], byte(c.Port()>>8), byte(c.Port()), 0, 0)
}

func seedFlowElems(s *Service, r Real) []nftables.SetElement {
	var out []nftables.SetElement
	for _, f := range s.SeedFlows {
		if f.Real != r.Addr || !f.Client.Addr().Is4() || f.TTL < time.Millisecond {
			continue
		}
		out = append(out, nftables.SetElement{Key: flowKey(f.Client), Timeout: f.TTL})
	}
	return out
}

// Flows returns, by service name, the flows the kernel holds for the dr
// services among svcs (applied). A flow whose time is up is left out.
func (t *Tables) Flows(svcs []Service) (map[string][]Flow, error) {
	out := map[string][]Flow{}
	for i := range svcs {
		s := &svcs[i]
		if s.Method != MethodDR {
			continue
		}
		var fs []Flow
		for _, r := range withFallback(s) {
			es, err := t.conn.Elements(nftables.TableFamilyNetdev, flowSet(s, r))
			if err != nil {
				return nil, fmt.Errorf("nft: reading the flows of %s in %q: %w", r.Addr, s.Name, err)
			}
			for _, e := range es {
				if len(e.Key) != 8 || e.Expires <= 0 {
					continue
				}
				c := netip.AddrPortFrom(netip.AddrFrom4([4]byte(e.Key[:4])), uint16(e.Key[4])<<8|uint16(e.Key[5]))
				fs = append(fs, Flow{Client: c, Real: r.Addr, TTL: e.Expires})
			}
		}
		out[s.Name] = fs
	}
	return out, nil
}
