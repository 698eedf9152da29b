package nft_test

import (
	"errors"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/nft/nfttest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt from the traces")

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func natService() nft.Service {
	return nft.Service{Name: "web", Method: nft.MethodNAT, Protocol: "tcp", VIP: ap("198.18.0.100:80"),
		Scheduler: "wrr", Persistent: 300 * time.Second,
		Reals:    []nft.Real{{Addr: ap("198.18.0.21:8080"), Weight: 1}, {Addr: ap("198.18.0.22:8080"), Weight: 2}},
		Fallback: &nft.Real{Addr: ap("198.18.0.30:8080")}}
}

func drReal(addr, hw string) nft.Real {
	return nft.Real{Addr: ap(addr), Weight: 1, Link: "eth0", LinkIndex: 2,
		LinkMAC: mac("02:00:00:00:00:0b"), MAC: mac(hw)}
}

func drService() nft.Service {
	return nft.Service{Name: "sip", Method: nft.MethodDR, Protocol: "udp", VIP: ap("198.18.0.100:5060"),
		Scheduler: "rr", Ingress: "eth0",
		Reals: []nft.Real{drReal("198.18.0.21:5060", "02:00:00:00:00:15"), drReal("198.18.0.22:5060", "02:00:00:00:00:16")}}
}

// appliedNATAndDR returns a fake kernel holding both of hapair's tables,
// natService's and drService's, with its trace cleared.
func appliedNATAndDR(t *testing.T) (*nfttest.Fake, *nft.Tables) {
	t.Helper()
	f := &nfttest.Fake{}
	tb := nft.New(f)
	if err := tb.Apply([]nft.Service{natService(), drService()}); err != nil {
		t.Fatal(err)
	}
	f.Trace()
	return f, tb
}

// wantTrace fails t unless the batches sent to f since its last Trace
// are want ("" for none); what names the step that sent them.
func wantTrace(t *testing.T, f *nfttest.Fake, what, want string) {
	t.Helper()
	if got := f.Trace(); got != want {
		t.Errorf("%s sent:\n%s\nwant:\n%s", what, got, want)
	}
}

// wantNotOurs runs each of ops (by name) over f's foreign table: each must
// return ErrNotOurs and none may send anything.
func wantNotOurs(t *testing.T, f *nfttest.Fake, ops map[string]func() error) {
	t.Helper()
	for name, op := range ops {
		if err := op(); !errors.Is(err, nft.ErrNotOurs) {
			t.Errorf("%s over a foreign table = %v, want ErrNotOurs", name, err)
		}
	}
	wantTrace(t, f, "calls over a foreign table", "")
}

// golden compares got with testdata/name.txt (rewritten under -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update and review the diff)", err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(got) {
		t.Errorf("trace differs from %s (go test -update, then review the diff):\n%s", path, got)
	}
}

func TestApplyNAT(t *testing.T) {
	f := &nfttest.Fake{}
	if err := nft.New(f).Apply([]nft.Service{natService()}); err != nil {
		t.Fatal(err)
	}
	golden(t, "nat_wrr_persistent_fallback", f.Trace())
	if f.Has(nftables.TableFamilyNetdev) {
		t.Error("a nat-only config made a netdev table")
	}
}

func TestApplyDR(t *testing.T) {
	f := &nfttest.Fake{}
	s := drService()
	if err := nft.New(f).Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	golden(t, "dr_rr", f.Trace())
}

func TestApplySchedulers(t *testing.T) {
	for _, sc := range []string{"rr", "sh"} {
		t.Run(sc, func(t *testing.T) {
			f := &nfttest.Fake{}
			s := natService()
			s.Scheduler, s.Persistent, s.Fallback = sc, 0, nil
			if err := nft.New(f).Apply([]nft.Service{s}); err != nil {
				t.Fatal(err)
			}
			golden(t, "nat_"+sc, f.Trace())
		})
	}
}

// A health change rewrites rules and static maps in one batch and keeps
// the dynamic sets (persistence, flows) with their contents: no table or
// dynamic set is deleted, so no client loses its real and no dr flow is
// rescheduled.
func TestHealthChangeKeepsState(t *testing.T) {
	f := &nfttest.Fake{}
	tb := nft.New(f)
	nat, dr := natService(), drService()
	dr.Persistent = time.Minute
	if err := tb.Apply([]nft.Service{nat, dr}); err != nil {
		t.Fatal(err)
	}
	f.Trace()
	nat.Reals[0].Down = true // failed check
	nat.Reals[1].Weight = 0  // quiescent
	dr.Reals[1].Down = true  // drained
	if err := tb.Apply([]nft.Service{nat, dr}); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	golden(t, "health_change", tr)
	for _, l := range strings.Split(tr, "\n") {
		if strings.HasPrefix(l, "delete table") || (strings.HasPrefix(l, "delete set") && !strings.Contains(l, "slots_")) ||
			strings.HasPrefix(l, "flush set") && (strings.Contains(l, "persist_") || strings.Contains(l, "flows_")) {
			t.Errorf("health change removes state: %s", l)
		}
	}
	if n := strings.Count(tr, "commit"); n != 2 {
		t.Errorf("health change took %d batches, want 2 (one per family)", n)
	}
}

