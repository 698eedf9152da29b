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
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Recv reads what is queued on fd into p without waiting: n > 0 bytes,
// 0 and nil at the end of the stream, or unix.EAGAIN when nothing is
// queued. flags are added to MSG_DONTWAIT (MSG_TRUNC: a datagram's real
// length). len(p) must not be 0.
func Recv(fd uintptr, p []byte, flags int) (int, error) {
	n, err := Call(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		uintptr(unix.MSG_DONTWAIT|flags), 0, 0)
	return int(n), err
}

// Call makes the system call trap by RawSyscall6, again after EINTR: for
// calls on non-blocking sockets, which never wait in the kernel. Its
// error is a unix.Errno.
//
// It must not grow the stack (go:nosplit, as syscall.RawSyscall6 is):
// callers pass pointers to their own stack variables as uintptrs (a
// sockaddr for accept4, an int for getsockopt), which a stack copy in
// Call's prologue would leave pointing at the old stack, where the kernel
// would then write. RawSyscall6 below is nosplit all the way down.
//
//go:nosplit
func Call(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, error) {
	for {
		r, _, e := unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
		switch e {
		case 0:
			return r, nil
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
	return sendto(fd, p, 0, nil, 0)
}

// SendTo sends p as one datagram to addr (IPv4, or IPv6 with its zone
// given as a numeric scope) from the unconnected socket fd, without
// waiting: unix.EAGAIN when the socket's buffer is full.
func SendTo(fd uintptr, p []byte, addr netip.AddrPort) error {
	if a := addr.Addr(); a.Is4() {
		sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], addr.Port())
		_, err := sendto(fd, p, 0, unsafe.Pointer(&sa), unix.SizeofSockaddrInet4)
		return err
	}
	sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: addr.Addr().As16()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], addr.Port())
	if z := addr.Addr().Zone(); z != "" {
		id, err := strconv.ParseUint(z, 10, 32)
		if err != nil {
			return fmt.Errorf("rawio: zone %q of %s is not a numeric scope", z, addr)
		}
		sa.Scope_id = uint32(id)
	}
	_, err := sendto(fd, p, 0, unsafe.Pointer(&sa), unix.SizeofSockaddrInet6)
	return err
}

// SendMore is Send with MSG_MORE (send(2)): what p leaves short of a full
// segment stays in the kernel, as under TCP_CORK (tcp(7)), until a send
// without it, shutdown(2), close(2) or TCP_NODELAY pushes it out; the
// FIN of a shutdown or close then rides on that segment. The caller must
// make one of those follow.
func SendMore(fd uintptr, p []byte) (int, error) {
	return sendto(fd, p, unix.MSG_MORE, nil, 0)
}

// sendto is sendto(2) without waiting or SIGPIPE, with flags added.
func sendto(fd uintptr, p []byte, flags int, sa unsafe.Pointer, salen uintptr) (int, error) {
	var base unsafe.Pointer
	if len(p) > 0 {
		base = unsafe.Pointer(&p[0])
	}
	n, err := Call(unix.SYS_SENDTO, fd, uintptr(base), uintptr(len(p)), uintptr(unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL|flags), uintptr(sa), salen)
	return int(n), err
}

// Conn is an io.Reader and io.Writer over a *net.TCPConn that uses Recv
// and Send (and WriteMsg over a connected *net.UDPConn). Deadlines, Close
// and the other methods stay the net connection's
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
	msgF   func(fd uintptr) bool
}

// New returns a Conn over c (a *net.TCPConn, or a connected
// *net.UDPConn for WriteMsg).
func New(c syscall.Conn) (*Conn, error) {
	rw := new(Conn)
	if err := rw.Reset(c); err != nil {
		return nil, err
	}
	return rw, nil
}

// Reset makes c a Conn over tc, so that a pooled Conn serves another
// connection; nil leaves it over none.
func (c *Conn) Reset(tc syscall.Conn) error {
	if c.readF == nil {
		c.readF, c.writeF, c.msgF = c.read, c.write, c.writeMsg
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
	c.rn, c.rerr = Recv(fd, c.rp, 0)
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

// WriteMsg sends p with one send(2), waiting for room as needed: one
// datagram on a UDP socket (p may be empty). The error of a datagram the
// kernel refused (ECONNREFUSED after an ICMP port unreachable) is an
// *os.SyscallError.
func (c *Conn) WriteMsg(p []byte) error {
	c.wp, c.werr = p, nil
	err := c.rc.Write(c.msgF)
	c.wp = nil
	if err == nil && c.werr != nil {
		err = os.NewSyscallError("sendto", c.werr)
	}
	return err
}

func (c *Conn) writeMsg(fd uintptr) bool {
	_, err := Send(fd, c.wp)
	if err == unix.EAGAIN {
		return false
	}
	c.werr = err
	return true
}
