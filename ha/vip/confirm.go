package vip

import (
	"context"
	"net/netip"
	"time"
)

// Confirmer waits for traffic to a held VIP: it returns when a packet
// addressed to ip arrives on l, with its arrival time, or ctx's error when
// ctx ends first. ListenTraffic is the production one.
type Confirmer func(ctx context.Context, l Link, ip netip.Addr) (time.Time, error)

// Traffic confirmation after a takeover. A client or router whose ARP
// cache missed every gratuitous ARP (a lost frame, a switch port still
// learning, a host that ignores the first burst) keeps sending to the old
// owner's MAC until its entry goes stale, 30 s and more; the new owner
// cannot see that, but it can see that nothing arrives. Until the first
// packet for the VIP arrives it re-announces ConfirmFirst after the
// takeover, then at doubling intervals (100ms, 200ms, 400ms... after the
// previous one), for at most ConfirmFor: a VIP nobody uses stops being
// announced, a busy one is confirmed within one client packet.
const (
	ConfirmFirst      = 100 * time.Millisecond
	DefaultConfirmFor = 10 * time.Second
)

// confirm is the confirmation loop of one takeover; it ends when a packet
// arrives, ConfirmFor passes, or the VIP is stopped.
func (a *announcer) confirm(takeover time.Time) {
	defer close(a.confirmed)
	v := a.v
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	got := make(chan time.Time, 1)
	go func() {
		at, err := v.cfg.Confirm(ctx, a.link, v.ip)
		if err != nil {
			if ctx.Err() == nil {
				v.cfg.Logger.Warn("cannot watch for traffic to the vip; announcing on the schedule only", "vip", v.ip, "iface", a.link.Name, "err", err)
			}
			return
		}
		got <- at
	}()
	deadline := takeover.Add(v.cfg.ConfirmFor)
	wait := ConfirmFirst
	resent := 0
	for {
		left := deadline.Sub(v.cfg.Clock.Now())
		if left <= 0 {
			v.cfg.Logger.Warn("no traffic for the vip since the takeover; stopped re-announcing", "vip", v.ip, "iface", a.link.Name,
				"reason", "no packet for it arrived within "+v.cfg.ConfirmFor.String(), "resent", resent)
			return
		}
		timer := v.cfg.Clock.NewTimer(min(wait, left))
		select {
		case <-a.stop:
			timer.Stop()
			return
		case at := <-got:
			timer.Stop()
			v.mu.Lock()
			v.stats.FirstPacket = at
			v.mu.Unlock()
			v.cfg.Logger.Info("traffic for the vip arrives", "vip", v.ip, "iface", a.link.Name,
				"after", at.Sub(takeover).Round(time.Millisecond), "resent", resent)
			return
		case <-timer.C():
			if wait > left {
				continue
			}
			if !a.whileHeld(func() {
				v.sendLocked(a, v.cfg.Clock.Now())
				v.stats.Reannounced++
			}) {
				return
			}
			resent++
			wait *= 2
		}
	}
}
