package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/realtime"
)

// receiveWaker is a Transport that can wake the realtime loop itself after
// each packet it delivers (*link.Set); any other is relayed by a goroutine.
type receiveWaker interface {
	OnReceive(f func())
}

// runRealtime is Run's loop on a SCHED_RR thread. It sleeps only in
// ppoll(2) (realtime.Waiter) until the machine's next timer or a wake from
// the transport, inject or do, then handles everything queued. Wakes are
// counted by the waiter's eventfd, and every producer queues before it
// wakes, so nothing queued after a drain waits for the next timer.
func (a *Agent) runRealtime(ctx context.Context) error {
	defer a.waiter.Close()
	// The loop's log lines are queued for a normal goroutine to write (see
	// realtime.LogHandler); Run closes it once group operations ended.
	lh := realtime.NewLogHandler(a.log.Handler())
	a.log, a.closeLog = slog.New(lh), lh.Close
	// Locked for good: the thread ends with this goroutine, so no other
	// goroutine ever runs at realtime priority.
	if err := realtime.LockThread(realtime.Priority); err != nil {
		a.log.Warn("heartbeat loop runs at normal priority", "err", err)
	}
	stop := context.AfterFunc(ctx, a.waiter.Wake)
	defer stop()
	if tw, ok := a.cfg.Transport.(receiveWaker); ok {
		tw.OnReceive(a.waiter.Wake)
		defer tw.OnReceive(nil)
	} else {
		a.in = a.relay(ctx, a.cfg.Transport.Received())
	}
	a.step(ha.Event{Kind: ha.EventStart})
	for {
		if ctx.Err() != nil {
			return nil
		}
		if !a.deadline.IsZero() && !a.cfg.Clock.Now().Before(a.deadline) {
			a.deadline = time.Time{} // the tick re-arms it
			a.step(ha.Event{Kind: ha.EventTick})
		}
		a.drain()
		select {
		case f := <-a.calls:
			f()
			continue // more may be queued
		default:
		}
		timeout := time.Duration(-1)
		if !a.deadline.IsZero() {
			timeout = max(a.deadline.Sub(a.cfg.Clock.Now()), 0)
		}
		if _, err := a.waiter.Wait(timeout); err != nil {
			a.log.Error("heartbeat loop cannot sleep in ppoll", "err", err)
			return err
		}
	}
}

// relay forwards a transport's packets that cannot wake the loop itself,
// waking it after each (tests' in-memory transports).
func (a *Agent) relay(ctx context.Context, src <-chan *wire.Packet) <-chan *wire.Packet {
	out := make(chan *wire.Packet, cap(src))
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			select {
			case p := <-src:
				select {
				case out <- p:
					a.waiter.Wake()
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// wake makes the realtime loop look at its queues; nothing otherwise.
func (a *Agent) wake() {
	if a.waiter != nil {
		a.waiter.Wake()
	}
}
