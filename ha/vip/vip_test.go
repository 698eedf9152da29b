package vip

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/resource/resourcetest"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

var _ resource.Resource = (*VIP)(nil)
var _ resource.Announcer = (*VIP)(nil)

// A long interval keeps the loop from sending during trace tests: only the
// synchronous first announcement of Start shows.
var quiet = Schedule{Count: 2, Interval: time.Hour}

func TestStartStopTrace(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		before  func(k *fakeKernel)
		ops     string // run in order, traced: start, stop, remove-stale
		removed bool   // RemoveStale's answer
		want    string
		wantErr string
	}{
		{
			name: "start adds with label and announces",
			cfg:  Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Label: "eth0:web"},
			ops:  "start",
			want: "addr add 198.18.0.100/24 dev eth0 label eth0:web proto 94 lft 4s\ngarp 198.18.0.100 request\ngarp 198.18.0.100 reply",
		},
		{
			name:   "interface found from subnet",
			cfg:    Config{Address: netip.MustParsePrefix("198.18.1.100/24"), Form: FormRequest},
			before: func(k *fakeKernel) { k.with("eth0", "198.18.0.1/24").with("eth1", "198.18.1.1/24") },
			ops:    "start",
			want:   "addr add 198.18.1.100/24 dev eth1 proto 94 lft 4s\ngarp 198.18.1.100 request",
		},
		{
			name:    "no interface for subnet",
			cfg:     Config{Address: netip.MustParsePrefix("198.18.9.100/24")},
			before:  func(k *fakeKernel) { k.with("eth0", "198.18.0.1/24") },
			ops:     "start",
			wantErr: "vip: no interface has a subnet containing 198.18.9.100; set interface",
		},
		{
			name:   "our address already present is refreshed and re-announced",
			cfg:    Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Label: "eth0:web", Form: FormReply},
			before: func(k *fakeKernel) { k.withOurs("eth0", "198.18.0.100/24") },
			ops:    "start",
			want:   "addr replace 198.18.0.100/24 dev eth0 label eth0:web proto 94 lft 4s\ngarp 198.18.0.100 reply",
		},
		{
			name:   "ours with another prefix length is replaced",
			cfg:    Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Form: FormRequest},
			before: func(k *fakeKernel) { k.withOurs("eth0", "198.18.0.100/32") },
			ops:    "start",
			want:   "addr del 198.18.0.100/32 dev eth0\naddr add 198.18.0.100/24 dev eth0 proto 94 lft 4s\ngarp 198.18.0.100 request",
		},
		{
			name:   "ours on another interface is moved",
			cfg:    Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Label: "eth0:web", Form: FormRequest},
			before: func(k *fakeKernel) { k.withOurs("eth1", "198.18.0.100/24") },
			ops:    "start",
			want:   "addr del 198.18.0.100/24 dev eth1\naddr add 198.18.0.100/24 dev eth0 label eth0:web proto 94 lft 4s\ngarp 198.18.0.100 request",
		},
		{
			// Issue 9 case 3: a VIP equal to the host's own address.
			name:    "the host's own address is neither taken nor removed",
			cfg:     Config{Address: netip.MustParsePrefix("198.18.0.1/24"), Interface: "eth0"},
			before:  func(k *fakeKernel) { k.with("eth0", "198.18.0.1/24") },
			ops:     "start",
			wantErr: `vip: 198.18.0.1/24 is already on "eth0" with protocol 0, not 94: address not added by hapair; it is the host's or another tool's, so hapair neither takes it over nor removes it`,
		},
		{
			name:    "an unmarked copy elsewhere blocks the start too",
			cfg:     Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0"},
			before:  func(k *fakeKernel) { k.with("eth1", "198.18.0.100/32") },
			ops:     "start",
			wantErr: `vip: 198.18.0.100/32 is already on "eth1" with protocol 0, not 94: address not added by hapair; it is the host's or another tool's, so hapair neither takes it over nor removes it`,
		},
		{
			name:   "remove stale leaves the host's address",
			cfg:    Config{Address: netip.MustParsePrefix("198.18.0.1/24"), Interface: "eth0"},
			before: func(k *fakeKernel) { k.with("eth0", "198.18.0.1/24") },
			ops:    "remove-stale",
			want:   "",
		},
		{
			name:   "stop leaves the host's address",
			cfg:    Config{Address: netip.MustParsePrefix("198.18.0.1/24"), Interface: "eth0"},
			before: func(k *fakeKernel) { k.with("eth0", "198.18.0.1/24") },
			ops:    "stop",
			want:   "",
		},
		{
			name: "ipv6 gets no label and a neighbour advertisement",
			cfg:  Config{Address: netip.MustParsePrefix("2001:2::100/64"), Interface: "eth0"},
			ops:  "start",
			want: "addr add 2001:2::100/64 dev eth0 proto 94 lft 4s\nna 2001:2::100",
		},
		{
			name: "stop removes",
			cfg:  Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Label: "eth0:web"},
			ops:  "start stop",
			want: "addr add 198.18.0.100/24 dev eth0 label eth0:web proto 94 lft 4s\ngarp 198.18.0.100 request\ngarp 198.18.0.100 reply\naddr del 198.18.0.100/24 dev eth0",
		},
		{
			name: "stop when absent does nothing",
			cfg:  Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0"},
			ops:  "stop",
			want: "",
		},
		{
			name:    "remove stale",
			cfg:     Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0"},
			before:  func(k *fakeKernel) { k.withOurs("eth0", "198.18.0.100/24") },
			ops:     "remove-stale",
			removed: true,
			want:    "addr del 198.18.0.100/24 dev eth0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &trace{}
			k := newFakeKernel(tr)
			if tt.before != nil {
				tt.before(k)
			}
			cfg := tt.cfg
			cfg.Kernel, cfg.Dial, cfg.Clock, cfg.Schedule = k, fakeDialer(tr, nil), clocktest.New(time.Time{}), quiet
			v, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			t.Cleanup(func() { v.Stop(ctx) })
			for _, op := range strings.Fields(tt.ops) {
				switch op {
				case "start":
					err = v.Start(ctx)
				case "stop":
					err = v.Stop(ctx)
				case "remove-stale":
					var removed bool
					if removed, err = v.RemoveStale(ctx); err == nil && removed != tt.removed {
						t.Errorf("RemoveStale() removed = %v, want %v", removed, tt.removed)
					}
				}
				if err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.String(); got != tt.want {
				t.Errorf("trace:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestRollbackTrace(t *testing.T) {
	tr := &trace{}
	k := newFakeKernel(tr)
	v, err := New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Label: "eth0:web",
		Kernel: k, Dial: fakeDialer(tr, nil), Clock: clocktest.New(time.Time{}), Schedule: quiet, Form: FormRequest})
	if err != nil {
		t.Fatal(err)
	}
	bad := &resourcetest.Fake{ResName: "script mailq", Trace: tr, StartErr: errors.New("exit status 1")}
	g := resource.NewGroup("web", []resource.Resource{v, bad}, resource.Timeouts{})
	err = g.Start(context.Background())
	wantErr := "group web: start script mailq: exit status 1: rolled back 1 resource"
	if err == nil || err.Error() != wantErr {
		t.Errorf("Group.Start() = %v, want %q", err, wantErr)
	}
	want := "addr add 198.18.0.100/24 dev eth0 label eth0:web proto 94 lft 4s\ngarp 198.18.0.100 request\nstart script mailq\nstop script mailq\naddr del 198.18.0.100/24 dev eth0"
	if got := tr.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
}

// TestKeepRefreshesAndRepairs: while held, the lifetime is refreshed every
// Lifetime/4, and an address removed behind hapair's back is added again
// (issue 9 cases 1 and 15).
func TestKeepRefreshesAndRepairs(t *testing.T) {
	tr := &trace{}
	clk := clocktest.New(time.Time{})
	k := newFakeKernel(tr)
	v, err := New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Lifetime: 8 * time.Second,
		Kernel: k, Dial: fakeDialer(&trace{}, nil), Clock: clk, Schedule: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := v.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer v.Stop(ctx)
	lines := func() int { return strings.Count(tr.String(), "\n") + 1 }
	// The announcer waits an hour (quiet); the keeper waits 2s.
	testkit.WaitFor(t, "keeper to wait", func() bool { return clk.Waiting() == 2 })
	clk.Advance(2 * time.Second)
	testkit.WaitFor(t, "refresh", func() bool { return lines() == 2 })
	k.drop("198.18.0.100/24")
	testkit.WaitFor(t, "keeper to wait again", func() bool { return clk.Waiting() == 2 })
	clk.Advance(2 * time.Second)
	testkit.WaitFor(t, "repair", func() bool { return lines() == 3 })
	want := "addr add 198.18.0.100/24 dev eth0 proto 94 lft 8s\n" +
		"addr replace 198.18.0.100/24 dev eth0 proto 94 lft 8s\n" +
		"addr add 198.18.0.100/24 dev eth0 proto 94 lft 8s"
	if got := tr.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
	if st := v.Stats(); st.Repairs != 1 {
		t.Errorf("Stats().Repairs = %d, want 1", st.Repairs)
	}
}

func TestStartFailures(t *testing.T) {
	tr := &trace{}
	k := newFakeKernel(tr)
	k.addErr = errors.New("operation not permitted")
	v, _ := New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Kernel: k, Dial: fakeDialer(tr, nil), Clock: clocktest.New(time.Time{})})
	err := v.Start(context.Background())
	if want := `vip: adding 198.18.0.100/24 to "eth0": operation not permitted`; err == nil || err.Error() != want {
		t.Errorf("Start() with add failing = %v, want %q", err, want)
	}

	k = newFakeKernel(tr)
	v, _ = New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth9", Kernel: k, Dial: fakeDialer(tr, nil), Clock: clocktest.New(time.Time{})})
	err = v.Start(context.Background())
	if want := `vip: finding interface "eth9" for 198.18.0.100/24: link not found`; err == nil || err.Error() != want {
		t.Errorf("Start() with missing link = %v, want %q", err, want)
	}

	v, _ = New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Kernel: k,
		Dial: fakeDialer(tr, errors.New(`vip: opening ARP socket on "eth0": operation not permitted`)), Clock: clocktest.New(time.Time{})})
	err = v.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "opening ARP socket") {
		t.Errorf("Start() with dial failing = %v, want the dial error", err)
	}
	if err := v.Status(context.Background()); err == nil {
		t.Errorf("Status() after failed start = nil, want error")
	}
}

