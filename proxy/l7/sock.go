package l7

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// clientSock is a client connection on a descriptor accepted by package
// accept, without a net.TCPConn: reads and writes are recv(2) and send(2)
// (rawio), and the socket enters Go's poller only the first time a read
// or write would wait. With TCP_DEFER_ACCEPT the first request is there
// at accept and a "Connection: close" exchange never waits on the client,
// so most such connections cost accept4, recv, send and close, as in
// HAProxy, instead of the net package's epoll_ctl twice, getsockname,
// three or four setsockopt calls and a finalizer.
//
// It behaves as a *net.TCPConn where the proxy relies on it: a deadline
// in the past fails Read and Write with os.ErrDeadlineExceeded even when
// data is there; SetReadDeadline and Close from other goroutines wake a
// waiting Read; Read and Write after Close fail with net.ErrClosed.
//
// TCP_NODELAY is set before the second send, not at accept: a first
// send never waits for Nagle's algorithm (nothing is in flight), and an
// answer that fits in one send (the common one) costs no setsockopt.
// This is nginx's tcp_nodelay, which it sets once a connection goes
// keep-alive; HAProxy leaves client sockets without it.
type clientSock struct {
	fd     int
	remote netip.AddrPort

	// ref is the number of calls using fd, times two, plus one once
	// Close was called: fd is closed by whichever of Close and those
	// calls ends last, so its number is never reused (by the next
	// accept) under a call still using it.
	ref atomic.Int32

	// Deadlines as nanoseconds since clockBase (monotonic): 0 none,
	// negative long past. Kept here until the socket is in the poller,
	// which keeps them from then on; set under mu.
	rdl, wdl atomic.Int64
	sent     atomic.Bool // something was sent: the next send needs TCP_NODELAY
	nodelay  atomic.Bool
	// last is set by lastWrite and read by the next Write (the writer's
	// own); corked says that Write left its tail in the kernel for the
	// FIN to carry; clean, set with last, that close(2) alone may send
	// that FIN.
	last   bool
	clean  bool
	corked atomic.Bool

	mu    sync.Mutex
	rdlT  time.Time // the deadlines as given, for the poller when the socket enters it
	wdlT  time.Time
	laddr net.Addr                   // getsockname's answer, once asked
	file  *os.File                   // the socket in Go's poller (it owns fd then); set once, before rw
	rw    atomic.Pointer[rawio.Conn] // reads and writes through file, once set
}

// newClientSock takes ownership of fd, a connected non-blocking TCP
// socket from remote.
func newClientSock(fd int, remote netip.AddrPort) *clientSock {
	return &clientSock{fd: fd, remote: remote}
}

// acquire counts a call using fd, or reports false once Close was called.
func (s *clientSock) acquire() bool {
	for {
		v := s.ref.Load()
		if v&1 != 0 {
			return false
		}
		if s.ref.CompareAndSwap(v, v+2) {
			return true
		}
	}
}

// release ends a call counted by acquire, closing fd when it was the last
// one after Close. Once closed the count never rises again (acquire
// refuses), so this closes fd exactly once.
func (s *clientSock) release() {
	if s.ref.Add(-2) != 1 {
		return
	}
	if s.corked.Load() && !s.clean {
		// The FIN goes with the answer (coalesced) before close(2),
		// which sends an RST instead when the client sent bytes not
		// read: the answer must be out before that, as it would be
		// without MSG_MORE. A clean close needs no shutdown: close(2)
		// with nothing unread sends the same FIN with the answer.
		_, _ = rawio.Call(unix.SYS_SHUTDOWN, uintptr(s.fd), unix.SHUT_WR, 0, 0, 0, 0)
	}
	if s.file != nil {
		_ = s.file.Close() // leaves the poller, then closes
	} else {
		_, _ = rawio.Call(unix.SYS_CLOSE, uintptr(s.fd), 0, 0, 0, 0, 0)
	}
	// Closed and done with: recycle may reuse the memory from here on,
	// not before (the count read 1 while this call still used s).
	s.ref.Store(refDone)
}

// refDone is ref once the descriptor was closed and its closing call has
// returned; odd, so acquire refuses it as it refuses a closed socket.
const refDone = -1

func (s *clientSock) closed() bool { return s.ref.Load()&1 != 0 }

