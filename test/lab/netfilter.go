package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Faults are nftables rules inside the hosts' namespaces, in tables named
// hapair_lab (the kernel has no netem). Each change rewrites the affected
// hosts' tables atomically in one `nft -f`; Heal and cleanup delete them.
//
//   - a cut (Partition*) drops, at ingress of the cut host's interfaces
//     (netdev family), every frame whose source MAC is the other host's:
//     IP, ARP, multicast alike, in both directions because both sides get
//     the rule;
//   - a heartbeat cut drops UDP to port 694 from/to the other host's addresses;
//   - loss drops a random share of the host's IP packets in and out (inet
//     family, `numgen random mod 100 < N`), loopback excepted, optionally
//     only those an nft match selects (heartbeats, VRRP);
//   - a mute (MuteHeartbeats) drops every heartbeat the host sends, on every
//     interface, in its output chain: one-way loss, it still hears its peers.

const table = "hapair_lab"

type cut struct {
	a, b       string
	iface      string // "" = every interface
	heartbeats bool   // only UDP/694
}

type loss struct {
	percent    int
	heartbeats bool
	match      string // nft match expression selecting the packets ("" = all, or heartbeats)
}

// Partition cuts all traffic between hosts a and b, on every interface.
func (l *Lab) Partition(a, b string) { l.t.Helper(); l.addCut(cut{a: a, b: b}) }

// PartitionLink cuts all traffic between a and b on one interface only
// ("eth0" or "eth1"), for tests with two heartbeat links.
func (l *Lab) PartitionLink(a, b, iface string) {
	l.t.Helper()
	l.addCut(cut{a: a, b: b, iface: iface})
}

// PartitionHeartbeats drops only heartbeats (UDP port 694) between a and b,
// on every interface; everything else, ARP included, still flows.
func (l *Lab) PartitionHeartbeats(a, b string) {
	l.t.Helper()
	l.addCut(cut{a: a, b: b, heartbeats: true})
}

// Isolate cuts host from every other host (as if its cables were cut,
// but its links stay up). The others drop host's frames first and host
// stops hearing them last, in one ruleset: host cannot lose a peer while
// it still reaches the rest (cut pair by pair, a slow nft let an isolated
// node take over and announce its VIP to the client before the client's
// cut was in).
func (l *Lab) Isolate(host string) {
	l.t.Helper()
	l.Host(host)
	var others []string
	l.mu.Lock()
	for _, o := range l.hosts {
		if c := (cut{a: host, b: o.Name}); o.Name != host && !slices.Contains(l.cuts, c) {
			l.cuts = append(l.cuts, c)
		}
		if o.Name != host {
			others = append(others, o.Name)
		}
	}
	l.mu.Unlock()
	l.apply(append(others, host)...)
}

// Loss drops percent (0..100) of the IP packets host sends or receives,
// at random; 0 removes the loss.
func (l *Lab) Loss(host string, percent int) { l.t.Helper(); l.setLoss(host, loss{percent: percent}) }

// LossHeartbeats is Loss for heartbeats (UDP port 694) only.
func (l *Lab) LossHeartbeats(host string, percent int) {
	l.t.Helper()
	l.setLoss(host, loss{percent: percent, heartbeats: true})
}

// LossMatching is Loss for the packets an nft match expression selects,
// e.g. "ip protocol vrrp" for keepalived's adverts.
func (l *Lab) LossMatching(host string, percent int, match string) {
	l.t.Helper()
	l.setLoss(host, loss{percent: percent, match: match})
}

// MuteHeartbeats drops every heartbeat (UDP port 694) host sends, on every
// interface (nftables output chain), while it still receives its peers':
// one-way loss. Heal undoes it.
func (l *Lab) MuteHeartbeats(host string) {
	l.t.Helper()
	l.Host(host)
	l.mu.Lock()
	l.mute[host] = true
	l.mu.Unlock()
	l.apply(host)
}