func TestNewRejects(t *testing.T) {
	k := newFakeKernel(&trace{})
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Kernel: k}, "vip: address: required"},
		{Config{Address: netip.MustParsePrefix("127.0.0.2/8"), Kernel: k}, "vip: 127.0.0.2/8: address: 127.0.0.2/8 cannot be a virtual address: 127.0.0.2 is a loopback address, which never leaves its host"},
		{Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Label: "eth1:web", Kernel: k}, `vip: 198.18.0.100/24: label: "eth1:web" must be "eth0" or start with "eth0:", at most 15 bytes (e.g. "eth0:vip")`},
		{Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Label: "eth0:web", Kernel: k}, `vip: 198.18.0.100/24: label: "eth0:web" needs interface: the kernel wants a label to start with the device name`},
		{Config{Address: netip.MustParsePrefix("2001:db8::1/64"), Interface: "eth0", Label: "eth0:web", Kernel: k}, `vip: 2001:db8::1/64: label: "eth0:web": IPv6 addresses carry no label`},
		{Config{Address: netip.MustParsePrefix("198.18.0.100/24")}, "vip: 198.18.0.100/24: no kernel access configured"},
		{Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Kernel: k, Schedule: Schedule{Count: 5, Interval: time.Second, SecondDelay: 2 * time.Second}},
			"vip: 198.18.0.100/24: garp.second_burst: 2s must be after the first burst ends (4s)"},
		{Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Kernel: k, Lifetime: 1500 * time.Millisecond},
			"vip: 198.18.0.100/24: lifetime 1.5s: want whole seconds, at least 2s"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("New(%v) = %v, want %q", tt.cfg.Address, err, tt.want)
		}
	}
}

