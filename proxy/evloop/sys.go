package evloop

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// The socket calls a connection makes on the loop (and on the accepting
// goroutine), by RawSyscall as rawio makes recv and send: none of them
// waits on a non-blocking socket without SO_LINGER (a linger of 0 resets
// at once), so the P is never handed to another thread because a close
// or a connect spent a while in loopback delivery (syscall.Syscall's
// entersyscall lets the runtime do that; with one P it wakes a second
// thread).

// closeFD closes fd once: close(2) is not retried after EINTR on Linux,
// where the descriptor is gone either way.
func closeFD(fd int) { unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

// CloseReset closes the TCP socket fd with an RST (SO_LINGER 0).
func CloseReset(fd int) {
	l := unix.Linger{Onoff: 1, Linger: 0}
	rawio.Call(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_LINGER,
		uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0)
	closeFD(fd)
}

// SetNoDelay sets TCP_NODELAY on fd, as the net package does for its
// TCP connections.
func SetNoDelay(fd int) error {
	one := int32(1)
	_, err := rawio.Call(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
	return err
}

// soError returns fd's pending socket error (SO_ERROR), 0 for none.
func soError(fd int) (unix.Errno, error) {
	var v int32
	l := uint32(4)
	_, err := rawio.Call(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR,
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	return unix.Errno(v), err
}

// shutdownWR sends fd's FIN (shutdown(2) SHUT_WR).
func shutdownWR(fd int) error {
	_, err := rawio.Call(unix.SYS_SHUTDOWN, uintptr(fd), unix.SHUT_WR, 0, 0, 0, 0)
	return err
}

// rawSockaddr is a sockaddr_in or sockaddr_in6 for connect(2).
type rawSockaddr struct {
	v4  unix.RawSockaddrInet4
	v6  unix.RawSockaddrInet6
	six bool
}

func (r *rawSockaddr) set4(a [4]byte, port uint16) {
	r.v4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&r.v4.Port))[:], port)
}

func (r *rawSockaddr) set6(a [16]byte, port uint16, zone uint32) {
	r.v6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a, Scope_id: zone}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&r.v6.Port))[:], port)
	r.six = true
}

// connect starts connect(2) on the non-blocking socket fd: nil or
// EINPROGRESS when under way. It is made once: after EINTR the connect
// goes on in the background, as after EINPROGRESS.
func (r *rawSockaddr) connect(fd int) error {
	p, l := unsafe.Pointer(&r.v4), unsafe.Sizeof(r.v4)
	if r.six {
		p, l = unsafe.Pointer(&r.v6), unsafe.Sizeof(r.v6)
	}
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(p), l)
	switch e {
	case 0, unix.EINTR:
		return nil
	}
	return e
}