// Heal removes every cut, loss and mute. It also flushes the unresolved (INCOMPLETE,
// FAILED) neighbour entries that ARP attempts during the cut left on those
// hosts: otherwise the first packet after Heal waits up to retrans_time (1s)
// for the kernel's next ARP retry. Resolved entries are kept. It returns
// when the last host's rules went: every other host's were removed before,
// the last during the nft command that began at Began and had ended at
// Done, so the heal's true instant lies in [Began, Done]. A time taken
// from Began to an event after the heal is an upper bound, from Done a
// lower bound; both leave out removing the other hosts' rules and the
// flush.
func (l *Lab) Heal() Window {
	l.t.Helper()
	l.mu.Lock()
	l.cuts, l.loss, l.mute = nil, map[string]loss{}, map[string]bool{}
	var hosts []string
	for name := range l.touched {
		hosts = append(hosts, name)
	}
	l.mu.Unlock()
	slices.Sort(hosts)
	last := l.apply(hosts...)
	ctx, cancel := context.WithTimeout(context.Background(), defaultRunTimeout)
	defer cancel()
	for _, name := range hosts {
		if err := ipBatch(ctx, l.byName[name].Netns, "neigh flush nud incomplete nud failed\n"); err != nil {
			l.t.Fatal(err)
		}
	}
	return last
}

func (l *Lab) addCut(c cut) {
	l.t.Helper()
	a, b := l.Host(c.a), l.Host(c.b)
	if a == b {
		l.t.Fatalf("lab: cutting %s from itself", a.Name)
	}
	if c.iface != "" && (a.macs[c.iface] == nil || b.macs[c.iface] == nil) {
		l.t.Fatalf("lab: cutting %s from %s on %q: not an interface of both", a.Name, b.Name, c.iface)
	}
	l.mu.Lock()
	if !slices.Contains(l.cuts, c) {
		l.cuts = append(l.cuts, c)
	}
	l.mu.Unlock()
	l.apply(a.Name, b.Name)
}

func (l *Lab) setLoss(host string, ls loss) {
	l.t.Helper()
	l.Host(host)
	if ls.percent < 0 || ls.percent > 100 {
		l.t.Fatalf("lab: loss %d%% on %s: want 0..100", ls.percent, host)
	}
	l.mu.Lock()
	if ls.percent == 0 {
		delete(l.loss, host)
	} else {
		l.loss[host] = ls
	}
	l.mu.Unlock()
	l.apply(host)
}

// Window is when the last host's nft command of a change ran: it began
// at Began and had ended at Done, so the change took effect in between.
type Window struct{ Began, Done time.Time }

// apply rewrites the named hosts' tables from the current cuts and losses;
// it returns when the last host's nft command ran.
func (l *Lab) apply(hosts ...string) Window {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultRunTimeout)
	defer cancel()
	var last Window
	for _, name := range hosts {
		h := l.Host(name)
		l.mu.Lock()
		script := l.rulesFor(h)
		l.touched[name] = true
		l.mu.Unlock()
		last.Began = time.Now()
		if err := h.nft(ctx, script); err != nil {
			l.t.Fatal(err)
		}
		last.Done = time.Now()
	}
	return last
}

// deleteTables removes both lab tables whether they exist or not: declaring a
// table is a no-op when it exists, so the delete that follows always has one.
const deleteTables = "table netdev " + table + "\ndelete table netdev " + table + "\n" +
	"table inet " + table + "\ndelete table inet " + table + "\n"

