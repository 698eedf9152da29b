package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy/nft"
)

// synHold is the SYN hold of a drained move (nft.Hold; a fake in tests).
type synHold interface {
	Install(vips []netip.AddrPort) error
	Release() error
}

// moveHoldKey is a drained move's key in the hold set.
const moveHoldKey = "drained move"

// holdQuiet bounds how long a held move waits for the drained services to
// have no connection open (nor one in a listener's accept queue) before it
// moves anyway. The drain before it has already waited for them; this
// only covers the connections accepted since its last poll.
const holdQuiet = time.Second

// holdPoll is how often that wait looks.
const holdPoll = 5 * time.Millisecond

// openHold removes a hold a crashed run left (only a table with hapair's
// marker, as removeStaleTables does) and returns the hold of this run,
// nil on a host without nftables: drained moves then go without one.
func openHold(log *slog.Logger) synHold {
	conn, err := nft.OpenNetlink()
	if err != nil {
		log.Debug("no SYN hold for drained moves", "err", err)
		return nil
	}
	h := nft.NewHold(conn)
	switch err := h.Release(); {
	case errors.Is(err, nft.ErrNotOurs):
		log.Warn("leaving a table named "+nft.HoldTableName+" alone", "reason", "it has no hapair marker", "err", err)
		return nil
	case err != nil:
		log.Debug("no SYN hold for drained moves", "err", err)
		return nil
	}
	return h
}

// standbyDrained is the planned switchover of drained groups (VerbStandby
// with Drain, sent by `hactl standby --drain` once its drain is done): the
// SYN hold goes in place for the groups' TCP services, so a client
// connecting during the move is neither accepted here (and reset when the
// VIP leaves) nor refused, but retransmits its SYN to the new owner; had
// waits up to holdQuiet for the connections accepted before the hold to
// end, moves the groups, and lifts the hold once their VIPs are gone, or
// at once when the move is refused or fails. A move the peer cannot take
// now (awaitStandby) is refused before the hold goes in place. Without nftables, or without
// a TCP service, it is the plain standby. Held moves run one at a time.
func (n *Node) standbyDrained(ctx context.Context, req ctl.Request) (any, error) {
	groups, services, err := n.drainTargets(req.Group)
	if err != nil {
		// Nothing held here to hold for (lost meanwhile, or active-active):
		// the plain standby answers as it does for those.
		return n.move(ctx, req, 0)
	}
	vips := heldVIPs(n.config(), groups, services)
	if n.holds == nil || len(vips) == 0 {
		return n.move(ctx, req, 0)
	}
	// Never hold SYNs for a move that cannot happen: the drain before this
	// waited for the peer to be ready (drainState), so refuse now if it is
	// not, before the hold (hactl then lifts the drain).
	if bs, err := n.awaitStandby(ctx, req.Group, 0); err != nil || len(bs) > 0 {
		if err == nil {
			err = n.refuseStandby(bs, time.Now())
		}
		return nil, err
	}
	// One held move at a time: a second move would share the first one's
	// key (group starts hold under their own, holdSet).
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	if err := n.holds.Install(moveHoldKey, vips); err != nil {
		n.log.Warn("moving without a SYN hold: new connections during the move may be reset", "groups", groups, "err", err)
		return n.move(ctx, req, 0)
	}
	start := time.Now()
	defer func() {
		if err := n.holds.Release(moveHoldKey); err != nil {
			n.log.Error("lifting the SYN hold failed: new connections to the held services are dropped", "vips", vips, "err", err)
			return
		}
		n.log.Info("SYN hold lifted", "groups", groups, "held", time.Since(start).Round(time.Millisecond))
	}()
	n.log.Info("SYN hold in place for the move", "groups", groups, "vips", vips)
	n.awaitQuiet(ctx, services, vips, holdQuiet, "moving with connections still open under the SYN hold")
	res, err := n.move(ctx, req, 0)
	if s, ok := res.(string); ok && err == nil {
		res = fmt.Sprintf("%s (new connections held %v during the move)", s, time.Since(start).Round(time.Millisecond))
	}
	return res, err
}

// awaitQuiet waits until services have no connection open and the
// listeners on vips no connection queued (established or half-open, not
// yet accepted), at most bound; when it gives up it logs warn with what
// is still open. It returns how long it waited.
func (n *Node) awaitQuiet(ctx context.Context, services []string, vips []netip.AddrPort, bound time.Duration, warn string) time.Duration {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	tick := time.NewTicker(holdPoll)
	defer tick.Stop()
	for {
		var open int64
		var err error
		if n.balancer != nil {
			open, err = n.balancer.OpenConns(services...)
		}
		queued, qerr := queuedConns(vips)
		if err = errors.Join(err, qerr); err == nil && open == 0 && queued == 0 {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			n.log.Warn(warn, "open", open, "queued", queued, "bound", bound, "err", err)
			return time.Since(start)
		case <-tick.C:
		}
	}
}

// queuedConns counts the connections to vips the kernel holds for a
// listener that has not accepted them yet, from /proc/net/tcp and tcp6.
func queuedConns(vips []netip.AddrPort) (int, error) { return procQueues(vips, true) }

// procQueues is queuedConns, counting the handshakes under way only when
// handshakes is set (the listeners' accept queues alone otherwise).
func procQueues(vips []netip.AddrPort, handshakes bool) (int, error) {
	total := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		q, err := parseQueues(b, vips, handshakes)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		total += q
	}
	return total, nil
}

// heldVIPs returns the VIP:port pairs the hold covers: the listen address
// of each TCP service, or, for one listening on an unspecified address,
// each VIP of the groups on its port. UDP has no handshake to hold.
func heldVIPs(cfg *config.Config, groups, services []string) []netip.AddrPort {
	var vips []netip.Addr
	for _, g := range cfg.Groups {
		if !slices.Contains(groups, g.Name) {
			continue
		}
		for _, r := range g.Resources {
			if r.VIP != nil {
				vips = append(vips, r.VIP.Prefix.Addr())
			}
		}
	}
	var out []netip.AddrPort
	add := func(a netip.AddrPort) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, s := range cfg.Services {
		if !slices.Contains(services, s.Name) || s.Protocol == "udp" {
			continue
		}
		switch a := s.Listen.Addr(); {
		case a.IsUnspecified():
			for _, v := range vips {
				// 0.0.0.0 takes IPv4 only; :: takes both (bindv6only=0).
				if v.Is4() || a.Is6() {
					add(netip.AddrPortFrom(v, s.Listen.Port()))
				}
			}
		case !a.IsLoopback():
			add(s.Listen)
		}
	}
	return out
}
