package ipvssync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// skipOrFail skips with why, or fails when HAPAIR_E2E=1 asks for every
// privileged test to run (STYLE rule 13).
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("HAPAIR_E2E") == "1" {
		t.Fatal(why + " (HAPAIR_E2E=1)")
	}
	t.Skip(why)
}

// TestNetlinkNoIPVS asks the real kernel. Without IPVS (this project's
// build machine) it checks that every call says so by name; it needs no
// root.
func TestNetlinkNoIPVS(t *testing.T) {
	err := Check()
	if err == nil {
		t.Skip("skipping: the kernel has IPVS; TestNetlinkDaemons covers it")
	}
	if !errors.Is(err, ErrNoIPVS) {
		t.Fatalf("Check() = %v, want ErrNoIPVS or nil", err)
	}
	for _, s := range []string{`generic netlink family "IPVS" not found`, "modprobe ip_vs"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Check() = %q, want it to contain %q", err, s)
		}
	}
	n, err := OpenNetlink("")
	if err != nil {
		t.Fatalf("OpenNetlink: %v", err)
	}
	defer n.Close()
	calls := map[string]func() error{
		"Available":   n.Available,
		"StartDaemon": func() error { return n.StartDaemon(Daemon{State: StateBackup, Interface: "lo"}) },
		"StopDaemon":  func() error { return n.StopDaemon(StateBackup) },
		"Daemons":     func() error { _, err := n.Daemons(); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrNoIPVS) {
			t.Errorf("%s() = %v, want ErrNoIPVS", name, err)
		}
	}
}

// TestNetlinkDaemons starts and stops real sync daemons on lo, in a network
// namespace of its own so the host's daemons are not touched.
func TestNetlinkDaemons(t *testing.T) {
	err := Check()
	if errors.Is(err, ErrNoIPVS) {
		if !strings.Contains(err.Error(), `generic netlink family "IPVS"`) {
			t.Errorf("Check() = %q, want it to name the family", err)
		}
		t.Skip("skipping: kernel has no IPVS (genetlink family \"IPVS\" not found)")
	}
	if err != nil {
		t.Fatalf("Check() = %v", err)
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "skipping: starting IPVS sync daemons needs root (CAP_NET_ADMIN)")
	}
	nsPath := newNetns(t)
	n, err := OpenNetlink(nsPath)
	if err != nil {
		t.Fatalf("OpenNetlink(%q): %v", nsPath, err)
	}
	defer n.Close()

	want := Daemon{State: StateBackup, Interface: "lo", SyncID: 42}
	if err := n.StartDaemon(want); err != nil {
		t.Fatalf("StartDaemon(%v): %v", want, err)
	}
	if ds, err := n.Daemons(); err != nil || len(ds) != 1 || ds[0] != want {
		t.Errorf("Daemons() = %v, %v, want [%v], nil", ds, err, want)
	}
	if err := n.StartDaemon(want); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("StartDaemon(%v) again = %v, want EEXIST", want, err)
	}
	if err := n.StopDaemon(StateBackup); err != nil {
		t.Errorf("StopDaemon(backup): %v", err)
	}
	if ds, err := n.Daemons(); err != nil || len(ds) != 0 {
		t.Errorf("Daemons() after stop = %v, %v, want [], nil", ds, err)
	}
	if err := n.StopDaemon(StateBackup); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("StopDaemon(backup) again = %v, want ESRCH", err)
	}

	// The resource on the real kernel: release (backup), take (master).
	r, err := New(Config{Role: "master", Interface: "lo", SyncID: 42, Kernel: n})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	wantOnly(t, n, "Stop", StateBackup)
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := r.Status(ctx); err != nil {
		t.Errorf("Status() after Start = %v, want nil", err)
	}
	wantOnly(t, n, "Start", StateMaster)
	if err := n.StopDaemon(StateMaster); err != nil {
		t.Errorf("StopDaemon(master): %v", err)
	}
}

// wantOnly checks that the kernel runs one sync daemon, in state, after
// the resource's op.
func wantOnly(t *testing.T, n *Netlink, op string, state State) {
	t.Helper()
	if ds, err := n.Daemons(); err != nil || len(ds) != 1 || ds[0].State != state {
		t.Errorf("Daemons() after %s = %v, %v, want one %s", op, ds, err, state)
	}
}

// newNetns makes a uniquely named network namespace with lo up and removes
// it when the test ends; it returns its path.
func newNetns(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("hapair-ipvssync-%d", os.Getpid())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("getting the current network namespace: %v", err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if err != nil {
		t.Fatalf("creating network namespace %q: %v", name, err)
	}
	defer ns.Close()
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("removing network namespace %q: %v", name, err)
		}
	})
	if err := netns.Set(orig); err != nil {
		t.Fatalf("returning to the original network namespace: %v", err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink in %q: %v", name, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("bringing lo up in %q: %v", name, err)
	}
	return "/run/netns/" + name
}
