package l4

import (
	"io"
	"net"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// relayBufSize is the buffer one direction of a TCP connection borrows to
// move what one read returns. A read that fills it marks the direction as
// a bulk transfer, which then goes to splice(2) for the rest of its life:
// HAProxy's "option splice-auto" makes the same choice. Small exchanges
// (requests and answers of a few KiB) cost one read(2) and one write(2)
// per message that way, where splice costs two calls through a pipe and
// more work in the kernel per call; HAProxy's default buffer is 16 KiB too.
const relayBufSize = 16 << 10

// relayBufs holds the borrowed buffers. A direction takes one only once
// its socket is readable, so an idle connection (most of them, on a busy
// balancer) holds none.
var relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBufSize); return &b }}

// relay copies src to dst until src ends (EOF: err is nil) or fails, and
// returns the bytes copied. It reads and writes with recv(2) and send(2)
// (package rawio).
func relay(dst, src *net.TCPConn) (int64, error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	w, err := rawio.New(dst)
	if err != nil {
		return 0, err
	}
	var (
		total int64
		bp    *[]byte
		n     int
		rerr  error
	)
	// read is the raw read, made once so that each call allocates nothing.
	read := func(fd uintptr) bool {
		bp = relayBufs.Get().(*[]byte)
		n, rerr = rawio.Recv(fd, *bp, 0)
		if rerr == unix.EAGAIN {
			relayBufs.Put(bp) // nothing yet: wait without the buffer
			bp = nil
			return false
		}
		return true
	}
	for {
		if err := rc.Read(read); err != nil {
			if bp != nil {
				relayBufs.Put(bp)
			}
			return total, err
		}
		if rerr != nil || n <= 0 {
			relayBufs.Put(bp)
			if n == 0 && rerr == nil {
				return total, nil // EOF
			}
			return total, rerr
		}
		_, werr := w.Write((*bp)[:n])
		relayBufs.Put(bp)
		bp = nil
		total += int64(n)
		if werr != nil {
			return total, werr
		}
		if n == relayBufSize {
			// A bulk transfer: splice the rest (io.Copy between two
			// *net.TCPConn reaches (*TCPConn).ReadFrom, which splices on
			// Linux; the bytes never enter user space).
			m, err := io.Copy(dst, src)
			return total + m, err
		}
	}
}
