package node

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/nft/nfttest"
	"github.com/hapair/hapair/proxy/persist"
	"github.com/ti-mo/conntrack"
)

func stickyKernel(t *testing.T) (*kernelServices, *nfttest.Fake) {
	t.Helper()
	c := config.Service{Name: "web", Method: "nat", Protocol: "tcp", Listen: netip.MustParseAddrPort("198.18.0.100:80"),
		Scheduler: "rr", Persistent: time.Minute,
		Reals: []config.Real{{Address: netip.MustParseAddrPort("198.18.0.21:80"), Weight: 1}, {Address: netip.MustParseAddrPort("198.18.0.22:80"), Weight: 1}}}
	f := &nfttest.Fake{Elems: map[string][]nftables.SetElement{}}
	k := &kernelServices{log: slog.New(slog.DiscardHandler), tables: nft.New(f), order: []string{"web"},
		svcs: map[string]*kernelService{"web": {cfg: c, spec: checkSpec(c), healthy: map[netip.AddrPort]bool{},
			reason: map[netip.AddrPort]string{}, drain: map[netip.AddrPort]bool{}}}}
	k.stickyInit()
	now := time.Now()
	k.sticky.now = func() time.Time { return now } // PersistenceChanges reads the kernel once unless lastPoll is reset
	return k, f
}

// persistSets returns the names of the persistence sets a trace adds.
func persistSets(trace string) []string {
	var out []string
	for _, l := range strings.Split(trace, "\n") {
		if strings.HasPrefix(l, "add set ip hapair persist_") {
			out = append(out, strings.Fields(l)[4])
		}
	}
	return out
}

// The peer's entries, held while standby, seed the sets at the takeover
// and only then; an unknown service's entries are refused.
func TestKernelStickySeedsAtTakeover(t *testing.T) {
	k, f := stickyKernel(t)
	client := netip.MustParseAddr("198.18.0.50")
	real2 := k.svcs["web"].cfg.Reals[1].Address
	if !k.importPersistence("web", []persist.Entry{{Client: client, Real: real2, Expires: time.Now().Add(30 * time.Second)}}) {
		t.Fatal("importPersistence refused the persistent kernel service web")
	}
	if k.importPersistence("other", nil) {
		t.Error("importPersistence took entries for a service it does not have")
	}
	if got := k.persistenceEntries(); got != 1 {
		t.Errorf("persistenceEntries = %d while standby, want 1 (the peer's)", got)
	}
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	sets := persistSets(tr)
	if len(sets) != 2 || !strings.Contains(tr, "add element ip hapair "+sets[1]+" { 0xc6120032 timeout ") {
		t.Errorf("takeover did not seed %s's set with the client 198.18.0.50 (0xc6120032):\n%s", real2, tr)
	}
	if err := k.setDraining("web", real2, true); err != nil {
		t.Fatal(err)
	}
	if tr := f.Trace(); strings.Contains(tr, "add element ip hapair persist_") {
		t.Errorf("a later batch seeded the sets again (the kernel's entries are newer):\n%s", tr)
	}
}

// The owner sends what the kernel took or refreshed by at least a
// timeout/8, read at most every kernelPollEvery.
func TestKernelStickyChanges(t *testing.T) {
	k, f := stickyKernel(t)
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	set := persistSets(f.Trace())[0]
	key := []byte{198, 18, 0, 50}
	poll := func(left time.Duration) map[string][]persist.Entry {
		f.Elems[set] = []nftables.SetElement{{Key: key, Expires: left}}
		k.mu.Lock()
		k.sticky.lastPoll = time.Time{} // kernelPollEvery has passed
		k.mu.Unlock()
		return k.PersistenceChanges(100)
	}
	got := poll(50 * time.Second)
	if es := got["web"]; len(es) != 1 || es[0].Client != netip.MustParseAddr("198.18.0.50") || es[0].Real != k.svcs["web"].cfg.Reals[0].Address {
		t.Fatalf("changes = %v, want 198.18.0.50 on the first real", got)
	}
	f.Elems[set] = []nftables.SetElement{{Key: key, Expires: 59 * time.Second}}
	if got := k.PersistenceChanges(100); len(got) != 0 {
		t.Errorf("changes read again within kernelPollEvery: %v", got)
	}
	if got := poll(51 * time.Second); len(got) != 0 {
		t.Errorf("a refresh by less than timeout/8 was sent: %v", got)
	}
	if got := poll(59 * time.Second); len(got["web"]) != 1 {
		t.Errorf("a refresh by 9s (timeout/8 = 7.5s) was not sent: %v", got)
	}
	if got := k.persistenceEntries(); got != 1 {
		t.Errorf("persistenceEntries = %d while active, want the kernel's 1", got)
	}
}

