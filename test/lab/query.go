package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NeighMAC returns the hardware address host's neighbour table holds for ip
// (`ip -j neigh`), e.g. which node the client sends VIP traffic to. An entry
// without an address (INCOMPLETE, FAILED) or no entry is an error naming the
// state.
func (l *Lab) NeighMAC(host string, ip netip.Addr) (net.HardwareAddr, error) {
	h, ok := l.byName[host]
	if !ok {
		return nil, fmt.Errorf("lab: no host %q", host)
	}
	out, err := run(context.Background(), nil, "ip", "-n", h.Netns, "-j", "neigh", "show", "to", ip.String())
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Dst    string   `json:"dst"`
		Dev    string   `json:"dev"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		return nil, fmt.Errorf("lab: %s: parsing ip -j neigh %q: %w", host, out, err)
	}
	for _, e := range entries {
		if e.Dst != ip.String() {
			continue
		}
		if e.LLAddr == "" {
			return nil, fmt.Errorf("lab: %s: neighbour %s on %s has no address (state %s)", host, ip, e.Dev, strings.Join(e.State, ","))
		}
		return net.ParseMAC(e.LLAddr)
	}
	return nil, fmt.Errorf("lab: %s: no neighbour entry for %s", host, ip)
}

// HasAddr reports whether ip is assigned to any interface of host (`ip -j addr`).
func (l *Lab) HasAddr(host string, ip netip.Addr) (bool, error) {
	h, ok := l.byName[host]
	if !ok {
		return false, fmt.Errorf("lab: no host %q", host)
	}
	addrs, err := h.addrs(context.Background())
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if a.Addr() == ip {
			return true, nil
		}
	}
	return false, nil
}

// Addrs returns the host's addresses (with prefix length) on every interface,
// loopback included.
func (h *Host) addrs(ctx context.Context) ([]netip.Prefix, error) {
	out, err := run(ctx, nil, "ip", "-n", h.Netns, "-j", "addr", "show")
	if err != nil {
		return nil, err
	}
	var links []struct {
		Ifname   string `json:"ifname"`
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("lab: %s: parsing ip -j addr: %w", h.Name, err)
	}
	var ps []netip.Prefix
	for _, ln := range links {
		for _, ai := range ln.AddrInfo {
			a, err := netip.ParseAddr(ai.Local)
			if err != nil {
				return nil, fmt.Errorf("lab: %s: address %q on %s: %w", h.Name, ai.Local, ln.Ifname, err)
			}
			ps = append(ps, netip.PrefixFrom(a, ai.PrefixLen))
		}
	}
	return ps, nil
}

// Holders returns the lb nodes that have ip assigned, in node order: during a
// split brain, more than one.
func (l *Lab) Holders(ip netip.Addr) ([]string, error) {
	var names []string
	for _, h := range l.Nodes() {
		ok, err := l.HasAddr(h.Name, ip)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, h.Name)
		}
	}
	return names, nil
}

// SoleHolder returns the one lb node that has ip assigned, or an error
// naming the holders when none or several have it (a split brain).
func (l *Lab) SoleHolder(ip netip.Addr) (string, error) {
	hs, err := l.Holders(ip)
	if err != nil {
		return "", err
	}
	if len(hs) != 1 {
		return "", fmt.Errorf("%v held by %v, want exactly one node", ip, hs)
	}
	return hs[0], nil
}

// State returns a readable dump of every host's addresses, neighbours and lab
// nftables rules, for failure messages (New's cleanup logs it when the test
// failed).
func (l *Lab) State(ctx context.Context) string {
	var b strings.Builder
	for _, h := range l.hosts {
		fmt.Fprintf(&b, "== %s (%s)\n", h.Name, h.Netns)
		for _, argv := range [][]string{
			{"ip", "-n", h.Netns, "-br", "addr"},
			{"ip", "-n", h.Netns, "neigh"},
		} {
			out, err := run(ctx, nil, argv[0], argv[1:]...)
			if err != nil {
				fmt.Fprintf(&b, "%v\n", err)
			}
			b.Write(out)
		}
		l.mu.Lock()
		touched := l.touched[h.Name]
		l.mu.Unlock()
		if touched {
			out, _ := run(ctx, nil, "ip", "netns", "exec", h.Netns, "nft", "list", "ruleset")
			b.Write(out)
		}
	}
	return b.String()
}

// WriteFile writes data to name in the host's directory and returns its path.
// Use mode 0o600 for authkeys.
func (h *Host) WriteFile(name string, data string, mode os.FileMode) string {
	h.lab.t.Helper()
	path := filepath.Join(h.Dir, name)
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		h.lab.t.Fatalf("lab: %s: %v", h.Name, err)
	}
	// WriteFile keeps an existing file's mode; make it the one asked for.
	if err := os.Chmod(path, mode); err != nil {
		h.lab.t.Fatalf("lab: %s: %v", h.Name, err)
	}
	return path
}

// PollInterval is how often WaitFor checks its condition.
const PollInterval = 10 * time.Millisecond

// WaitFor calls cond every PollInterval until it returns nil or timeout has
// passed, and returns nil or the last error with the time waited. It returns
// how long the wait took, so tests can report it (e.g. a takeover time).
func WaitFor(timeout time.Duration, cond func() error) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return time.Since(start), fmt.Errorf("after %v: %w", time.Since(start).Round(time.Millisecond), err)
		}
		time.Sleep(PollInterval)
	}
}

// Eventually is WaitFor that fails t with what as the subject:
// "lb2 holds the VIP: after 2s: lb2 does not have 198.18.0.100".
func Eventually(t T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	took, err := WaitFor(timeout, cond)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return took
}

// Consistently calls cond every interval for the whole of d and fails t,
// with what as the subject, at the first error: for a state that must last
// (an owner that stays put during a partition), where Eventually waits for
// one to begin. It returns only after d has passed or t failed.
func Consistently(t T, d, interval time.Duration, what string, cond func() error) {
	t.Helper()
	start := time.Now()
	for {
		if err := cond(); err != nil {
			t.Fatalf("%s: after %v: %v", what, time.Since(start).Round(time.Millisecond), err)
			return
		}
		if time.Since(start) >= d {
			return
		}
		time.Sleep(interval)
	}
}
