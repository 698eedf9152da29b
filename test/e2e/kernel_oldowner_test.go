package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// The old owner of a nat group after a planned switchover: the tests
// here make the race of a move wide instead of rare, the window in which
// the client's segments already reach the new owner while the reals'
// replies still reach the old one (or the reverse, on a take-back).

// natDiag counts, on a balancer node, the packets of the stream's
// connections: from the reals in the forward hook by conntrack state
// (before postrouting translates a reply's source back to the VIP), and
// leaving toward the client after the translation, with the VIP's
// address or with a real's own (the packet the client resets). It is the
// test's own table, `inet hpdiag`, removed at cleanup.
type natDiag struct {
	h *lab.Host
}

const diagTable = "hpdiag"

// natStreamPair starts a kernel pair with the nat diagnostics table on
// node and a counter stream through the VIP that has echoed 100 lines.
func natStreamPair(t *testing.T, node string) (*pair, *natDiag, *stream) {
	t.Helper()
	p := kernelPair(t)
	d := installNATDiag(t, p, node)
	s := dialStream(t, p)
	if err := s.run(100); err != nil {
		t.Fatalf("before the switchover: %v", err)
	}
	return p, d, s
}

func installNATDiag(t *testing.T, p *pair, node string) *natDiag {
	t.Helper()
	h := p.lab.Host(node)
	var reals []string
	for _, b := range p.lab.Backends() {
		reals = append(reals, b.Addr.String())
	}
	rs, client := strings.Join(reals, ", "), p.lab.Client().Addr
	script := fmt.Sprintf(`table inet %[1]s {
	chain diagfwd {
		type filter hook forward priority 0; policy accept;
		ip saddr { %[2]s } tcp sport 9000 ct state invalid counter comment "real-invalid"
		ip saddr { %[2]s } tcp sport 9000 ct state established counter comment "real-established"
		ip saddr %[3]s tcp dport 9000 ct state invalid counter comment "client-invalid"
		ip saddr %[3]s tcp dport 9000 ct state established counter comment "client-established"
	}
	chain diagpost {
		type filter hook postrouting priority 200; policy accept;
		ip daddr %[3]s ip saddr %[4]s tcp sport 9000 counter comment "to-client-as-vip"
		ip daddr %[3]s ip saddr { %[2]s } tcp sport 9000 counter comment "to-client-as-real"
	}
}
`, diagTable, rs, client, vip)
	h.Sh(t, "nft -f - <<'EOF'\n"+script+"EOF")
	t.Cleanup(func() { h.RunFor(5*time.Second, "nft", "delete", "table", "inet", diagTable) })
	return &natDiag{h: h}
}

var diagCounter = regexp.MustCompile(`counter packets (\d+) bytes \d+ comment "([a-z-]+)"`)

// read returns the counters by name, and conntrack's invalid count of
// the node's namespace (conntrack -S, every CPU) as "conntrack-invalid".
func (d *natDiag) read(t *testing.T) map[string]int64 {
	t.Helper()
	out, err := d.h.RunFor(5*time.Second, "nft", "list", "table", "inet", diagTable)
	if err != nil {
		t.Fatalf("%s: reading the diagnostic counters: %v: %s", d.h.Name, err, out)
	}
	got := map[string]int64{}
	for _, m := range diagCounter.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		got[m[2]] = n
	}
	if out, err := d.h.RunFor(5*time.Second, "conntrack", "-S"); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if v, ok := strings.CutPrefix(f, "invalid="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				got["conntrack-invalid"] += n
			}
		}
	}
	return got
}