func TestFlowAddr(t *testing.T) {
	c := netip.MustParseAddrPort("198.18.0.50:40000")
	a := flowAddr(c)
	if got, ok := flowClient(a); !ok || got != c {
		t.Errorf("flowClient(flowAddr(%v)) = %v, %v (via %v)", c, got, ok, a)
	}
	if _, ok := flowClient(netip.MustParseAddr("198.18.0.50")); ok {
		t.Error("flowClient took a plain IPv4 address")
	}
	if _, ok := flowClient(netip.MustParseAddr("2001:db8::1")); ok {
		t.Error("flowClient took an address outside 64:ff9b:1::/48")
	}
}

// A full resync reads the kernel once, at part 0, and its parts together
// hold every entry once.
func TestKernelStickyExport(t *testing.T) {
	k, f := stickyKernel(t)
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	set := persistSets(f.Trace())[0]
	for i := range 40 {
		f.Elems[set] = append(f.Elems[set], nftables.SetElement{Key: []byte{198, 18, 1, byte(i)}, Expires: time.Minute})
	}
	n := 0
	for i := range persist.Shards {
		n += len(k.ExportPersistenceShard(i)["web"])
		if i == 0 {
			f.Elems[set] = nil // read at part 0 only
		}
	}
	if n != 40 {
		t.Errorf("the parts of a resync hold %d entries, want 40", n)
	}
}

// A release keeps the ip table's nat base chains, with only the rule
// that keeps conntrack on (nft.ApplyKeepNAT), so the kernel keeps translating the connections this node carried until the
// peers follow the new owner's ARP; the table goes when the linger ends,
// and a takeover during it cancels the removal.
func TestKernelReleaseKeepsNATHooks(t *testing.T) {
	k, f := stickyKernel(t)
	k.lingerFor = time.Hour // ended by hand below, or by the short timer at the end
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	f.Trace()
	if err := k.setActive([]string{"web"}, false); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	if !f.Has(nftables.TableFamilyIPv4) || strings.Contains(tr, "delete table") || strings.Count(tr, "add rule") != 1 || !strings.Contains(tr, "ct load state") {
		t.Fatalf("release: want the ip table kept with only the conntrack rule, got (table present %v):\n%s", f.Has(nftables.TableFamilyIPv4), tr)
	}
	k.mu.Lock()
	gen := k.lingerGen
	k.mu.Unlock()
	// A takeover during the linger cancels it: a late timer changes nothing.
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	f.Trace()
	k.endLinger(gen)
	if tr := f.Trace(); tr != "" || !f.Has(nftables.TableFamilyIPv4) {
		t.Fatalf("a cancelled linger's timer changed the tables:\n%s", tr)
	}
	if err := k.setActive([]string{"web"}, false); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	gen = k.lingerGen
	k.mu.Unlock()
	k.endLinger(gen)
	if tr := f.Trace(); f.Has(nftables.TableFamilyIPv4) || !strings.Contains(tr, "delete table ip hapair") {
		t.Fatalf("end of the linger: want the ip table deleted, got:\n%s", tr)
	}
	// The timer itself ends it.
	k.lingerFor = 10 * time.Millisecond
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	if err := k.setActive([]string{"web"}, false); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); f.Has(nftables.TableFamilyIPv4); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the ip table is still there 5s after a 10ms linger")
		}
	}
}

// A node that exits during the linger (SIGTERM right after releasing)
// keeps the NAT hooks for the rest of it before removing its tables.
func TestKernelCloseWaitsOutTheLinger(t *testing.T) {
	k, f := stickyKernel(t)
	k.lingerFor = 300 * time.Millisecond
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	if err := k.setActive([]string{"web"}, false); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	if err := k.close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(released); took < 250*time.Millisecond {
		t.Errorf("close returned %v after the release, want it to wait out the 300ms linger", took)
	}
	if f.Has(nftables.TableFamilyIPv4) {
		t.Errorf("the ip table is still there after close")
	}
}

// liberalCT is a conntrack table for releaseLiberal: it holds one entry
// of web and records the ones marked.
type liberalCT struct {
	flows  []conntrack.Flow
	marked *[]conntrack.Flow
	fail   error
}

func (c liberalCT) Dump(*conntrack.DumpOptions) ([]conntrack.Flow, error) { return c.flows, nil }
func (c liberalCT) SetLiberal(fs []conntrack.Flow) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	*c.marked = append(*c.marked, fs...)
	return len(fs), nil
}
func (liberalCT) Close() error { return nil }