// Close closes the connection; safe from any goroutine. A call still
// using the socket (a Read waiting in the poller) is woken by a
// shutdown(2), and the descriptor is closed when it returns.
func (s *clientSock) Close() error {
	if !s.acquire() {
		return s.opError("close", net.ErrClosed)
	}
	if old := s.ref.Or(1); old>>1 > 1 {
		_, _ = rawio.Call(unix.SYS_SHUTDOWN, uintptr(s.fd), unix.SHUT_RDWR, 0, 0, 0, 0)
	}
	s.release()
	return nil
}

// CloseWrite sends a FIN (shutdown(2) SHUT_WR), as (*net.TCPConn).CloseWrite.
func (s *clientSock) CloseWrite() error {
	if !s.acquire() {
		return s.opError("close", net.ErrClosed)
	}
	defer s.release()
	if _, err := rawio.Call(unix.SYS_SHUTDOWN, uintptr(s.fd), unix.SHUT_WR, 0, 0, 0, 0); err != nil {
		return s.opError("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// Read reads up to len(p) bytes, waiting until some are there (in Go's
// poller, which the socket enters then); io.EOF at the end of the stream.
func (s *clientSock) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !s.acquire() {
		return 0, s.opError("read", net.ErrClosed)
	}
	n, err := s.read(p)
	if err != nil && err != io.EOF {
		err = s.opError("read", err)
	}
	s.release()
	return n, err
}

func (s *clientSock) read(p []byte) (int, error) {
	s.uncork()
	rw := s.rw.Load()
	if rw == nil {
		if expired(s.rdl.Load()) {
			return 0, os.ErrDeadlineExceeded
		}
		n, err := rawio.Recv(uintptr(s.fd), p, 0)
		switch {
		case err == nil && n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err != unix.EAGAIN:
			return 0, os.NewSyscallError("recvfrom", err)
		}
		if rw, err = s.register(); err != nil {
			return 0, err
		}
	}
	n, err := rw.Read(p)
	if err != nil && s.closed() {
		return 0, net.ErrClosed // woken by Close's shutdown
	}
	return n, err
}

// Write writes all of p, waiting for room as needed.
func (s *clientSock) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !s.acquire() {
		return 0, s.opError("write", net.ErrClosed)
	}
	n, err := s.write(p)
	if err != nil {
		err = s.opError("write", err)
	}
	s.release()
	return n, err
}

func (s *clientSock) write(p []byte) (int, error) {
	s.uncork()
	n := 0
	rw := s.rw.Load()
	if rw == nil {
		if expired(s.wdl.Load()) {
			return 0, os.ErrDeadlineExceeded
		}
		flags := uintptr(unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL)
		if s.last {
			flags |= unix.MSG_MORE
			s.last = false
			s.corked.Store(true)
		}
		for n < len(p) {
			if s.sent.Load() {
				s.setNoDelay()
			}
			m, err := rawio.Call(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), flags, 0, 0)
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				return n, os.NewSyscallError("sendto", err)
			}
			s.sent.Store(true)
			n += int(m)
		}
		if n == len(p) {
			return n, nil
		}
		var err error
		if rw, err = s.register(); err != nil {
			return n, err
		}
	}
	m, err := rw.Write(p[n:])
	if err != nil && s.closed() {
		err = net.ErrClosed
	}
	return n + m, err
}

// lastWrite says that the next Write ends the last answer on a
// connection that is closed next (the owner's call, before that Write):
// it is sent with MSG_MORE, so its tail waits in the kernel for the FIN,
// and data and FIN reach the client in one segment rather than two (one
// loopback or NIC transmit, and one wake-up of the client, less). A Read
// or Write that comes instead pushes the tail out first (uncork).
//
// clean says the client will send nothing more (it asked for the close,
// sent no body, and nothing of a next request is buffered): then
// close(2) alone sends the FIN, without the shutdown(2) that guards an
// answer from the reset of unread bytes (one system call of about eight
// per connection; in the bench's HTTP close cell it bought 1.12x req/s
// and 0.93x CPU per request). This is nginx's choice too: it lingers
// only when the client may send more. A client that sends more anyway
// gets a reset, with the answer at risk.
func (s *clientSock) lastWrite(clean bool) { s.last, s.clean = true, clean }

