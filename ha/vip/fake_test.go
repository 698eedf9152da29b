package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/hapair/hapair/ha/resource/resourcetest"
)

// trace records OS effects as text lines (STYLE rule 6); it is the
// resourcetest trace so fake resources can write into the same one.
type trace = resourcetest.Trace

// fakeKernel keeps links and addresses in memory and traces changes the
// way `ip` would print them.
type fakeKernel struct {
	tr     *trace
	mu     sync.Mutex
	links  []Link
	addrs  []Addr
	addErr error
}

var _ Kernel = (*fakeKernel)(nil)

func newFakeKernel(tr *trace) *fakeKernel {
	return &fakeKernel{tr: tr, links: []Link{
		{Name: "lo", Index: 1, Up: true},
		{Name: "eth0", Index: 2, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}, Up: true},
		{Name: "eth1", Index: 3, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 3}, Up: true},
	}}
}

// with adds addresses without tracing: the state before the test. They
// carry no protocol, like the host's own addresses.
func (k *fakeKernel) with(dev, prefix string) *fakeKernel {
	return k.withProto(dev, prefix, 0)
}

// withOurs adds an address that hapair added (a stale VIP from a crash).
func (k *fakeKernel) withOurs(dev, prefix string) *fakeKernel {
	return k.withProto(dev, prefix, Proto)
}

func (k *fakeKernel) withProto(dev, prefix string, proto uint8) *fakeKernel {
	l, err := k.LinkByName(dev)
	if err != nil {
		panic(err)
	}
	k.addrs = append(k.addrs, Addr{Prefix: netip.MustParsePrefix(prefix), LinkIndex: l.Index, Proto: proto})
	return k
}

// drop removes an address without tracing: someone else's doing.
func (k *fakeKernel) drop(prefix string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, a := range k.addrs {
		if a.Prefix == netip.MustParsePrefix(prefix) {
			k.addrs = append(k.addrs[:i], k.addrs[i+1:]...)
			return
		}
	}
}

func (k *fakeKernel) LinkByName(name string) (Link, error) {
	for _, l := range k.links {
		if l.Name == name {
			return l, nil
		}
	}
	return Link{}, errors.New("link not found")
}

func (k *fakeKernel) LinkByIndex(index int) (Link, error) {
	for _, l := range k.links {
		if l.Index == index {
			return l, nil
		}
	}
	return Link{}, errors.New("link not found")
}

func (k *fakeKernel) Addrs() ([]Addr, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Addr(nil), k.addrs...), nil
}

func (k *fakeKernel) AddrAdd(l Link, a Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	verb := "add"
	at := -1
	for i, b := range k.addrs {
		if b.Prefix == a.Prefix && b.LinkIndex == l.Index {
			verb, at = "replace", i
		}
	}
	line := fmt.Sprintf("addr %s %s dev %s", verb, a.Prefix, l.Name)
	if a.Label != "" {
		line += " label " + a.Label
	}
	if a.Proto != 0 {
		line += fmt.Sprintf(" proto %d", a.Proto)
	}
	if a.Lifetime != 0 {
		line += fmt.Sprintf(" lft %v", a.Lifetime)
	}
	k.tr.Add(line)
	if k.addErr != nil {
		return k.addErr
	}
	a.LinkIndex = l.Index
	if at >= 0 {
		k.addrs[at] = a
		return nil
	}
	k.addrs = append(k.addrs, a)
	return nil
}

func (k *fakeKernel) AddrDel(l Link, a Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tr.Add(fmt.Sprintf("addr del %s dev %s", a.Prefix, l.Name))
	for i, b := range k.addrs {
		if b.Prefix == a.Prefix && b.LinkIndex == l.Index {
			k.addrs = append(k.addrs[:i], k.addrs[i+1:]...)
			return nil
		}
	}
	return errors.New("cannot assign requested address")
}

// fakeSender traces announcements.
type fakeSender struct{ tr *trace }

func (s fakeSender) Send(ip netip.Addr, form Form) error {
	if ip.Is6() {
		s.tr.Add("na " + ip.String())
		return nil
	}
	if form != FormReply {
		s.tr.Add("garp " + ip.String() + " request")
	}
	if form != FormRequest {
		s.tr.Add("garp " + ip.String() + " reply")
	}
	return nil
}

func (s fakeSender) Close() error { return nil }

func fakeDialer(tr *trace, err error) Dialer {
	return func(l Link, ip netip.Addr) (Sender, error) {
		if err != nil {
			return nil, err
		}
		return fakeSender{tr}, nil
	}
}