func TestRemovedRealDropsItsSets(t *testing.T) {
	f := &nfttest.Fake{}
	tb := nft.New(f)
	s := natService()
	if err := tb.Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	f.Trace()
	s.Reals = s.Reals[1:]
	if err := tb.Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	for _, want := range []string{"delete set ip hapair persist_web_", "delete chain ip hapair real_web_"} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace lacks %q:\n%s", want, tr)
		}
	}
	if strings.Contains(tr, "delete table") {
		t.Errorf("removing a real deleted the table:\n%s", tr)
	}
	// Only maps are flushed before they go: a packet still running the
	// old rules must find a plain set's elements (see addHookRules).
	if strings.Contains(tr, "flush set ip hapair persist_") {
		t.Errorf("the removed real's persistence set was flushed before its deletion:\n%s", tr)
	}
	s.Reals, s.Scheduler = nil, "rr"
	if err := tb.Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	if tr := f.Trace(); !strings.Contains(tr, "flush set ip hapair slots_web") {
		t.Errorf("the slot map was not flushed (its elements name chains):\n%s", tr)
	}
}

func TestStaleTableReplacedAtStart(t *testing.T) {
	f := &nfttest.Fake{}
	f.Seed(nftables.TableFamilyIPv4, true, []string{"prerouting", "svc_old"}, []string{"owner"})
	f.Seed(nftables.TableFamilyNetdev, true, []string{"ingress_eth0"}, []string{"owner"})
	if err := nft.New(f).Apply([]nft.Service{natService()}); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	if !strings.HasPrefix(tr, "delete table ip hapair\nadd table ip hapair\n") {
		t.Errorf("stale ip table not replaced in the first batch:\n%s", tr)
	}
	if !strings.Contains(tr, "delete table netdev hapair\ncommit") {
		t.Errorf("stale netdev table (no dr service now) not removed:\n%s", tr)
	}
	if f.Has(nftables.TableFamilyNetdev) {
		t.Error("netdev table left")
	}
}

func TestForeignTableUntouched(t *testing.T) {
	f := &nfttest.Fake{}
	f.Seed(nftables.TableFamilyIPv4, false, []string{"prerouting"}, nil)
	tb := nft.New(f)
	wantNotOurs(t, f, map[string]func() error{"Apply": func() error { return tb.Apply([]nft.Service{natService()}) }, "Remove": tb.Remove})
}

func TestRemove(t *testing.T) {
	f, tb := appliedNATAndDR(t)
	if err := tb.Remove(); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "Remove", "delete table ip hapair\ncommit\ndelete table netdev hapair\ncommit")
	if err := tb.Remove(); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
	wantTrace(t, f, "second Remove", "")
}

// ApplyKeepNAT without a nat service leaves the ip table with its two nat
// base chains and one ct rule (the kernel's NAT hooks and conntrack stay);
// the dr table goes as with Apply.
func TestApplyKeepNAT(t *testing.T) {
	f, tb := appliedNATAndDR(t)
	if err := tb.ApplyKeepNAT(nil); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	if st, err := f.Table(nftables.TableFamilyIPv4, nft.TableName); err != nil || st == nil || strings.Join(st.Chains, " ") != "prerouting output" {
		t.Errorf("after ApplyKeepNAT(nil): ip table %+v (%v), want only the chains prerouting and output", st, err)
	}
	// One rule, which keeps conntrack on in the namespace (keepConntrack):
	// without a ct user the kernel stops tracking and the kept NAT hooks
	// translate nothing.
	if strings.Count(tr, "add rule") != 1 || !strings.Contains(tr, "add rule ip hapair prerouting [ ct load state => reg 1 ]") ||
		strings.Contains(tr, "delete table ip hapair") || !strings.Contains(tr, "delete table netdev hapair") {
		t.Errorf("ApplyKeepNAT(nil) trace, want the ip table kept with only the conntrack rule and the netdev one deleted:\n%s", tr)
	}
	if !f.Has(nftables.TableFamilyIPv4) || f.Has(nftables.TableFamilyNetdev) {
		t.Errorf("after ApplyKeepNAT(nil): ip table %v, netdev table %v; want true, false", f.Has(nftables.TableFamilyIPv4), f.Has(nftables.TableFamilyNetdev))
	}
	if err := tb.Apply(nil); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "Apply(nil) after ApplyKeepNAT", "delete table ip hapair\ncommit")
}

