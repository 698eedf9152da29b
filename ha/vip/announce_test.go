package vip

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"
)

// redirectConn sends every frame to one loopback UDP address, whatever the
// arp client addresses it to, so the test reads the exact bytes.
type redirectConn struct {
	net.PacketConn
	to net.Addr
}

func (c redirectConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	return c.PacketConn.WriteTo(b, c.to)
}

func TestARPSenderBytes(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("skipping: no loopback interface: %v", err)
	}
	rx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A copy of lo with a made-up MAC: arp.New needs the interface's IPv4
	// address (lo has 127.0.0.1) and a hardware address to send from.
	ifi := *lo
	ifi.HardwareAddr = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	s, err := NewARPSender(&ifi, redirectConn{tx, rx.LocalAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(netip.MustParseAddr("198.18.0.100"), FormBoth); err != nil {
		t.Fatal(err)
	}
	const (
		eth    = "ffffffffffff" + "02005e000001" + "0806"
		arpHdr = "0001" + "0800" + "06" + "04"
		sender = "02005e000001" + "c6120064"            // our MAC, the VIP
		target = "ffffffffffff" + "c6120064"            // broadcast, the VIP
		pad    = "000000000000000000000000000000000000" // to the 60-byte minimum frame
	)
	for _, want := range []string{
		eth + arpHdr + "0001" + sender + target + pad, // request
		eth + arpHdr + "0002" + sender + target + pad, // reply
	} {
		rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1500)
		n, _, err := rx.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(buf[:n]); got != want {
			t.Errorf("frame =\n%s\nwant\n%s", got, want)
		}
	}
	if err := s.Send(netip.MustParseAddr("2001:2::1"), FormBoth); err == nil || !strings.Contains(err.Error(), "not an IPv4 address") {
		t.Errorf("Send(2001:2::1) = %v, want not an IPv4 address", err)
	}
}

func TestNeighborAdvert(t *testing.T) {
	target := netip.MustParseAddr("2001:2::100")
	hw := net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	got, err := NeighborAdvert(target, hw, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "88" + "00" + "0000" + // type 136, code 0, checksum left to the kernel
		"20000000" + // Override flag only
		"20010002000000000000000000000100" + // target = the VIP
		"0201" + "02005e000001" // target link-layer address option
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("NeighborAdvert() =\n%s\nwant\n%s", h, want)
	}

	// With a pseudo header the checksum must verify.
	psh := icmp.IPv6PseudoHeader(target.AsSlice(), allNodes.AsSlice())
	withSum, err := NeighborAdvert(target, hw, psh)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(withSum[4:], got[4:]) {
		t.Errorf("checksummed body differs from plain body")
	}
	// Marshal fills the upper-layer length into its own copy of psh.
	full := append(append([]byte{}, psh...), withSum...)
	binary.BigEndian.PutUint32(full[32:36], uint32(len(withSum)))
	if sum := onesComplement(full); sum != 0xffff {
		t.Errorf("checksum over pseudo header + message = %#04x, want 0xffff", sum)
	}

	if _, err := NeighborAdvert(netip.MustParseAddr("198.18.0.1"), hw, nil); err == nil || !strings.Contains(err.Error(), "not an IPv6 address") {
		t.Errorf("NeighborAdvert(198.18.0.1) = %v, want not an IPv6 address", err)
	}
	if _, err := NeighborAdvert(target, nil, nil); err == nil || !strings.Contains(err.Error(), "is not 6 bytes") {
		t.Errorf("NeighborAdvert(no hw) = %v, want not 6 bytes", err)
	}
}

func onesComplement(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestParseForm(t *testing.T) {
	for in, want := range map[string]Form{"": FormBoth, "both": FormBoth, "request": FormRequest, "Reply": FormReply} {
		if got, err := ParseForm(in); err != nil || got != want {
			t.Errorf("ParseForm(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseForm("gratuitous"); err == nil || err.Error() != `vip: garp form "gratuitous": want request, reply or both` {
		t.Errorf("ParseForm(gratuitous) = %v", err)
	}
}
