package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// The Ultra Monkey setup of shared/seeds/004 (Heartbeat ha.cf, haresources
// and authkeys, ldirectord.cf with an HTTP and a SIP service, masq reals,
// LVSSyncDaemonSwap), its addresses moved into the lab: the VIP is the
// lab's, the reals are backend1 and backend2.
var ultraMonkey = map[string]string{
	"ha.cf": `# What interfaces to broadcast heartbeats over?
mcast eth0 225.0.0.1 694 1 0
auto_failback off
node lb1
node lb2
`,
	"haresources": `lb1 \
LVSSyncDaemonSwap::master \
ldirectord::ldirectord.cf \
IPaddr2::198.18.0.100/24/eth0
`,
	"authkeys": "auth 1\n1 sha1 the-ultra-monkey-example-secret\n",
	"ldirectord.cf": `checktimeout=1
checkinterval=1
autoreload=yes
logfile="/var/log/ldirectord.log"
quiescent=no
virtual=198.18.0.100:80
	real=198.18.0.21:80 masq 1
	real=198.18.0.22:80 masq 1
	service=http
	request="status"
	receive="ok"
	scheduler=rr
	protocol=tcp
	checktype=negotiate
virtual=198.18.0.100:5060
	real=198.18.0.21:5060 masq 1
	real=198.18.0.22:5060 masq 1
	service=sip
	scheduler=rr
	protocol=udp
	checktype=negotiate
	persistent=1
`,
}

// Test: `hactl import heartbeat` turns the Ultra Monkey files into a
// had.toml that runs as a pair: lb1 serves HTTP and SIP on the VIP (masq
// became hapair's kernel nat), and when lb1 crashes lb2 takes the VIP and
// serves both.
func TestImportedUltraMonkeyFailsOver(t *testing.T) {
	p := newPair(t, pairOptions{})
	// As the article says: the directors forward, and "the application
	// nodes need to have their default gateway stated as ... the virtual
	// IP" (LVS-NAT reals answer through the director).
	p.natGateway("")
	dir := t.TempDir()
	for name, body := range ultraMonkey {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "had.toml")
	cmd := exec.Command(p.bins.Hactl, "import", "heartbeat", dir, "-o", out)
	msgs, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hactl import heartbeat: %v\n%s", err, msgs)
	}
	t.Logf("import warnings:\n%s", msgs)
	imported, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"lb1", "lb2"} {
		h := p.lab.Host(node)
		p.had[node] = h.StartHad(p.bins, labConfig(t, string(imported), h), ultraMonkey["authkeys"])
		lab.Eventually(t, 10*time.Second, node+" answers hactl status", func() error {
			_, err := p.status(node)
			return err
		})
	}
	const group = "vip-198.18.0.100"
	waitMaster := func(node string) {
		lab.Eventually(t, 15*time.Second, node+" alone holds the VIP and is master of "+group, func() error { return p.soleMaster(node, group) })
	}
	served := func(when string) {
		for _, target := range []struct{ addr, proto string }{{vipHTTP.String(), "http"}, {vip.String() + ":5060", "udp"}} {
			lab.Eventually(t, 10*time.Second, "the client is served "+target.proto+" on "+target.addr+" "+when, func() error {
				o := probeOpts(5, 20*time.Millisecond)
				o.Proto = target.proto
				_, err := p.lab.Probe(p.bins, "client", target.addr, o)
				return err
			})
		}
	}
	waitMaster("lb1")
	served("by lb1")
	p.crashOwner("lb1")
	waitMaster("lb2")
	served("by lb2 after lb1 crashed")
}

// labConfig adapts the imported config to one lab host: its control socket
// and state directory live in the host's directory. LVSSyncDaemonSwap must
// not have become an ipvs-sync resource: hapair forwards these services on
// nftables, so there is no IPVS table to sync (and this kernel has no IPVS).
func labConfig(t *testing.T, imported string, h *lab.Host) string {
	t.Helper()
	var b strings.Builder
	if strings.Contains(imported, `kind = "ipvs-sync"`) {
		t.Fatalf("LVSSyncDaemonSwap::master was imported as an ipvs-sync resource:\n%s", imported)
	}
	for _, line := range strings.SplitAfter(imported, "\n") {
		b.WriteString(line)
		if strings.HasPrefix(line, "[cluster]") {
			fmt.Fprintf(&b, "state_dir = %q\nsocket = %q\n", filepath.Join(h.Dir, "state"), h.HadSocket())
		}
	}
	if strings.Count(imported, `method = "nat"`) != 2 {
		t.Fatalf("the import does not forward both masq services with method nat:\n%s", imported)
	}
	return b.String()
}
