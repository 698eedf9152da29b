package l4

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// idleFor returns how long c has carried no data either way, from the
// kernel's tcp_info (milliseconds since the last data segment sent and
// received). The kernel stamps both at connection setup, so a connection
// that never carried data counts as idle since it was established.
func idleFor(c *net.TCPConn) (time.Duration, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.SOL_TCP, unix.TCP_INFO)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	ms := min(info.Last_data_recv, info.Last_data_sent)
	return time.Duration(ms) * time.Millisecond, nil
}
