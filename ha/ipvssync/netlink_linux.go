package ipvssync

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// socketTimeout bounds each netlink exchange: the kernel answers these
// requests at once, so a longer wait means something is wrong, and a group
// start or stop must not hang on it (vishvananda/netlink's default is 60s).
const socketTimeout = 5 * time.Second

// Netlink is the Kernel backed by the "IPVS" generic netlink family. Its
// methods are safe for concurrent use. The family id is looked up on every
// call, so loading or reloading ip_vs while had runs is noticed.
type Netlink struct {
	h    *netlink.Handle  // family lookups (nlctrl)
	sock *nl.SocketHandle // IPVS requests, in the same namespace
}

var _ Kernel = (*Netlink)(nil)

// OpenNetlink opens generic netlink sockets in the network namespace at
// nsPath (e.g. /run/netns/lb1) without moving any thread, or in the
// process's own namespace when nsPath is empty. IPVS sync daemons are per
// network namespace.
func OpenNetlink(nsPath string) (*Netlink, error) {
	ns := netns.None()
	if nsPath != "" {
		var err error
		ns, err = netns.GetFromPath(nsPath)
		if err != nil {
			return nil, fmt.Errorf("ipvs-sync: opening network namespace %q: %w", nsPath, err)
		}
		defer ns.Close()
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("ipvs-sync: opening generic netlink: %w", err)
	}
	if err := h.SetSocketTimeout(socketTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("ipvs-sync: setting netlink timeout: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("ipvs-sync: opening generic netlink: %w", err)
	}
	tv := unix.NsecToTimeval(socketTimeout.Nanoseconds())
	if err := errors.Join(s.SetSendTimeout(&tv), s.SetReceiveTimeout(&tv)); err != nil {
		s.Close()
		h.Close()
		return nil, fmt.Errorf("ipvs-sync: setting netlink timeout: %w", err)
	}
	return &Netlink{h: h, sock: &nl.SocketHandle{Socket: s}}, nil
}

// Check reports whether this host's kernel (in had's own network
// namespace) has IPVS: nil, ErrNoIPVS, or the error that kept it from
// asking. Package node calls it at startup when the config has an ipvs-sync
// resource.
func Check() error {
	n, err := OpenNetlink("")
	if err != nil {
		return err
	}
	defer n.Close()
	return n.Available()
}

// Close releases the sockets.
func (n *Netlink) Close() error {
	n.sock.Close()
	n.h.Close()
	return nil
}

// Available reports nil when the kernel has the IPVS family, ErrNoIPVS when
// it does not.
func (n *Netlink) Available() error {
	_, err := n.family()
	return err
}

// family returns the IPVS family id; nlctrl answers ENOENT for a family
// that is not registered (ip_vs not loaded).
func (n *Netlink) family() (uint16, error) {
	f, err := n.h.GenlFamilyGet(genlName)
	if errors.Is(err, syscall.ENOENT) {
		return 0, ErrNoIPVS
	}
	if err != nil {
		return 0, fmt.Errorf("ipvs-sync: looking up generic netlink family %q: %w", genlName, err)
	}
	return f.ID, nil
}

func (n *Netlink) execute(req *nl.NetlinkRequest, fn func(msg []byte) bool) error {
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_GENERIC: n.sock}
	if fn == nil {
		fn = func([]byte) bool { return true }
	}
	return req.ExecuteIter(unix.NETLINK_GENERIC, 0, fn)
}

// StartDaemon starts d (ipvsadm --start-daemon). The error matches
// syscall.EEXIST when a daemon of d's state already runs, syscall.ENODEV
// when the interface does not exist.
func (n *Netlink) StartDaemon(d Daemon) error {
	fam, err := n.family()
	if err != nil {
		return err
	}
	return n.execute(daemonRequest(fam, cmdNewDaemon, d), nil)
}

// StopDaemon stops the daemon of state s (ipvsadm --stop-daemon). The error
// matches syscall.ESRCH when none runs.
func (n *Netlink) StopDaemon(s State) error {
	fam, err := n.family()
	if err != nil {
		return err
	}
	return n.execute(daemonRequest(fam, cmdDelDaemon, Daemon{State: s}), nil)
}

// Daemons lists the running sync daemons (ipvsadm --list-daemon).
func (n *Netlink) Daemons() ([]Daemon, error) {
	fam, err := n.family()
	if err != nil {
		return nil, err
	}
	var ds []Daemon
	var perr error
	err = n.execute(listRequest(fam), func(msg []byte) bool {
		d, ok, err := parseDaemon(msg)
		if err != nil {
			perr = err
			return false
		}
		if ok {
			ds = append(ds, d)
		}
		return true
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	return ds, nil
}
