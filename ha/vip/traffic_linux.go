package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ListenTraffic is the production Confirmer: a packet socket (AF_PACKET,
// CAP_NET_RAW) on l whose BPF filter passes only IPv4 packets addressed
// to ip that arrive at this host's MAC, so nothing else is copied to user
// space: a client or router whose neighbour entry moved to us. It returns at the first one.
//
// The socket taps every protocol (ETH_P_ALL) and its filter checks the
// EtherType itself: Linux hands a frame to ETH_P_ALL taps before the
// netdev ingress hook and to per-protocol (ETH_P_IP) sockets only after
// it (__netif_receive_skb_core), and a dr service (proxy/nft) forwards and
// drops the VIP's frames at that hook, so an ETH_P_IP socket never saw
// them and a busy dr VIP was reported as getting no traffic.
func ListenTraffic(ctx context.Context, l Link, ip netip.Addr) (time.Time, error) {
	if !ip.Is4() {
		return time.Time{}, fmt.Errorf("vip: watching traffic for %s: IPv4 only", ip)
	}
	filter, err := bpf.Assemble(trafficFilter(ip))
	if err != nil {
		return time.Time{}, fmt.Errorf("vip: assembling the traffic filter for %s: %w", ip, err)
	}
	c, err := packet.Listen(&net.Interface{Index: l.Index, Name: l.Name}, packet.Raw, unix.ETH_P_ALL, &packet.Config{Filter: filter})
	if err != nil {
		return time.Time{}, fmt.Errorf("vip: watching traffic for %s on %q: %w", ip, l.Name, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 64)
	for {
		_, _, err := c.ReadFrom(buf)
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if err == nil {
			return time.Now(), nil
		}
		if !errors.Is(err, unix.EINTR) {
			return time.Time{}, fmt.Errorf("vip: watching traffic for %s on %q: %w", ip, l.Name, err)
		}
	}
}

// trafficFilter passes Ethernet frames addressed to this host's MAC
// (packet type PACKET_HOST: not a frame a switch flooded towards the old
// owner's MAC, nor one this host sent) carrying IPv4 (the socket takes
// every protocol, see ListenTraffic) whose destination address (offset 14 + 16) is ip.
func trafficFilter(ip netip.Addr) []bpf.Instruction {
	dst := binary.BigEndian.Uint32(ip.AsSlice())
	return []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.PACKET_HOST, SkipTrue: 5},
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.ETH_P_IP, SkipTrue: 3},
		bpf.LoadAbsolute{Off: 30, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: dst, SkipTrue: 1},
		bpf.RetConstant{Val: 64},
		bpf.RetConstant{Val: 0},
	}
}
