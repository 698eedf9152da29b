package node

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// TCP states as /proc/net/tcp prints them (linux include/net/tcp_states.h).
const (
	tcpSynRecv = 0x03
	tcpListen  = 0x0a
)

// parseQueued reads a /proc/net/tcp or tcp6 table (proc(5)) and counts
// the connections to vips no process has accepted yet: a listener's
// rx_queue is its accept queue (sk_ack_backlog), and each SYN_RECV line
// is a handshake under way. A listener on an unspecified address counts
// for every VIP on its port.
func parseQueued(b []byte, vips []netip.AddrPort) (int, error) { return parseQueues(b, vips, true) }

// parseQueues is parseQueued, counting the handshakes under way only
// when handshakes is set (the accept queues alone otherwise).
func parseQueues(b []byte, vips []netip.AddrPort, handshakes bool) (int, error) {
	lines := bytes.Split(b, []byte("\n"))
	total := 0
	for i, l := range lines[1:] { // the first line is the header
		f := strings.Fields(string(l))
		if len(f) < 5 {
			continue
		}
		local, err := procAddrPort(f[1])
		if err != nil {
			return 0, fmt.Errorf("line %d: local_address %q: %w", i+2, f[1], err)
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("line %d: st %q: %w", i+2, f[3], err)
		}
		switch st {
		case tcpSynRecv:
			if handshakes && matchesVIP(local, vips, false) {
				total++
			}
		case tcpListen:
			if !matchesVIP(local, vips, true) {
				continue
			}
			_, rx, ok := strings.Cut(f[4], ":")
			q, err := strconv.ParseUint(rx, 16, 32)
			if !ok || err != nil {
				return 0, fmt.Errorf("line %d: tx_queue:rx_queue %q is not two hex numbers", i+2, f[4])
			}
			total += int(q)
		}
	}
	return total, nil
}

func matchesVIP(a netip.AddrPort, vips []netip.AddrPort, wildcard bool) bool {
	for _, v := range vips {
		if a.Port() == v.Port() && (a.Addr().Unmap() == v.Addr().Unmap() || wildcard && a.Addr().IsUnspecified()) {
			return true
		}
	}
	return false
}

// procAddrPort decodes "0100007F:0050": the address as the kernel's
// 32-bit words in host byte order (one for IPv4, four for IPv6), then the
// port in hex.
func procAddrPort(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	raw, err := hex.DecodeString(h)
	if err != nil || len(raw) != 4 && len(raw) != 16 {
		return netip.AddrPort{}, fmt.Errorf("address is not 8 or 32 hex digits")
	}
	var b [16]byte
	for w := 0; w < len(raw)/4; w++ {
		binary.NativeEndian.PutUint32(b[4*w:], binary.BigEndian.Uint32(raw[4*w:]))
	}
	if len(raw) == 4 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(port)), nil
	}
	return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(port)), nil
}