// TestAddressError: the addresses no VIP can be, and their neighbours
// that are fine (a reviewer's config passed 198.18.0.255/24, 198.18.0.0/24
// and 255.255.255.255/32).
func TestAddressError(t *testing.T) {
	for _, tc := range []struct {
		p    string
		want string // "" = a valid VIP
	}{
		{"198.18.0.255/24", "198.18.0.255/24 cannot be a virtual address: it is the broadcast address of 198.18.0.0/24; "},
		{"198.18.0.0/24", "198.18.0.0/24 cannot be a virtual address: it is the network address of 198.18.0.0/24; "},
		{"198.18.0.3/30", "broadcast address of 198.18.0.0/30"},
		{"198.18.0.4/30", "network address of 198.18.0.4/30"},
		{"255.255.255.255/32", "255.255.255.255/32 cannot be a virtual address: 255.255.255.255 is the limited broadcast address"},
		{"0.0.0.0/0", "0.0.0.0/0 cannot be a virtual address: 0.0.0.0 is the unspecified address"},
		{"::/64", "::/64 cannot be a virtual address: :: is the unspecified address"},
		{"0.1.2.3/24", "0.1.2.3 is in 0.0.0.0/8"},
		{"127.0.0.5/8", "127.0.0.5 is a loopback address"},
		{"224.0.0.1/32", "224.0.0.1/32 cannot be a virtual address: 224.0.0.1 is a multicast group address"},
		{"ff02::5/64", "ff02::5 is a multicast group address"},
		{"::ffff:198.18.0.1/128", "::ffff:198.18.0.1 is an IPv4-mapped IPv6 address; write the IPv4 address 198.18.0.1"},
		{"198.18.0.254/24", ""},
		{"198.18.0.1/24", ""},
		{"198.18.0.255/32", ""},
		{"198.18.0.0/32", ""},
		{"198.18.0.0/31", ""},
		{"198.18.0.1/31", ""},
		{"198.18.0.0/23", "network address"},
		{"198.18.0.255/23", ""},
		{"2001:db8::/64", "2001:db8::/64 cannot be a virtual address: it is the Subnet-Router anycast address of 2001:db8::/64 (RFC 4291 section 2.6.1)"},
		{"2001:db8::/127", ""},
		{"2001:db8::1/64", ""},
		{"fe80::5/64", ""}, // keepalived's IPv6 VRRP announces link-local VIPs
	} {
		err := AddressError(netip.MustParsePrefix(tc.p))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("AddressError(%s) = %v, want nil", tc.p, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("AddressError(%s) = %v, want it to contain %q", tc.p, err, tc.want)
		}
	}
}

