package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/wire"
)

// step feeds one event to the machine and carries out its actions, which
// it returns. Only the Run goroutine calls it.
func (a *Agent) step(ev ha.Event) []ha.Action {
	ev.Now = a.cfg.Clock.Now()
	if ev.Kind == ha.EventMessage && ev.Msg != nil {
		a.noteVersion(ev.Msg)
	}
	acts := a.m.Step(ev)
	for _, act := range acts {
		a.execute(act)
	}
	st := a.m.Status()
	a.mu.Lock()
	a.status = st
	a.mu.Unlock()
	a.checkIdle()
	return acts
}

func (a *Agent) checkIdle() {
	if len(a.idleWaiters) == 0 {
		return
	}
	for _, g := range a.m.Status().Groups {
		if g.State == ha.StateStarting || g.State == ha.StateMaster || g.State == ha.StateStopping {
			return
		}
	}
	for _, w := range a.idleWaiters {
		close(w)
	}
	a.idleWaiters = nil
}

func (a *Agent) execute(act ha.Action) {
	switch act.Kind {
	case ha.ActionSend:
		a.send(act.Msg)
	case ha.ActionStart:
		a.run(act.Group, ha.EventStarted, a.cfg.Groups.Start)
	case ha.ActionStop:
		a.run(act.Group, ha.EventStopped, a.cfg.Groups.Stop)
	case ha.ActionAnnounce:
		a.log.Info("re-announcing", "group", act.Group, "reason", act.Reason)
		if an := a.cfg.Announcer; an != nil {
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				an.Announce(act.Group)
			}()
		}
	case ha.ActionArmTimer:
		if a.waiter != nil {
			a.deadline = act.At // runRealtime sleeps until then
			return
		}
		if a.timer != nil {
			a.timer.Stop()
		}
		a.timer = a.cfg.Clock.AfterFunc(act.At.Sub(a.cfg.Clock.Now()), func() {
			select {
			case a.tick <- struct{}{}:
			default: // a tick is already queued
			}
		})
	case ha.ActionNotify:
		a.log.Info("group "+act.State.String(), "group", act.Group, "state", act.State.String(), "reason", act.Reason)
		if n := a.cfg.Notifier; n != nil {
			n.Notify(act.Group, act.State, act.Reason)
		}
	case ha.ActionLog:
		a.logRemark(act)
	}
}

// noteVersion tracks which peers speak wire version 1 (no heard list), so
// heartbeats fall back to version 1 while one of them is around, and says
// so once: a mixed-version pair works, without one-way loss detection.
func (a *Agent) noteVersion(msg *ha.Message) {
	old := msg.Hears == nil
	if old == a.v1Peers[msg.From] {
		return
	}
	if old {
		a.v1Peers[msg.From] = true
		a.log.Warn("peer speaks heartbeat wire version 1: sending version 1 (no one-way loss detection) until it is upgraded", "peer", msg.From)
		return
	}
	delete(a.v1Peers, msg.From)
	a.log.Info("peer speaks heartbeat wire version 2 again", "peer", msg.From)
}

// logRemark logs a machine remark; warntime lines are limited per peer.
func (a *Agent) logRemark(act ha.Action) {
	level := slog.LevelInfo
	switch act.Level {
	case ha.LevelWarn:
		level = slog.LevelWarn
	case ha.LevelError:
		level = slog.LevelError
	}
	// The reason is the message; the topic keys it for log searches.
	var args []any
	if act.Topic != "" {
		args = append(args, "topic", act.Topic)
		a.mu.Lock()
		if a.topics == nil {
			a.topics = map[string]uint64{}
		}
		a.topics[act.Topic]++
		a.mu.Unlock()
	}
	if act.Peer != "" {
		args = append(args, "peer", act.Peer)
	}
	if act.Topic == "late" {
		now := a.cfg.Clock.Now()
		if last, ok := a.lateLogged[act.Peer]; ok && now.Sub(last) < a.cfg.LateLogEvery {
			a.lateHidden[act.Peer]++
			return
		}
		a.lateLogged[act.Peer] = now
		if n := a.lateHidden[act.Peer]; n > 0 {
			args = append(args, "suppressed", n)
			a.lateHidden[act.Peer] = 0
		}
	}
	a.log.Log(context.Background(), level, act.Reason, args...)
}

// run starts or stops a group off the loop and feeds the result back.
func (a *Agent) run(group string, done ha.EventKind, op func(context.Context, string) error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		err := op(a.ctx, group)
		ev := ha.Event{Kind: done, Group: group, OK: err == nil}
		if err != nil {
			ev.Reason = err.Error()
			a.log.Warn("group operation failed", "group", group, "op", done.String(), "err", err)
		}
		a.inject(a.ctx, ev)
	}()
}

func (a *Agent) send(msg *ha.Message) {
	p := &wire.Packet{Sender: msg.From, Generation: msg.Generation, Keepalive: msg.Keepalive, Groups: make([]wire.Group, len(msg.Groups))}
	if msg.Leaving {
		p.Flags |= wire.FlagLeaving
	}
	if msg.Maintenance {
		p.Flags |= wire.FlagMaintenance
	}
	for i, g := range msg.Groups {
		p.Groups[i] = wire.Group{Name: g.Name, Priority: g.Priority, State: uint8(g.State)}
	}
	if len(a.v1Peers) > 0 {
		p.Version1 = true // every link carries every packet: speak what the oldest peer understands
	} else {
		p.Heard = make([]wire.Heard, len(msg.Hears))
		for i, h := range msg.Hears {
			wh := wire.Heard{Node: h.Node, Generation: h.Generation, Age: min(h.Age.Truncate(time.Microsecond), wire.MaxAge)}
			if h.Alive {
				wh.Flags = wire.HeardAlive
			}
			p.Heard[i] = wh
		}
	}
	p.Payload = readinessPayload(msg.Groups)
	err := a.cfg.Transport.Send(p)
	switch {
	case err != nil && !a.sendFailed:
		a.sendFailed = true
		a.log.Error("sending heartbeat failed on every link", "err", fmt.Errorf("agent: sending heartbeat of generation %d: %w", msg.Generation, err))
	case err == nil && a.sendFailed:
		a.sendFailed = false
		a.log.Info("sending heartbeats again")
	}
}
