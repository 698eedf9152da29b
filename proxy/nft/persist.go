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