func TestRunFailureReported(t *testing.T) {
	f := &nfttest.Fake{Fail: errors.New("EPERM")}
	err := nft.New(f).Apply([]nft.Service{natService()})
	if err == nil || !strings.Contains(err.Error(), "nft: updating table ip hapair: EPERM") {
		t.Fatalf("Apply = %v, want the batch's error with the table", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*nft.Service)
		want string // "" = valid
	}{
		{"ok", func(*nft.Service) {}, ""},
		{"lc rejected", func(s *nft.Service) { s.Scheduler = "lc" }, "nftables cannot read"},
		{"wlc rejected", func(s *nft.Service) { s.Scheduler = "wlc" }, "nftables cannot read"},
		{"unknown scheduler", func(s *nft.Service) { s.Scheduler = "dh" }, `scheduler "dh"`},
		{"method", func(s *nft.Service) { s.Method = "tun" }, `method "tun"`},
		{"ipv6", func(s *nft.Service) { s.VIP = ap("[2001:db8::1]:80") }, "IPv4"},
		{"protocol", func(s *nft.Service) { s.Protocol = "sctp" }, `protocol "sctp"`},
		{"name", func(s *nft.Service) { s.Name = "a b" }, "only letters"},
		{"loopback fallback", func(s *nft.Service) { s.Fallback = &nft.Real{Addr: ap("127.0.0.1:80")} }, "fallback 127.0.0.1:80: a loopback"},
		{"duplicate real", func(s *nft.Service) { s.Reals = append(s.Reals, s.Reals[0]) }, "listed twice"},
		{"weight", func(s *nft.Service) { s.Reals[0].Weight = 70000 }, "weight 70000"},
		{"persistent", func(s *nft.Service) { s.Persistent = time.Millisecond }, "persistent 1ms"},
		{"wrr slots", func(s *nft.Service) { s.Scheduler = "wrr"; s.Reals[0].Weight, s.Reals[1].Weight = 4999, 5000 }, "wrr weights need 9999 slots"},
		// sh builds its hash buckets from the same table; an oversized one
		// used to come back all zeros (every client to the first real).
		{"sh slots", func(s *nft.Service) { s.Scheduler = "sh"; s.Reals[0].Weight, s.Reals[1].Weight = 4999, 5000 }, "sh weights need 9999 slots"},
		{"rr ignores weights", func(s *nft.Service) { s.Scheduler = "rr"; s.Reals[0].Weight, s.Reals[1].Weight = 4999, 5000 }, ""},
		{"dr port", func(s *nft.Service) { *s = drService(); s.Reals[0].Addr = ap("198.18.0.21:5061") }, "must be the virtual port"},
		{"dr ingress", func(s *nft.Service) { *s = drService(); s.Ingress = "" }, "ingress interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := natService()
			tt.edit(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
	s := natService()
	s.Scheduler = "wlc"
	if err := s.Validate(); !errors.Is(err, nft.ErrUnsupportedScheduler) {
		t.Errorf("wlc: %v, want ErrUnsupportedScheduler", err)
	}
}

func TestUnresolvedDR(t *testing.T) {
	s := drService()
	s.Reals[0].MAC = nil
	err := nft.New(&nfttest.Fake{}).Apply([]nft.Service{s})
	if err == nil || !strings.Contains(err.Error(), "not resolved") {
		t.Fatalf("Apply = %v, want an unresolved-real error", err)
	}
}

func TestCheckLeavesNothing(t *testing.T) {
	f := &nfttest.Fake{}
	if err := nft.Check(f, true); err != nil {
		t.Fatal(err)
	}
	want := `add table ip hapair_probe
add chain ip hapair_probe probe { type nat hook prerouting priority -100 }
delete table ip hapair_probe
commit
add table netdev hapair_probe
add chain netdev hapair_probe probe { type filter hook ingress device lo priority 0 }
delete table netdev hapair_probe
commit`
	wantTrace(t, f, "Check", want)
	if f.Has(nftables.TableFamilyIPv4) || f.Has(nftables.TableFamilyNetdev) {
		t.Error("Check left a table")
	}
	f.Fail = errors.New("operation not supported")
	if err := nft.Check(f, false); err == nil || !strings.Contains(err.Error(), "nat chain") {
		t.Errorf("Check on a kernel without nat = %v, want the missing piece named", err)
	}
}

func TestWRRSlotCount(t *testing.T) {
	for _, tt := range []struct {
		weights []int
		want    int
	}{
		{nil, 0},
		{[]int{0, 0}, 0},
		{[]int{4, 6, 0}, 5},
		{[]int{3}, 1},
		{[]int{4999, 5000}, 9999},
	} {
		if got := nft.WRRSlotCount(tt.weights); got != tt.want {
			t.Errorf("WRRSlotCount(%v) = %d, want %d", tt.weights, got, tt.want)
		}
	}
}
