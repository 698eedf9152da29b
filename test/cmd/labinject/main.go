// Command labinject attacks a lab pair's heartbeat multicast group from a
// lab host, for the e2e tests of packet authentication: it sends forged
// heartbeats (signed with a key the cluster does not have) or captures real
// ones and sends them again (replays). Bounded in count and time; only
// multicast groups and unicast addresses of the lab (198.18.0.0/15) are
// accepted.
//
//	labinject -mode forge  -group 239.255.0.94:694 -iface eth0 -cluster 42 -sender lb2 -count 20
//	labinject -mode replay -group 239.255.0.94:694 -iface eth0 -count 20
//
// With -rate and -duration it floods: the count packets are sent over and
// over at rate packets/s (at most 20,000) for duration (at most 2m), for the
// chaos suite's hostile-traffic scenario:
//
//	labinject -mode forge -group 198.18.1.11:694 -sender lb2 -cluster 15 -rate 10000 -duration 60s
//
// A replay needs a multicast group to capture from (-capture, default the
// -group when it is one). It prints "labinject: MODE: sent N packets ...";
// exit 0 when every packet went out, 1 otherwise.
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
	count := flag.Int("count", 10, "packets to send (1..1000); with -rate, distinct packets cycled")
	rate := flag.Int("rate", 0, "flood: packets per second (1..20000; 0 = send count packets 5ms apart)")
	duration := flag.Duration("duration", 0, "flood: how long (at most 2m)")
	captureFlag := flag.String("capture", "", "replay: multicast group:port to capture from (default -group)")
	flag.Parse()
	fl := flood{rate: *rate, duration: *duration, capture: *captureFlag}
	if err := run(*mode, *groupFlag, *iface, uint32(*cluster), *sender, *groupName, *count, fl); err != nil {
		fmt.Fprintf(os.Stderr, "labinject: %v\n", err)
		os.Exit(1)
	}
}

// flood shapes a flood; the zero value sends each packet once.
type flood struct {
	rate     int
	duration time.Duration
	capture  string
}

var labNet = netip.MustParsePrefix("198.18.0.0/15")

func run(mode, groupAddr, ifname string, cluster uint32, sender, groupName string, count int, fl flood) error {
	dst, err := netip.ParseAddrPort(groupAddr)
	if err != nil || !(dst.Addr().IsMulticast() || labNet.Contains(dst.Addr())) {
		return fmt.Errorf("-group %q: want a multicast group:port or a lab address (198.18.0.0/15)", groupAddr)
	}
	if count < 1 || count > 1000 {
		return fmt.Errorf("-count %d: want 1..1000", count)
	}
	if fl.rate < 0 || fl.rate > 20000 || fl.duration < 0 || fl.duration > 2*time.Minute || (fl.rate > 0) != (fl.duration > 0) {
		return fmt.Errorf("-rate %d -duration %v: want both or neither, rate 1..20000, duration at most 2m", fl.rate, fl.duration)
	}
	capture := dst
	if fl.capture != "" {
		if capture, err = netip.ParseAddrPort(fl.capture); err != nil || !capture.Addr().IsMulticast() {
			return fmt.Errorf("-capture %q: want a multicast group:port", fl.capture)
		}
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	port := uint16(0) // forged packets need no fixed source port
	if mode == "replay" {
		port = capture.Port() // replays are captured on the group's port
	}
	c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
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
	if err := pc.SetTTL(255); err != nil { // unicast targets (the ucast link)
		return err
	}
	// Another labinject on this host capturing for a replay must hear the
	// cluster's heartbeats, not these.
	if err := pc.SetMulticastLoopback(false); err != nil {
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
		if !capture.Addr().IsMulticast() {
			return fmt.Errorf("replay to %v: give -capture, a multicast group to capture from", dst)
		}
		if packets, err = captureGroup(pc, ifi, capture, count); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-mode %q: want forge or replay", mode)
	}
	to := &net.UDPAddr{IP: dst.Addr().AsSlice(), Port: int(dst.Port())}
	if fl.rate > 0 {
		return sendFlood(pc, to, packets, fl, mode, ifname)
	}
	for _, b := range packets {
		if _, err := pc.WriteTo(b, nil, to); err != nil {
			return fmt.Errorf("sending to %v: %w", to, err)
		}
		time.Sleep(5 * time.Millisecond) // pace, so receivers' queues see each one
	}
	fmt.Printf("labinject: %s: sent %d packets to %v on %s\n", mode, len(packets), dst, ifname)
	return nil
}

// sendFlood sends packets round-robin at fl.rate for fl.duration, in a
// burst every millisecond so the rate holds without a timer per packet.
func sendFlood(pc *ipv4.PacketConn, to *net.UDPAddr, packets [][]byte, fl flood, mode, ifname string) error {
	start := time.Now()
	sent, errs := 0, 0
	var firstErr error
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for now := start; now.Sub(start) < fl.duration; now = <-tick.C {
		due := int(float64(fl.rate) * now.Sub(start).Seconds())
		for ; sent < due; sent++ {
			if _, err := pc.WriteTo(packets[sent%len(packets)], nil, to); err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
			}
		}
	}
	took := time.Since(start)
	fmt.Printf("labinject: %s: sent %d packets to %v on %s in %v (%.0f/s), %d send errors\n",
		mode, sent-errs, to, ifname, took.Round(time.Millisecond), float64(sent-errs)/took.Seconds(), errs)
	if firstErr != nil {
		return fmt.Errorf("sending to %v: %d errors, first: %w", to, errs, firstErr)
	}
	return nil
}

// captureGroup joins the group and keeps the first count heartbeats heard,
// waiting at most 10 s.
func captureGroup(pc *ipv4.PacketConn, ifi *net.Interface, dst netip.AddrPort, count int) ([][]byte, error) {
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
