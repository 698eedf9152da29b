package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rxStamps reads a TCP connection with recvmsg(2) and keeps the kernel's
// receive time of the data it last read (SO_TIMESTAMPNS, socket(7)), so a
// stream's stall ends when its echo reached the client's host, not when
// the test process, on a loaded host, got round to reading it (seen: an
// echo on the client's socket 700 ms before the test read it).
type rxStamps struct {
	rc   syscall.RawConn
	last time.Time // zero until a read carried a timestamp
	oob  []byte
}

// newRxStamps turns on receive timestamps on c, a TCP connection.
func newRxStamps(c net.Conn) (*rxStamps, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil, fmt.Errorf("receive timestamps: %T is not a TCP connection", c)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("receive timestamps: setsockopt SO_TIMESTAMPNS: %w", serr)
	}
	return &rxStamps{rc: rc, oob: make([]byte, unix.CmsgSpace(16))}, nil
}

// Read is recvmsg through the runtime's poller, so the connection's
// deadlines hold.
func (r *rxStamps) Read(p []byte) (int, error) {
	var n, oobn int
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, r.oob, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	if msgs, err := unix.ParseSocketControlMessage(r.oob[:oobn]); err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
				sec, nsec := binary.NativeEndian.Uint64(m.Data[0:8]), binary.NativeEndian.Uint64(m.Data[8:16])
				r.last = time.Unix(int64(sec), int64(nsec))
			}
		}
	}
	return n, nil
}
