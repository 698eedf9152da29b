package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// The pair's timing: DESIGN.md's crash-failover numbers are stated for
// keepalive 50ms / deadtime 200ms.
const (
	keepalive = 50 * time.Millisecond
	deadtime  = 200 * time.Millisecond
	initdead  = 2 * time.Second
)

// The service the client probes: the balancer in HTTP mode on the VIP,
// forwarding to labsrv on both backends.
var (
	vip     = lab.VIP
	service = netip.AddrPortFrom(vip, lab.LabsrvHTTPPort)
)

const group = "web"

const authkeys = "auth 1\n1 sha256 hapair-demo-secret-not-for-production\n"

// config is node h's had.toml: the same on both nodes but for the socket
// and state directory, which live in the host's own directory. Two
// heartbeat links: multicast on the LAN and unicast on the heartbeat LAN.
func config(l *lab.Lab, h *lab.Host) string {
	lb1, lb2 := l.Host("lb1").HBAddr, l.Host("lb2").HBAddr
	cluster := scenario.Cluster{Name: "demo", ID: 7, Keepalive: keepalive, Warntime: (keepalive + deadtime) / 2, Deadtime: deadtime, Initdead: initdead,
		Keys: "auto_failback = false\n", Dir: h.Dir, Socket: h.HadSocket()}
	return fmt.Sprintf(`%s
%s
%s[[group]]
name = "%s"
preferred = "lb1"
resources = [
  { kind = "balancer", services = ["http"] },
  { kind = "vip", address = "%s/24", interface = "eth0" },
]

%s`, cluster, scenario.GARP, scenario.Links(fmt.Sprintf("lb1 = %q, lb2 = %q", lb1, lb2)), group, vip, httpService)
}

// httpService is the balancer in HTTP mode on the VIP, forwarding to
// labsrv on both backends, checked like ldirectord's negotiate.
var httpService = scenario.Service{Name: "http", Keys: "protocol = \"tcp\"\nmode = \"http\"\n", Port: lab.LabsrvHTTPPort,
	Check: `type = "negotiate", request = "/status", receive = "^ok"`}.String()
