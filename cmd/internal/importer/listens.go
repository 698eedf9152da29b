package importer

import "net/netip"

// listenSet holds the listen addresses of the services kept so far, to
// refuse one that cannot be bound beside them: the same address, or a
// wildcard and an address on the same port and protocol (proxy.Overlap,
// the rule had's load applies: 0.0.0.0 takes every IPv4 address, [::]
// every address). Each check costs the same however many services share
// the port.
type listenSet map[listenKey]*portListens

type listenKey struct {
	proto string
	port  uint16
}

type portListens struct {
	exact        map[netip.Addr]listenAt
	first        *listenAt // the first of any family
	first4       *listenAt // the first IPv4 one
	wild4, wild6 *listenAt // the first 0.0.0.0 and [::]
}

type listenAt struct {
	listen string
	at     src
}

// clash returns the kept service ap cannot be bound beside, if any.
func (ls listenSet) clash(proto string, ap netip.AddrPort) (listenAt, bool) {
	p := ls[listenKey{proto, ap.Port()}]
	if p == nil {
		return listenAt{}, false
	}
	a := ap.Addr()
	x, ok := p.exact[a]
	switch {
	case ok:
	case p.wild6 != nil:
		x, ok = *p.wild6, true
	case p.wild4 != nil && a.Is4():
		x, ok = *p.wild4, true
	case a.IsUnspecified() && !a.Is4() && p.first != nil:
		x, ok = *p.first, true
	case a.IsUnspecified() && a.Is4() && p.first4 != nil:
		x, ok = *p.first4, true
	}
	return x, ok
}

func (ls listenSet) add(proto string, ap netip.AddrPort, x listenAt) {
	k := listenKey{proto, ap.Port()}
	p := ls[k]
	if p == nil {
		p = &portListens{exact: map[netip.Addr]listenAt{}}
		ls[k] = p
	}
	a := ap.Addr()
	p.exact[a] = x
	set := func(slot **listenAt, is bool) {
		if is && *slot == nil {
			*slot = &x
		}
	}
	set(&p.first, true)
	set(&p.first4, a.Is4())
	set(&p.wild4, a.IsUnspecified() && a.Is4())
	set(&p.wild6, a.IsUnspecified() && !a.Is4())
}
