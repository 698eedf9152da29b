// Command labinject attacks a lab pair's heartbeat multicast group from a
// lab host, for the e2e tests of packet authentication: it sends forged
// heartbeats (signed with a key the cluster does not have) or captures real
// ones and sends them again (replays). Bounded in count and time; only
// multicast groups (heartbeats stay on the lab LAN) are accepted.
//
//	labinject -mode forge  -group 239.255.0.94:694 -iface eth0 -cluster 42 -sender lb2 -count 20
//	labinject -mode replay -group 239.255.0.94:694 -iface eth0 -count 20
//
// It prints what it sent; exit 0 when every packet went out, 1 otherwise.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hapair/hapair/ha/wire"
)

// wrongKey signs forged packets: the right format, the wrong secret.
type wrongKey struct{}

func (wrongKey) Sign(msg []byte) (uint8, []byte) {
	m := hmac.New(sha256.New, []byte("not-the-cluster-secret"))
	m.Write(msg)
	return 1, m.Sum(nil)
}

// masterState is package ha's StateMaster on the wire; a forged packet
// claims the group with the highest priority, the worst lie it can tell.
const masterState = 3

func main() {
	mode := flag.String("mode", "", "forge or replay")
	groupFlag := flag.String("group", "239.255.0.94:694", "heartbeat multicast group:port")
	iface := flag.String("iface", "eth0", "interface to send and capture on")
	cluster := flag.Uint("cluster", 0, "forge: cluster id to claim")
	sender := flag.String("sender", "", "forge: node name to impersonate")
	groupName := flag.String("resource-group", "web", "forge: resource group to claim")
	count := flag.Int("count", 10, "packets to send (1..1000)")
	flag.Parse()
	if err := run(*mode, *groupFlag, *iface, uint32(*cluster), *sender, *groupName, *count); err != nil {
		fmt.Fprintf(os.Stderr, "labinject: %v\n", err)
		os.Exit(1)
	}
}

func run(mode, groupAddr, ifname string, cluster uint32, sender, groupName string, count int) error {
	dst, err := netip.ParseAddrPort(groupAddr)
	if err != nil || !dst.Addr().IsMulticast() {
		return fmt.Errorf("-group %q: want a multicast group:port", groupAddr)
	}
	if count < 1 || count > 1000 {
		return fmt.Errorf("-count %d: want 1..1000", count)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", dst.Port()))
	if err != nil {
		return err
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetMulticastInterface(ifi); err != nil {
		return err
	}
	// TTL 255 so the packets pass the receivers' GTSM check and are judged
	// on their MAC and sequence numbers, which is what the test is about.
	if err := pc.SetMulticastTTL(255); err != nil {
		return err
	}
	var packets [][]byte
	switch mode {
	case "forge":
		for i := range count {
			b, err := wire.Seal(&wire.Packet{
				ClusterID: cluster, Sender: sender, Generation: 1 << 40, Seq: uint64(i + 1),
				Keepalive: 100 * time.Millisecond,
				Groups:    []wire.Group{{Name: groupName, Priority: 255, State: masterState}},
			}, wrongKey{})
			if err != nil {
				return err
			}
			packets = append(packets, b)
		}
	case "replay":
		if packets, err = capture(pc, ifi, dst, count); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-mode %q: want forge or replay", mode)
	}
	to := &net.UDPAddr{IP: dst.Addr().AsSlice(), Port: int(dst.Port())}
	for _, b := range packets {
		if _, err := pc.WriteTo(b, nil, to); err != nil {
			return fmt.Errorf("sending to %v: %w", to, err)
		}
		time.Sleep(5 * time.Millisecond) // pace, so receivers' queues see each one
	}
	fmt.Printf("labinject: %s: sent %d packets to %v on %s\n", mode, len(packets), dst, ifname)
	return nil
}

// capture joins the group and keeps the first count heartbeats heard,
// waiting at most 10 s.
func capture(pc *ipv4.PacketConn, ifi *net.Interface, dst netip.AddrPort, count int) ([][]byte, error) {
	if err := pc.JoinGroup(ifi, &net.UDPAddr{IP: dst.Addr().AsSlice()}); err != nil {
		return nil, err
	}
	defer pc.LeaveGroup(ifi, &net.UDPAddr{IP: dst.Addr().AsSlice()})
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out [][]byte
	buf := make([]byte, 65536)
	for len(out) < count {
		n, _, _, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("captured %d of %d heartbeats in 10s", len(out), count)
			}
			return nil, err
		}
		out = append(out, append([]byte(nil), buf[:n]...))
	}
	// Send them late: by now the receivers have accepted newer ones.
	time.Sleep(300 * time.Millisecond)
	return out, nil
}
