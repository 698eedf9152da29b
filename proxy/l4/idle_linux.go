package l4

import (
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
