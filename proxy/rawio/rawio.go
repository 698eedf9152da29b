// Package rawio reads and writes connected TCP sockets with recv(2) and
// send(2) called directly, without blocking, and waits for readiness
// through the Go runtime's poller (syscall.RawConn), as net.TCPConn does.
//
// The difference from (*net.TCPConn).Read and Write is what a busy
// balancer pays per message: read(2) and write(2) pass through the VFS
// layer (file position lock, rw_verify_area, security hooks) that
// recv(2) and send(2) skip, and the calls are made with RawSyscall, which
// a non-blocking socket call can use: no entersyscall/exitsyscall, and the
// runtime never hands the goroutine's P to another thread because a send
// spent a while in the kernel's loopback delivery (with one P, that
// hand-off woke a second thread for nearly every request).
//
// It must not be used on a socket that is not in non-blocking mode (every
// socket the net package makes is).
package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Recv reads what is queued on fd into p without waiting: n > 0 bytes,
// 0 and nil at the end of the stream, or unix.EAGAIN when nothing is
// queued. len(p) must not be 0.
func Recv(fd uintptr, p []byte) (int, error) {
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
			unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

// Send writes as much of p to fd as fits without waiting, or returns
// unix.EAGAIN when nothing fits. Writing to a socket the peer has closed
// fails with EPIPE rather than raising SIGPIPE. len(p) must not be 0.
func Send(fd uintptr, p []byte) (int, error) {
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
			unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, e
	}
}

// Conn is an io.Reader and io.Writer over a *net.TCPConn that uses Recv
// and Send. Deadlines, Close and the other methods stay the TCPConn's
// (a deadline or a Close ends a Read or Write waiting here). A Conn is
// for one reader and one writer goroutine at a time, like a TCPConn.
type Conn struct {
	rc syscall.RawConn

	// The read and write in progress, for the functions below (made once
	// so that a call allocates nothing).
	rp     []byte
	rn     int
	rerr   error
	wp     []byte
	wn     int
	werr   error
	readF  func(fd uintptr) bool
	writeF func(fd uintptr) bool
}

// New returns a Conn over c.
func New(c *net.TCPConn) (*Conn, error) {
	rw := new(Conn)
	if err := rw.Reset(c); err != nil {
		return nil, err
	}
	return rw, nil
}

// Reset makes c a Conn over tc, so that a pooled Conn serves another
// connection; nil leaves it over none.
func (c *Conn) Reset(tc *net.TCPConn) error {
	if c.readF == nil {
		c.readF, c.writeF = c.read, c.write
	}
	c.rc = nil
	if tc == nil {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	c.rc = rc
	return nil
}

// Read reads up to len(p) bytes, waiting until some are there; io.EOF at
// the end of the stream. Errors are *os.SyscallError or the net package's
// (net.ErrClosed, os.ErrDeadlineExceeded).
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rp = p
	err := c.rc.Read(c.readF)
	c.rp = nil
	if err != nil {
		return 0, err
	}
	if c.rerr != nil {
		return 0, os.NewSyscallError("recvfrom", c.rerr)
	}
	if c.rn == 0 {
		return 0, io.EOF
	}
	return c.rn, nil
}

func (c *Conn) read(fd uintptr) bool {
	c.rn, c.rerr = Recv(fd, c.rp)
	return c.rerr != unix.EAGAIN
}

// Write writes all of p, waiting for room as needed.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wp, c.wn, c.werr = p, 0, nil
	err := c.rc.Write(c.writeF)
	n := c.wn
	c.wp = nil
	if err == nil && c.werr != nil {
		err = os.NewSyscallError("sendto", c.werr)
	}
	return n, err
}

func (c *Conn) write(fd uintptr) bool {
	for c.wn < len(c.wp) {
		n, err := Send(fd, c.wp[c.wn:])
		if err == unix.EAGAIN {
			return false
		}
		if err != nil {
			c.werr = err
			return true
		}
		c.wn += n
	}
	return true
}
