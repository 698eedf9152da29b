package l4

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// recvBatchSize is how many datagrams one recvmmsg(2) reads from a UDP
// service's socket: under load several are queued each time the socket
// turns readable, and each costs no system call of its own.
const recvBatchSize = 16

// recvBatch reads up to recvBatchSize datagrams with one recvmmsg(2) into
// buffers allocated once: a datagram and its source cost no allocation.
type recvBatch struct {
	msgs  [recvBatchSize]unix.Mmsghdr
	iovs  [recvBatchSize]unix.Iovec
	names [recvBatchSize]unix.RawSockaddrInet6 // large enough for IPv4 too
	bufs  [recvBatchSize][]byte
	size  int // each buffer's length: one more than the largest datagram forwarded
}

// newRecvBatch makes buffers of maxDatagram+1 bytes, so a longer datagram
// is seen as such (MSG_TRUNC) and never forwarded cut.
func newRecvBatch(maxDatagram int) *recvBatch {
	b := &recvBatch{size: maxDatagram + 1}
	for i := range b.msgs {
		b.bufs[i] = make([]byte, b.size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(b.size)
		h := &b.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
	}
	return b
}

// read reads what is queued on fd without waiting: the number of
// datagrams, or unix.EAGAIN when there are none.
func (b *recvBatch) read(fd uintptr) (int, error) {
	for i := range b.msgs {
		b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.msgs[i].Hdr.Flags = 0
		b.msgs[i].Len = 0
	}
	n, err := rawio.Call(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), recvBatchSize, unix.MSG_DONTWAIT, 0, 0)
	return int(n), err
}

// datagram returns the i-th datagram read, whether it was longer than the
// buffer (cut by the kernel), and its source (IPv4-mapped addresses
// unmapped; an IPv6 scope as a numeric zone).
func (b *recvBatch) datagram(i int) (data []byte, trunc bool, from netip.AddrPort) {
	m := &b.msgs[i]
	data = b.bufs[i][:m.Len]
	trunc = m.Hdr.Flags&unix.MSG_TRUNC != 0 || int(m.Len) >= b.size
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		from = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		a := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.Scope_id != 0 && a.Is6() {
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		from = netip.AddrPortFrom(a, port)
	}
	return data, trunc, from
}