// webEntry is an established conntrack entry of the stickyKernel's
// service web (198.18.0.100:80) sent to real.
func webEntry(real string) conntrack.Flow {
	return conntrack.Flow{
		TupleOrig: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: netip.MustParseAddr("198.18.0.50"), DestinationAddress: netip.MustParseAddr("198.18.0.100")},
			Proto: conntrack.ProtoTuple{Protocol: 6, SourcePort: 40000, DestinationPort: 80}},
		TupleReply: conntrack.Tuple{IP: conntrack.IPTuple{SourceAddress: netip.MustParseAddr(real), DestinationAddress: netip.MustParseAddr("198.18.0.50")},
			Proto: conntrack.ProtoTuple{Protocol: 6, SourcePort: 80, DestinationPort: 40000}},
		ProtoInfo: conntrack.ProtoInfo{TCP: &conntrack.ProtoInfoTCP{State: 3}},
	}
}

// A release marks the released nat service's connections liberal, after
// its rules have gone; a takeover marks nothing; a failure to mark is
// logged and the release goes on.
func TestKernelReleaseMarksConnectionsLiberal(t *testing.T) {
	k, f := stickyKernel(t)
	k.lingerFor = time.Hour
	var marked []conntrack.Flow
	entry := webEntry("198.18.0.22")
	ct := liberalCT{flows: []conntrack.Flow{entry}, marked: &marked}
	var batchAtMark string
	k.openCT = func() (conntrackCloser, error) {
		batchAtMark = f.Trace()
		return ct, nil
	}
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	if len(marked) != 0 {
		t.Fatalf("a takeover marked %d entries liberal, want none", len(marked))
	}
	f.Trace()
	if err := k.setActive([]string{"web"}, false); err != nil {
		t.Fatal(err)
	}
	if len(marked) != 1 || marked[0].TupleOrig != entry.TupleOrig {
		t.Fatalf("the release marked %v, want web's one entry", marked)
	}
	if !strings.Contains(batchAtMark, "delete chain ip hapair svc_web") {
		t.Errorf("the entries were marked before the release's batch removed web's rules; batch sent by then:\n%s", batchAtMark)
	}
	// A failure does not fail the release.
	if err := k.setActive([]string{"web"}, true); err != nil {
		t.Fatal(err)
	}
	k.openCT = func() (conntrackCloser, error) {
		return liberalCT{flows: ct.flows, fail: errors.New("ctnetlink said no")}, nil
	}
	if err := k.setActive([]string{"web"}, false); err != nil {
		t.Fatalf("a release whose marking failed: %v, want it to go on", err)
	}
}

// A group whose balancer has kernel services ends with a natHandover,
// which marks their connections liberal when the group stops, before the
// VIPs (stopped after it) leave; a group without any has none.
func TestNATHandoverIsStoppedFirst(t *testing.T) {
	k, _ := stickyKernel(t)
	var marked []conntrack.Flow
	entry := webEntry("198.18.0.21")
	k.openCT = func() (conntrackCloser, error) {
		return liberalCT{flows: []conntrack.Flow{entry}, marked: &marked}, nil
	}
	br := &balancerResource{k: k, kernel: map[string]bool{"web": true}, services: []string{"web"}}
	vip := &balancerResource{services: nil} // stands for the VIP after it
	rs := aroundGroup([]resource.Resource{br, vip}, nil)
	h, ok := rs[len(rs)-1].(*natHandover)
	if !ok || len(rs) != 3 || !slices.Equal(h.services, []string{"web"}) {
		t.Fatalf("group resources %v, want the natHandover for web last", rs)
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(marked) != 1 {
		t.Errorf("natHandover's stop marked %d entries, want web's one", len(marked))
	}
	if rs := aroundGroup([]resource.Resource{&balancerResource{services: []string{"api"}}}, nil); len(rs) != 2 {
		t.Errorf("a group with a proxied service only: %d resources, want its own and the proxied activation", len(rs))
	}
}

// TestKernelHealthChangeTold: a real's health change reaches the kernel
// sets and then calls changed (the node reads the readiness on it), after
// k.mu is free again: the readiness reader takes it.
func TestKernelHealthChangeTold(t *testing.T) {
	k, _ := stickyKernel(t)
	told := 0
	k.changed = func() {
		if !k.mu.TryLock() {
			t.Error("changed called with k.mu held")
			return
		}
		k.mu.Unlock()
		told++
	}
	k.onHealth("web 198.18.0.21:80", true, "")
	if told != 1 {
		t.Fatalf("changed called %d times after a health change, want 1", told)
	}
	if !k.svcs["web"].healthy[netip.MustParseAddrPort("198.18.0.21:80")] {
		t.Error("the health change was not stored")
	}
}
