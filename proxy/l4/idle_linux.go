package l4

import (
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// idleFor returns how long the TCP socket fd has carried no data either
// way, from the kernel's tcp_info (milliseconds since the last data
// segment sent and received). The kernel stamps both at connection setup,
// so a connection that never carried data counts as idle since it was
// established.
func idleFor(fd int) (time.Duration, error) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.SOL_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, err
	}
	ms := min(info.Last_data_recv, info.Last_data_sent)
	return time.Duration(ms) * time.Millisecond, nil
}

// detach takes c's socket out of the net package: it returns a duplicate
// descriptor (same open socket, still non-blocking) and closes c, which
// also takes the socket out of Go's poller. The caller owns the result.
// (File would do the same and more: it registers the copy with the poller
// again.)
func detach(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		_ = c.Close()
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		derr = err
	}
	if derr != nil {
		_ = c.SetLinger(0)
		_ = c.Close()
		return -1, os.NewSyscallError("fcntl", derr)
	}
	_ = c.Close()
	return fd, nil
}