// since returns the counters' growth from before.
func since(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// pinGateway makes the reals send to the VIP's address through node's
// MAC whatever the ARP says (a permanent neighbour entry, which a
// gratuitous ARP does not override): the reals whose ARP cache is slow to
// follow the new owner, made as slow as the test wants. unpinGateway
// deletes the entry; the next packet resolves the VIP again.
func pinGateway(t *testing.T, p *pair, node string) {
	t.Helper()
	mac := p.lab.Host(node).MAC("eth0")
	for _, b := range p.lab.Backends() {
		b.Sh(t, fmt.Sprintf("ip neigh replace %s lladdr %s dev eth0 nud permanent", vip, mac))
	}
}

func unpinGateway(t *testing.T, p *pair) {
	t.Helper()
	for _, b := range p.lab.Backends() {
		b.Sh(t, fmt.Sprintf("ip neigh del %s dev eth0", vip))
	}
}

// waitCounter waits until counter name of d has grown by at least n
// from before, the packets of live stream s. A stream that broke sends
// no more packets: that fails the test at once with the stream's error
// and every counter of d (CI once read "0 so far" for 2 s of a stream
// reset before the wait began).
func waitCounter(t *testing.T, d *natDiag, s *stream, before map[string]int64, name string, n int64, timeout time.Duration) {
	t.Helper()
	what := fmt.Sprintf("%s counts %d more %s packets", d.h.Name, n, name)
	var broke error
	_, err := lab.WaitFor(timeout, func() error {
		if broke = s.broken(); broke != nil {
			return nil
		}
		if got := d.read(t)[name] - before[name]; got < n {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
	if broke != nil {
		t.Fatalf("%s: the stream broke: %v; on %s meanwhile: %v", what, broke, d.h.Name, since(before, d.read(t)))
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// moveTimes is a planned move as the two nodes' status tells it: when
// the command was given (the old owner's NAT linger begins soon after,
// once its VIP has gone), when the old owner had released the group
// (after conntrack-sync's steps), and the new owner's takeover timeline.
type moveTimes struct {
	Command, Released              time.Time
	Started, Running, FirstARP     time.Time
	LingerLeftAtARP, ReleasedToARP time.Duration
	oldNode, newNode               string
}

type timelineStatus struct {
	Groups []struct {
		Name         string    `json:"name"`
		Since        time.Time `json:"since"`
		LastTakeover *struct {
			Started  time.Time `json:"started"`
			Running  time.Time `json:"running"`
			FirstARP time.Time `json:"first_arp"`
		} `json:"last_takeover"`
	} `json:"groups"`
}

// moveTimeline reads the move of group web from oldNode to newNode,
// commanded at cmd. LingerLeftAtARP is at most what is left of the old
// owner's NAT linger (2 s, from a moment after cmd) when the new owner's
// first gratuitous ARP leaves.
func moveTimeline(t *testing.T, p *pair, oldNode, newNode string, cmd time.Time) moveTimes {
	t.Helper()
	var o, n timelineStatus
	if err := p.statusInto(oldNode, &o); err != nil {
		t.Fatal(err)
	}
	if err := p.statusInto(newNode, &n); err != nil {
		t.Fatal(err)
	}
	m := moveTimes{oldNode: oldNode, newNode: newNode, Command: cmd}
	for _, g := range o.Groups {
		if g.Name == "web" {
			m.Released = g.Since
		}
	}
	for _, g := range n.Groups {
		if g.Name == "web" && g.LastTakeover != nil {
			m.Started, m.Running, m.FirstARP = g.LastTakeover.Started, g.LastTakeover.Running, g.LastTakeover.FirstARP
		}
	}
	if !m.Released.IsZero() && !m.FirstARP.IsZero() {
		m.ReleasedToARP = m.FirstARP.Sub(m.Released)
		m.LingerLeftAtARP = 2*time.Second - m.FirstARP.Sub(cmd)
	}
	return m
}

func (m moveTimes) String() string {
	return fmt.Sprintf("move commanded at %s; %s released %v later; %s started %+v after that, running %+v, first gratuitous ARP %+v (%s's NAT linger has at most %v left then)",
		m.Command.UTC().Format("15:04:05.000"), m.oldNode, m.Released.Sub(m.Command).Round(time.Millisecond), m.newNode,
		m.Started.Sub(m.Released).Round(time.Millisecond), m.Running.Sub(m.Released).Round(time.Millisecond),
		m.ReleasedToARP.Round(time.Millisecond), m.oldNode, m.LingerLeftAtARP.Round(time.Millisecond))
}

// TestKernelNATRepliesThroughOldOwner: after a planned switchover the
// client's segments reach the new owner (its gratuitous ARP) while the
// reals' replies still reach the old one (their ARP caches pinned to
// lb1 here, for as long as it takes lb1 to forward 20 of them). lb1 must
// go on translating those replies during its NAT linger: conntrack's
// strict window tracking of lb1's own entries found such a reply invalid
// (it acknowledges data lb1 never saw), lb1 forwarded it with the real's
// own address and the client reset the connection.
func TestKernelNATRepliesThroughOldOwner(t *testing.T) {
	p, d1, s := natStreamPair(t, "lb1")
	pinGateway(t, p, "lb1")
	stop := s.live()
	waitSynced(t, p, s)
	atMove := d1.read(t)
	start := time.Now()
	p.hactl("lb1", "standby", "web")
	released := time.Since(start)
	p.waitHolds("lb2", 5*time.Second)
	took := time.Since(start)
	lab.Eventually(t, 2*time.Second, "the client sends to lb2", func() error {
		got, err := p.lab.NeighMAC("client", vip)
		if err != nil || got.String() != p.lab.Host("lb2").MAC("eth0").String() {
			return fmt.Errorf("client's neighbour entry for the VIP: %v %v", got, err)
		}
		return nil
	})
	before := d1.read(t)
	// 20 replies through lb1 while the client sends to lb2: 200 ms of
	// the stream, well inside lb1's 2 s linger.
	_, waitErr := lab.WaitFor(time.Second, func() error {
		if got := d1.read(t)["real-established"] - before["real-established"]; got < 20 {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
	during := since(atMove, d1.read(t))
	unpinGateway(t, p)
	err := stop(100)
	t.Logf("hactl standby returned after %v (lb1 released), lb2 master after %v; %v; on lb1 from the move on: %v",
		released.Round(time.Millisecond), took.Round(time.Millisecond), moveTimeline(t, p, "lb1", "lb2", start), during)
	if err != nil {
		t.Fatalf("the connection broke while the reals' replies went through the old owner: %v", err)
	}
	if waitErr != nil {
		t.Errorf("lb1 did not forward 20 established replies of the reals while they went through it: %v", waitErr)
	}
	if during["to-client-as-real"] != 0 {
		t.Errorf("lb1 sent %d of the reals' replies to the client with the real's own address", during["to-client-as-real"])
	}
}

// TestKernelNATTakeBack: the group moves to lb2 and back to lb1 within
// conntrackd's PurgeTimeout (5 s), so lb1 still holds its own conntrack
// entries of the stream, with the windows it last saw before lb2 carried
// the stream, when it commits lb2's (conntrackd updates an entry that
// exists). The stream must go on through lb1 from where lb2 left it, and
// the flush lb1's release scheduled must not remove lb1's entries after
// the take-back.
func TestKernelNATTakeBack(t *testing.T) {
	p, d2, s := natStreamPair(t, "lb2")
	// lb1's conntrack events for the stream: its entry must live through
	// the take-back (conntrackd's commit cancels the flush its release
	// scheduled, sync-mode.c local_commit).
	events := p.lab.Host("lb1").Start([]string{"stdbuf", "-oL", "conntrack", "-E", "-o", "timestamp", "-p", "tcp", "--dport", "9000"})
	port := s.c.LocalAddr().(*net.TCPAddr).Port
	stop := s.live()
	waitSynced(t, p, s)
	start := time.Now()
	p.hactl("lb1", "standby", "web")
	p.waitHolds("lb2", 5*time.Second)
	// The stream through lb2 for a while: 50 of the reals' replies.
	before := d2.read(t)
	waitCounter(t, d2, s, before, "real-established", 50, 2*time.Second)
	back := time.Now()
	p.hactl("lb1", "takeover", "web")
	p.waitHolds("lb1", 5*time.Second)
	took := time.Since(back)
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("the take-back ended %v after lb1's release: lb1's own entries may already be flushed (PurgeTimeout 5s), so this run did not test what it is for", d.Round(time.Millisecond))
	}
	// The stream goes on past PurgeTimeout (5 s) after lb1's release,
	// when a flush not cancelled would have removed lb1's entries.
	more := max(100, int(time.Until(start.Add(7*time.Second))/(10*time.Millisecond)))
	if err := stop(more); err != nil {
		t.Fatalf("the connection broke when lb1 took the group back (%v after its release, takeover %v): %v\nlb1's conntrack events:\n%s",
			back.Sub(start).Round(time.Millisecond), took.Round(time.Millisecond), err, events.Output())
	}
	// conntrackd's commit may replace lb1's entry (update, else delete
	// and create) while lb1 takes the group; a destroy after lb1 is
	// master is the flush.
	master := back.Add(took)
	for _, l := range strings.Split(events.Output(), "\n") {
		var sec float64
		if !strings.Contains(l, "DESTROY") || !strings.Contains(l, fmt.Sprintf("sport=%d ", port)) {
			continue
		}
		if _, err := fmt.Sscanf(l, "[%f]", &sec); err != nil {
			t.Errorf("lb1's conntrack event without a timestamp: %q", l)
			continue
		}
		if at := time.Unix(0, int64(sec*1e9)); at.After(master) {
			t.Errorf("lb1's conntrack entry of the stream was destroyed %v after lb1 took the group back: %s", at.Sub(master).Round(time.Millisecond), l)
		}
	}
	t.Logf("take-back: lb1 master %v after hactl takeover on lb1, %v after its own release; longest stall of the stream %v",
		took.Round(time.Millisecond), back.Sub(start).Round(time.Millisecond), s.maxStall.Round(time.Millisecond))
}

// TestKernelNATRepliesUntracedOldOwner is TestKernelNATRepliesThroughOldOwner
// with the diagnostics table on lb2, none on lb1: that table's ct rules
// had kept conntrack on in lb1's namespace, which lb1's kept NAT hooks
// alone do not (nft.ApplyKeepNAT). Once lb1's dnat rules were gone the
// kernel stopped tracking there, a real's reply through lb1 left with the
// real's own address and the client reset the connection (CI:
// TestKernelNATTakeBack, where lb2's GARP came late).
func TestKernelNATRepliesUntracedOldOwner(t *testing.T) {
	p, d2, s := natStreamPair(t, "lb2")
	pinGateway(t, p, "lb1")
	stop := s.live()
	waitSynced(t, p, s)
	p.hactl("lb1", "standby", "web")
	p.waitHolds("lb2", 5*time.Second)
	// 20 of the client's segments through lb2, so 20 replies through lb1
	// after its release: 200 ms of the stream, inside lb1's 2 s linger.
	before := d2.read(t)
	waitCounter(t, d2, s, before, "client-established", 20, 2*time.Second)
	unpinGateway(t, p)
	if err := stop(100); err != nil {
		t.Fatalf("the connection broke while the reals' replies went through the old owner, with no ct rule of the test's there: %v", err)
	}
}
