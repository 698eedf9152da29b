package link

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/ha/wire"
)

// batchSize is how many datagrams one recvmmsg(2) reads: a flood of 10,000
// packets/s per link is read in a few hundred system calls a second.
const batchSize = 32

// batch reads up to batchSize datagrams with one recvmmsg(2), into buffers
// allocated once: reading a packet, its source and its TTL allocates
// nothing, so a flood of forged packets costs the system calls and a MAC
// each, not garbage.
type batch struct {
	msgs  [batchSize]unix.Mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet4
	// One byte more than the largest packet, so an oversized datagram is
	// seen as such instead of silently truncated to a valid length.
	bufs [batchSize][wire.MaxPacketSize + 1]byte
	oobs [batchSize][64]byte // room for the IP_TTL control message
}

func newBatch() *batch {
	b := new(batch)
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = &b.oobs[i][0]
	}
	return b
}

// read reads what is queued on fd without waiting: the number of datagrams,
// or unix.EAGAIN when there are none.
func (b *batch) read(fd int) (int, error) {
	for i := range b.msgs {
		h := &b.msgs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet4
		h.SetControllen(len(b.oobs[i]))
		h.Flags = 0
		b.msgs[i].Len = 0
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.msgs[0])),
			batchSize, unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// datagram returns the i-th datagram read: its bytes (one past
// wire.MaxPacketSize when it was longer), its TTL (-1 when the kernel gave
// none) and its source.
func (b *batch) datagram(i int) (data []byte, ttl int, src netip.AddrPort) {
	m := &b.msgs[i]
	data = b.bufs[i][:m.Len]
	if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
		data = b.bufs[i][:] // too long: keep it too long for wire's size check
	}
	sa := &b.names[i]
	if sa.Family == unix.AF_INET {
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		src = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
	}
	return data, controlTTL(b.oobs[i][:m.Hdr.Controllen]), src
}

// controlTTL finds the IP_TTL control message (IP_RECVTTL, ip(7)) in oob
// without allocating; -1 when there is none.
func controlTTL(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			return -1
		}
		if h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && int(h.Len) >= unix.CmsgLen(4) {
			return int(int32(binary.NativeEndian.Uint32(oob[unix.CmsgLen(0):])))
		}
		next := unix.CmsgSpace(int(h.Len) - unix.CmsgLen(0))
		if next > len(oob) {
			return -1
		}
		oob = oob[next:]
	}
	return -1
}