// rulesFor renders host h's whole ruleset as one nft script; l.mu is held.
func (l *Lab) rulesFor(h *Host) string {
	var b strings.Builder
	b.WriteString(deleteTables)

	// netdev: full cuts, by source MAC, per interface.
	drops := map[string][]string{} // iface -> MACs to drop
	var hbAddrs []string
	for _, c := range l.cuts {
		var other *Host
		switch h.Name {
		case c.a:
			other = l.byName[c.b]
		case c.b:
			other = l.byName[c.a]
		default:
			continue
		}
		if c.heartbeats {
			hbAddrs = append(hbAddrs, other.Addr.String())
			if other.HBAddr.IsValid() {
				hbAddrs = append(hbAddrs, other.HBAddr.String())
			}
			continue
		}
		for _, ifc := range h.Ifaces() {
			if (c.iface == "" || c.iface == ifc) && other.macs[ifc] != nil {
				drops[ifc] = append(drops[ifc], other.macs[ifc].String())
			}
		}
	}
	if len(drops) > 0 {
		fmt.Fprintf(&b, "table netdev %s {\n", table)
		for _, ifc := range h.Ifaces() {
			if len(drops[ifc]) == 0 {
				continue
			}
			fmt.Fprintf(&b, "\tchain in_%s {\n\t\ttype filter hook ingress device %q priority -500; policy accept;\n", ifc, ifc)
			fmt.Fprintf(&b, "\t\tether saddr { %s } counter drop\n\t}\n", strings.Join(uniq(drops[ifc]), ", "))
		}
		b.WriteString("}\n")
	}

	// inet: heartbeat cuts and loss.
	ls, lossy := l.loss[h.Name]
	muted := l.mute[h.Name]
	if len(hbAddrs) == 0 && !lossy && !muted {
		return b.String()
	}
	hbAddrs = uniq(hbAddrs)
	fmt.Fprintf(&b, "table inet %s {\n", table)
	for _, dir := range []struct{ chain, hook, lo, addr string }{
		{"input", "input", "iif", "saddr"},
		{"output", "output", "oif", "daddr"},
	} {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority -300; policy accept;\n", dir.chain, dir.hook)
		fmt.Fprintf(&b, "\t\t%s \"lo\" accept\n", dir.lo)
		if len(hbAddrs) > 0 {
			fmt.Fprintf(&b, "\t\tip %s { %s } udp dport %d counter drop\n", dir.addr, strings.Join(hbAddrs, ", "), HeartbeatPort)
		}
		if muted && dir.chain == "output" {
			fmt.Fprintf(&b, "\t\tudp dport %d counter drop\n", HeartbeatPort)
		}
		if lossy {
			match := ""
			switch {
			case ls.heartbeats:
				match = fmt.Sprintf("udp dport %d ", HeartbeatPort)
			case ls.match != "":
				match = ls.match + " "
			}
			if ls.percent < 100 { // numgen mod 100 yields 0..99: "< 100" does not parse
				match += fmt.Sprintf("numgen random mod 100 < %d ", ls.percent)
			}
			fmt.Fprintf(&b, "\t\t%scounter drop\n", match)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// nft runs an nft script in the host's namespace.
func (h *Host) nft(ctx context.Context, script string) error {
	_, err := run(ctx, strings.NewReader(script), "ip", "netns", "exec", h.Netns, "nft", "-f", "-")
	if err != nil {
		return fmt.Errorf("%w\nscript:\n%s", err, script)
	}
	return nil
}

// Unplug sets the switch ports of host's interfaces down (all of them when
// ifaces is empty): the host sees carrier loss, as with a pulled cable.
func (l *Lab) Unplug(host string, ifaces ...string) { l.t.Helper(); l.plug(host, "down", ifaces) }

// Plug undoes Unplug.
func (l *Lab) Plug(host string, ifaces ...string) { l.t.Helper(); l.plug(host, "up", ifaces) }

func (l *Lab) plug(host, state string, ifaces []string) {
	l.t.Helper()
	h := l.Host(host)
	if len(ifaces) == 0 {
		ifaces = h.Ifaces()
	}
	var b strings.Builder
	for _, ifc := range ifaces {
		p, ok := h.port[ifc]
		if !ok {
			l.t.Fatalf("lab: %s has no interface %q", host, ifc)
		}
		fmt.Fprintf(&b, "link set dev %s %s\n", p, state)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultRunTimeout)
	defer cancel()
	if err := ipBatch(ctx, l.sw, b.String()); err != nil {
		l.t.Fatal(err)
	}
}