// uncork sends what a Write after lastWrite left in the kernel (setting
// TCP_NODELAY pushes pending segments, tcp(7)).
func (s *clientSock) uncork() {
	if s.corked.Load() {
		s.corked.Store(false)
		s.nodelay.Store(false)
		s.setNoDelay()
	}
}

func (s *clientSock) setNoDelay() {
	if s.nodelay.Load() {
		return
	}
	one := int32(1)
	_, _ = rawio.Call(unix.SYS_SETSOCKOPT, uintptr(s.fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
	s.nodelay.Store(true)
}

// register puts the socket in Go's poller (as a non-blocking *os.File),
// with the deadlines set so far, and returns the reader and writer
// through it. The caller holds a reference (acquire). TCP_NODELAY is set
// then: a connection that waits is a keep-alive one or a slow one, whose
// answers may go out in several sends.
func (s *clientSock) register() (*rawio.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rw := s.rw.Load(); rw != nil {
		return rw, nil
	}
	if s.closed() {
		return nil, net.ErrClosed
	}
	if s.file != nil {
		return nil, errNotPolled // tried before, and failed
	}
	// From here the file owns fd: release closes it through the file.
	s.file = os.NewFile(uintptr(s.fd), "client")
	// Setting a deadline fails only on a descriptor the poller refused.
	if err := s.file.SetReadDeadline(s.rdlT); err != nil {
		return nil, errNotPolled
	}
	_ = s.file.SetWriteDeadline(s.wdlT)
	rw, err := rawio.New(s.file)
	if err != nil {
		return nil, err
	}
	s.setNoDelay()
	s.rw.Store(rw)
	return rw, nil
}

// errNotPolled is what a Read or Write that would wait returns when Go's
// poller refused the socket (it never does for a TCP socket).
var errNotPolled = errors.New("l7: client socket not taken by the poller")

// SetDeadline sets both deadlines, as net.Conn's.
func (s *clientSock) SetDeadline(t time.Time) error {
	if err := s.SetReadDeadline(t); err != nil {
		return err
	}
	return s.SetWriteDeadline(t)
}

// SetReadDeadline bounds Read, as net.Conn's; safe from any goroutine,
// and a waiting Read sees the change.
func (s *clientSock) SetReadDeadline(t time.Time) error {
	return s.setDeadline(t, &s.rdlT, &s.rdl, (*os.File).SetReadDeadline)
}

// SetWriteDeadline bounds Write, as net.Conn's.
func (s *clientSock) SetWriteDeadline(t time.Time) error {
	return s.setDeadline(t, &s.wdlT, &s.wdl, (*os.File).SetWriteDeadline)
}

func (s *clientSock) setDeadline(t time.Time, keep *time.Time, mono *atomic.Int64, set func(*os.File, time.Time) error) error {
	if !s.acquire() {
		return s.opError("set", net.ErrClosed)
	}
	defer s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	*keep = t
	mono.Store(monoDeadline(t))
	if s.file != nil {
		return set(s.file, t)
	}
	return nil
}

// monoDeadline encodes a deadline for expired.
func monoDeadline(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if d := t.Sub(clockBase); d > 0 {
		return int64(d)
	}
	return -1
}

// expired reports whether a deadline encoded by monoDeadline has passed.
func expired(dl int64) bool {
	return dl < 0 || dl > 0 && int64(time.Since(clockBase)) >= dl
}

// LocalAddr returns the connection's local address (getsockname(2), on
// the first call).
func (s *clientSock) LocalAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.laddr == nil && s.acquire() {
		if sa, err := unix.Getsockname(s.fd); err == nil {
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				s.laddr = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
			case *unix.SockaddrInet6:
				s.laddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)))
			}
		}
		s.release()
	}
	if s.laddr == nil {
		return &net.TCPAddr{}
	}
	return s.laddr
}

// RemoteAddr returns the client's address, from accept4.
func (s *clientSock) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(s.remote) }

func (s *clientSock) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: s.RemoteAddr(), Err: err}
}

// netConn returns a *net.TCPConn on a duplicate of the socket, for
// net/http's server (the slow path); s stays the caller's to close.
func (s *clientSock) netConn() (net.Conn, error) {
	if !s.acquire() {
		return nil, s.opError("dup", net.ErrClosed)
	}
	defer s.release()
	if _, err := s.register(); err != nil {
		return nil, err
	}
	return net.FileConn(s.file)
}