// TestBroadcast: the subnet's all-ones host address for IPv4 (the
// kernel's `brd +`), none for IPv6.
func TestBroadcast(t *testing.T) {
	for p, want := range map[string]string{
		"198.18.0.100/24": "198.18.0.255",
		"198.18.1.7/23":   "198.18.1.255",
		"198.18.0.5/30":   "198.18.0.7",
		"198.18.0.0/31":   "198.18.0.1",
		"198.18.0.9/32":   "198.18.0.9",
		"198.18.0.9/0":    "255.255.255.255",
		"2001:db8::1/64":  "invalid IP",
	} {
		if got := Broadcast(netip.MustParsePrefix(p)).String(); got != want {
			t.Errorf("Broadcast(%s) = %s, want %s", p, got, want)
		}
	}
}

// TestAnnounceLoop drives the announcement goroutine with a fake clock:
// bursts at 0, 100ms, 200ms and 1s, 1.1s; nothing after; Announce restarts.
func TestAnnounceLoop(t *testing.T) {
	tr := &trace{}
	clk := clocktest.New(time.Time{})
	v, err := New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Form: FormRequest,
		Kernel: newFakeKernel(tr), Dial: fakeDialer(tr, nil), Clock: clk,
		Schedule: Schedule{Count: 3, Interval: 100 * time.Millisecond, SecondDelay: time.Second, SecondCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := v.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sends := func() int { return strings.Count(tr.String(), "garp ") }
	if got := sends(); got != 1 {
		t.Fatalf("sends after Start = %d, want 1", got)
	}
	steps := []struct {
		advance time.Duration
		want    int
	}{
		{100 * time.Millisecond, 2},
		{100 * time.Millisecond, 3},
		{500 * time.Millisecond, 3}, // nothing due at 700ms
		{300 * time.Millisecond, 4}, // second burst at 1s
		{100 * time.Millisecond, 5},
	}
	for _, st := range steps {
		testkit.WaitFor(t, "loop to wait", func() bool { return clk.Waiting() > 0 })
		clk.Advance(st.advance)
		testkit.WaitFor(t, "send count", func() bool { return sends() == st.want })
	}
	clk.Advance(time.Hour)
	if got := sends(); got != 5 {
		t.Errorf("sends after the schedule ended = %d, want 5", got)
	}
	v.Announce()
	testkit.WaitFor(t, "re-announce", func() bool { return sends() == 6 })
	if st := v.Stats(); st.Announcements != 6 || !st.Held || st.Interface != "eth0" {
		t.Errorf("Stats() = %+v, want 6 announcements, held on eth0", st)
	}
	if err := v.Status(ctx); err != nil {
		t.Errorf("Status() = %v, want nil", err)
	}
	if err := v.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.Status(ctx); err == nil || err.Error() != "vip: 198.18.0.100/24 is not started" {
		t.Errorf("Status() after Stop = %v, want not started", err)
	}
	v.Announce() // not held: no send, no panic
	if got := sends(); got != 6 {
		t.Errorf("sends after Stop+Announce = %d, want 6", got)
	}
}

// TestWatchedLink: a held VIP reports its interface going down or away
// (the owner then gives the group up: issue 9 case 1), ignores other
// links, and refuses to start on a down interface.
func TestWatchedLink(t *testing.T) {
	tr := &trace{}
	k := newFakeKernel(tr)
	v, err := New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0",
		Kernel: k, Dial: fakeDialer(tr, nil), Clock: clocktest.New(time.Time{}), Schedule: quiet})
	if err != nil {
		t.Fatal(err)
	}
	eth0, eth1 := k.links[1], k.links[2]
	down := eth0
	down.Up = false
	if got := v.LinkChanged(down); got != "" {
		t.Errorf("LinkChanged(eth0 down) before Start = %q, want \"\"", got)
	}
	ctx := context.Background()
	if err := v.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer v.Stop(ctx)
	eth1.Up = false
	gone := eth0
	gone.Gone = true
	for _, tt := range []struct {
		l    Link
		want string
	}{
		{eth0, ""},
		{eth1, ""},
		{down, "interface eth0 down"},
		{gone, "interface eth0 removed"},
	} {
		if got := v.LinkChanged(tt.l); got != tt.want {
			t.Errorf("LinkChanged(%+v) = %q, want %q", tt.l, got, tt.want)
		}
	}
	if !v.AddrRemoved(Addr{Prefix: netip.MustParsePrefix("198.18.0.100/24"), LinkIndex: eth0.Index}) {
		t.Error("AddrRemoved(the VIP) = false, want true")
	}
	if v.AddrRemoved(Addr{Prefix: netip.MustParsePrefix("198.18.0.1/24"), LinkIndex: eth0.Index}) {
		t.Error("AddrRemoved(another address) = true, want false")
	}

	k.links[1].Up = false
	w, _ := New(Config{Address: netip.MustParsePrefix("198.18.0.101/24"), Interface: "eth0",
		Kernel: k, Dial: fakeDialer(tr, nil), Clock: clocktest.New(time.Time{}), Schedule: quiet})
	if err := w.Start(ctx); err == nil || !strings.Contains(err.Error(), "interface eth0 down") {
		t.Errorf("Start on a down interface = %v, want an error naming it", err)
	}
}
