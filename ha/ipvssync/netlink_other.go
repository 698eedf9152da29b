//go:build !linux

package ipvssync

import "errors"

var errNotLinux = errors.New("ipvs-sync: IPVS exists only on Linux")

// Netlink is the Kernel backed by the IPVS generic netlink family; off
// Linux every call fails.
type Netlink struct{}

var _ Kernel = (*Netlink)(nil)

// OpenNetlink fails off Linux.
func OpenNetlink(nsPath string) (*Netlink, error) { return nil, errNotLinux }

// Check fails off Linux.
func Check() error { return errNotLinux }

// Close does nothing.
func (n *Netlink) Close() error { return nil }

// Available fails off Linux.
func (n *Netlink) Available() error { return errNotLinux }

// StartDaemon fails off Linux.
func (n *Netlink) StartDaemon(d Daemon) error { return errNotLinux }

// StopDaemon fails off Linux.
func (n *Netlink) StopDaemon(s State) error { return errNotLinux }

// Daemons fails off Linux.
func (n *Netlink) Daemons() ([]Daemon, error) { return nil, errNotLinux }
