package ipvssync_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/ipvssync/ipvssynctest"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/resource/resourcetest"
)

var (
	_ resource.Resource     = (*ipvssync.Resource)(nil)
	_ resource.StaleRemover = (*ipvssync.Resource)(nil)
)

func master(ifn string, id uint32) ipvssync.Daemon {
	return ipvssync.Daemon{State: ipvssync.StateMaster, Interface: ifn, SyncID: id}
}

func backup(ifn string, id uint32) ipvssync.Daemon {
	return ipvssync.Daemon{State: ipvssync.StateBackup, Interface: ifn, SyncID: id}
}

type fixture struct {
	tr  *resourcetest.Trace
	k   *ipvssynctest.Kernel
	r   *ipvssync.Resource
	log *bytes.Buffer
}

func newFixture(t *testing.T, role string, running ...ipvssync.Daemon) *fixture {
	t.Helper()
	f := &fixture{tr: &resourcetest.Trace{}, log: &bytes.Buffer{}}
	f.k = ipvssynctest.New(f.tr, running...)
	r, err := ipvssync.New(ipvssync.Config{Role: role, Interface: "eth0", SyncID: 1, Kernel: f.k,
		Logger: slog.New(slog.NewTextHandler(f.log, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.r = r
	return f
}

// do runs the resource's operation op: start, stop, status or
// remove-stale.
func (f *fixture) do(ctx context.Context, op string) error {
	switch op {
	case "start":
		return f.r.Start(ctx)
	case "stop":
		return f.r.Stop(ctx)
	case "status":
		return f.r.Status(ctx)
	case "remove-stale":
		_, err := f.r.RemoveStale(ctx)
		return err
	}
	return errors.New("ipvssync test: unknown op " + op)
}

// The trace lines of the fixture's daemons (eth0, syncid 1).
const (
	startMaster = "daemon start master mcast_ifn=eth0 syncid=1"
	startBackup = "daemon start backup mcast_ifn=eth0 syncid=1"
	stopMaster  = "daemon stop master"
	stopBackup  = "daemon stop backup"
)

// The trace tests follow LVSSyncDaemonSwap: the owner stops its backup
// daemon before starting the master; a node releasing the group stops the
// master before starting the backup.
func TestTrace(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		desc    string
		role    string
		running []ipvssync.Daemon
		op      string         // start | stop | remove-stale
		want    []string       // trace lines
		after   ipvssync.State // of the one daemon afterwards, on eth0 syncid 1
	}{
		{desc: "start with nothing running", role: "master", op: "start",
			want: []string{startMaster}, after: ipvssync.StateMaster},
		{desc: "start on a standby stops its backup first", role: "master", op: "start", running: []ipvssync.Daemon{backup("eth0", 1)},
			want: []string{stopBackup, startMaster}, after: ipvssync.StateMaster},
		{desc: "start with the master already running", role: "master", op: "start", running: []ipvssync.Daemon{master("eth0", 1)},
			want: nil, after: ipvssync.StateMaster},
		{desc: "start restarts a master with other settings", role: "master", op: "start", running: []ipvssync.Daemon{master("eth1", 2), backup("eth0", 1)},
			want: []string{stopBackup, stopMaster, startMaster}, after: ipvssync.StateMaster},
		{desc: "stop swaps to backup", role: "master", op: "stop", running: []ipvssync.Daemon{master("eth0", 1)},
			want: []string{stopMaster, startBackup}, after: ipvssync.StateBackup},
		{desc: "stop on a node that never started", role: "master", op: "stop",
			want: []string{startBackup}, after: ipvssync.StateBackup},
		{desc: "stop with the backup already running", role: "master", op: "stop", running: []ipvssync.Daemon{backup("eth0", 1)},
			want: nil, after: ipvssync.StateBackup},
		{desc: "role backup: the owner receives", role: "backup", op: "start", running: []ipvssync.Daemon{master("eth0", 1)},
			want: []string{stopMaster, startBackup}, after: ipvssync.StateBackup},
		{desc: "role backup: releasing sends", role: "backup", op: "stop", running: []ipvssync.Daemon{backup("eth0", 1)},
			want: []string{stopBackup, startMaster}, after: ipvssync.StateMaster},
		{desc: "remove stale master on a standby", role: "master", op: "remove-stale", running: []ipvssync.Daemon{master("eth0", 1)},
			want: []string{stopMaster, startBackup}, after: ipvssync.StateBackup},
		{desc: "remove stale starts a missing backup", role: "master", op: "remove-stale",
			want: []string{startBackup}, after: ipvssync.StateBackup},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFixture(t, tt.role, tt.running...)
			if err := f.do(ctx, tt.op); err != nil {
				t.Fatalf("%s: %v", tt.op, err)
			}
			if got, want := f.tr.String(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("%s trace:\n%s\nwant:\n%s", tt.op, got, want)
			}
			ds, _ := f.k.Daemons()
			if want := []ipvssync.Daemon{{State: tt.after, Interface: "eth0", SyncID: 1}}; !slices.Equal(ds, want) {
				t.Errorf("Daemons() after %s = %v, want %v", tt.op, ds, want)
			}
		})
	}
}

// TestTakeoverAndBack runs a group's ipvs-sync through start, stop, start
// on one node and checks Status at each step.
func TestTakeoverAndBack(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "master", backup("eth0", 1))
	steps := []struct {
		op         string
		wantStatus string // "" = running
	}{
		{"status", "ipvs-sync: master sync daemon not running"},
		{"start", ""},
		{"stop", "ipvs-sync: master sync daemon not running"},
		{"start", ""},
	}
	for _, s := range steps {
		if s.op != "status" {
			if err := f.do(ctx, s.op); err != nil {
				t.Fatalf("%s: %v", s.op, err)
			}
		}
		err := f.r.Status(ctx)
		if got := errString(err); got != s.wantStatus {
			t.Errorf("after %s: Status() = %q, want %q", s.op, got, s.wantStatus)
		}
	}
	want := strings.Join([]string{stopBackup, startMaster, stopMaster, startBackup, stopBackup, startMaster}, "\n")
	if got := f.tr.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestStatusWrongSettings(t *testing.T) {
	f := newFixture(t, "master", master("eth1", 7))
	err := f.r.Status(context.Background())
	want := `ipvs-sync: master sync daemon runs on "eth1" syncid 7, want "eth0" syncid 1`
	if got := errString(err); got != want {
		t.Errorf("Status() = %q, want %q", got, want)
	}
}

// A daemon started by someone else between the listing and the start
// answers EEXIST: that is success, as for ipvsadm users.
func TestStartExists(t *testing.T) {
	f := newFixture(t, "master")
	f.k.StartErr = map[ipvssync.State]error{ipvssync.StateMaster: syscall.EEXIST}
	if err := f.r.Start(context.Background()); err != nil {
		t.Errorf("Start() with EEXIST = %v, want nil", err)
	}
	if got, want := f.tr.String(), startMaster; got != want {
		t.Errorf("trace = %q, want %q", got, want)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		desc    string
		running []ipvssync.Daemon
		// The fake kernel's answers (ipvssynctest.Kernel's fields).
		startErr, stopErr map[ipvssync.State]error
		listErr           error
		noIPVS            bool
		cancelled         bool // the operation's context has ended
		op                string
		want              string // error text; "" = success
		wantIs            error
		trace             string
	}{
		{desc: "start fails", op: "start",
			startErr: map[ipvssync.State]error{ipvssync.StateMaster: syscall.ENODEV},
			want:     `ipvs-sync: starting master sync daemon on "eth0" syncid 1: no such device`,
			wantIs:   syscall.ENODEV,
			trace:    startMaster},
		{desc: "start cannot stop the backup", op: "start", running: []ipvssync.Daemon{backup("eth0", 1)},
			stopErr: map[ipvssync.State]error{ipvssync.StateBackup: syscall.EPERM},
			want:    "ipvs-sync: stopping backup sync daemon: operation not permitted",
			wantIs:  syscall.EPERM,
			trace:   stopBackup},
		{desc: "stop cannot stop the master", op: "stop", running: []ipvssync.Daemon{master("eth0", 1)},
			stopErr: map[ipvssync.State]error{ipvssync.StateMaster: syscall.EPERM},
			want:    "ipvs-sync: stopping master sync daemon: operation not permitted",
			wantIs:  syscall.EPERM,
			trace:   stopMaster},
		{desc: "stop: master already gone", op: "stop", running: []ipvssync.Daemon{master("eth0", 1)},
			stopErr: map[ipvssync.State]error{ipvssync.StateMaster: syscall.ESRCH},
			trace:   stopMaster + "\n" + startBackup},
		{desc: "listing fails", op: "start", listErr: syscall.EPERM,
			want:   "ipvs-sync: listing sync daemons: operation not permitted",
			wantIs: syscall.EPERM},
		{desc: "no IPVS: start", op: "start", noIPVS: true,
			want:   `ipvs-sync: the kernel has no IPVS (generic netlink family "IPVS" not found; modprobe ip_vs)`,
			wantIs: ipvssync.ErrNoIPVS},
		{desc: "no IPVS: status", op: "status", noIPVS: true,
			want:   `ipvs-sync: the kernel has no IPVS (generic netlink family "IPVS" not found; modprobe ip_vs)`,
			wantIs: ipvssync.ErrNoIPVS},
		// A group whose start failed is stopped in full: with no IPVS
		// there is nothing to stop, and the rollback must not fail too.
		{desc: "no IPVS: stop", op: "stop", noIPVS: true},
		{desc: "no IPVS: remove stale", op: "remove-stale", noIPVS: true},
		{desc: "cancelled", op: "start", cancelled: true,
			want: "context canceled", wantIs: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFixture(t, "master", tt.running...)
			f.k.StartErr, f.k.StopErr, f.k.ListErr, f.k.NoIPVS = tt.startErr, tt.stopErr, tt.listErr, tt.noIPVS
			ctx := ctx
			if tt.cancelled {
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			err := f.do(ctx, tt.op)
			if got := errString(err); got != tt.want {
				t.Errorf("%s() = %q, want %q", tt.op, got, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
			if got := f.tr.String(); got != tt.trace {
				t.Errorf("trace:\n%s\nwant:\n%s", got, tt.trace)
			}
		})
	}
}

// A backup daemon that will not start does not fail Stop (the group is
// released either way), but it is logged with the reason.
func TestStopBackupFailsIsLogged(t *testing.T) {
	f := newFixture(t, "master", master("eth0", 1))
	f.k.StartErr = map[ipvssync.State]error{ipvssync.StateBackup: syscall.ENODEV}
	if err := f.r.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
	want := stopMaster + "\n" + startBackup
	if got := f.tr.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
	for _, s := range []string{"level=WARN", "sync daemon not started after release", "iface=eth0", "no such device"} {
		if !strings.Contains(f.log.String(), s) {
			t.Errorf("log %q does not contain %q", f.log.String(), s)
		}
	}
	// RemoveStale retries it and reports the failure.
	_, err := f.r.RemoveStale(context.Background())
	wantErr := `ipvs-sync: starting backup sync daemon on "eth0" syncid 1: no such device`
	if got := errString(err); got != wantErr {
		t.Errorf("RemoveStale() = %q, want %q", got, wantErr)
	}
}

func TestRemoveStaleReports(t *testing.T) {
	tests := []struct {
		running []ipvssync.Daemon
		want    bool
	}{
		{nil, false},
		{[]ipvssync.Daemon{backup("eth0", 1)}, false},
		{[]ipvssync.Daemon{master("eth0", 1)}, true},
		{[]ipvssync.Daemon{master("eth0", 1), backup("eth0", 1)}, true},
	}
	for _, tt := range tests {
		f := newFixture(t, "master", tt.running...)
		got, err := f.r.RemoveStale(context.Background())
		if err != nil || got != tt.want {
			t.Errorf("RemoveStale() with %v running = %v, %v, want %v, nil", tt.running, got, err, tt.want)
		}
	}
}

// In a group, a failed later resource rolls ipvs-sync back to backup.
func TestGroupRollback(t *testing.T) {
	tr := &resourcetest.Trace{}
	k := ipvssynctest.New(tr, backup("eth0", 1))
	r, err := ipvssync.New(ipvssync.Config{Role: "master", Interface: "eth0", SyncID: 1, Kernel: k})
	if err != nil {
		t.Fatal(err)
	}
	bad := &resourcetest.Fake{ResName: "vip", Trace: tr, StartErr: errors.New("boom")}
	g := resource.NewGroup("web", []resource.Resource{r, bad}, resource.Timeouts{})
	if err := g.Start(context.Background()); err == nil {
		t.Fatal("group Start() = nil, want an error")
	}
	want := strings.Join([]string{
		stopBackup, startMaster,
		"start vip", "stop vip",
		stopMaster, startBackup,
	}, "\n")
	if got := tr.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
}

func TestNew(t *testing.T) {
	k := ipvssynctest.New(&resourcetest.Trace{})
	tests := []struct {
		cfg      ipvssync.Config
		wantName string
		wantErr  string
	}{
		{cfg: ipvssync.Config{Role: "master", Interface: "eth0", SyncID: 1, Kernel: k},
			wantName: "ipvs-sync master eth0 syncid 1"},
		{cfg: ipvssync.Config{Role: "backup", Interface: "bond0.100", SyncID: 255, Kernel: k},
			wantName: "ipvs-sync backup bond0.100 syncid 255"},
		{cfg: ipvssync.Config{Role: "primary", Interface: "eth0", Kernel: k},
			wantErr: `ipvs-sync: role: "primary" is not one of master, backup`},
		{cfg: ipvssync.Config{Role: "master", Kernel: k},
			wantErr: "ipvs-sync: interface: required"},
		{cfg: ipvssync.Config{Role: "master", Interface: "averyverylongifname", Kernel: k},
			wantErr: `ipvs-sync: interface: "averyverylongifname": longer than 15 bytes`},
		{cfg: ipvssync.Config{Role: "master", Interface: "eth 0", Kernel: k},
			wantErr: `ipvs-sync: interface: "eth 0": not a valid interface name`},
		{cfg: ipvssync.Config{Role: "master", Interface: "eth0"},
			wantErr: `ipvs-sync: master on "eth0": no kernel access configured`},
	}
	for _, tt := range tests {
		r, err := ipvssync.New(tt.cfg)
		if got := errString(err); got != tt.wantErr {
			t.Errorf("New(%+v) error = %q, want %q", tt.cfg, got, tt.wantErr)
			continue
		}
		if err == nil && r.Name() != tt.wantName {
			t.Errorf("New(%+v).Name() = %q, want %q", tt.cfg, r.Name(), tt.wantName)
		}
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[ipvssync.State]string{ipvssync.StateMaster: "master", ipvssync.StateBackup: "backup", 7: "State(7)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", uint32(s), got, want)
		}
	}
}
