package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/ha"
)

// standbyReadyWait bounds how long a plain `hactl standby` waits for the
// peer to be ready to take a group (ha.StandbyBlock.Wait: its balancer has
// not checked its reals yet, its persistence table is not caught up)
// before it is refused with the reason. With the first check of every
// real at start (proxy/check), a peer whose had was just restarted is
// ready within a readiness report or two (readinessEvery); a peer that is
// still not ready after this would serve worse than the owner.
const standbyReadyWait = 5 * time.Second

// standbyPoll is how often that wait asks the machine again.
const standbyPoll = 20 * time.Millisecond

// awaitStandby waits, at most bound, until a standby of group ("" = all)
// would hand it to a peer (ha.Machine.StandbyBlocked), before anything
// changes here: a drain, a SYN hold, the standby priority. It returns the
// groups still blocked: none once every one would move; at once those
// that waiting cannot help (both nodes in standby, no live peer); at bound
// those whose peer is still getting ready.
func (n *Node) awaitStandby(ctx context.Context, group string, bound time.Duration) ([]ha.StandbyBlock, error) {
	return n.awaitBlocks(ctx, group, bound, func(b ha.StandbyBlock) bool { return b.Wait })
}

// awaitBlocks is awaitStandby waiting for the blocks that waitFor says
// may end within bound (a stop also waits for a peer's maintenance to
// end: Leave).
func (n *Node) awaitBlocks(ctx context.Context, group string, bound time.Duration, waitFor func(ha.StandbyBlock) bool) ([]ha.StandbyBlock, error) {
	start := time.Now()
	var said string
	for {
		bs, err := n.agent.StandbyBlocked(ctx, group)
		if err != nil {
			return nil, err
		}
		if len(bs) == 0 {
			if said != "" {
				n.log.Info("standby: the peer is ready", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil, nil
		}
		if slices.ContainsFunc(bs, func(b ha.StandbyBlock) bool { return !waitFor(b) }) || time.Since(start) >= bound {
			return bs, nil
		}
		if why := blocksText(bs); why != said {
			said = why
			n.log.Info("standby waits for the peer to be ready", "reason", why, "bound", bound)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("standby: waiting for the peer to be ready: %w", ctx.Err())
		case <-time.After(standbyPoll):
		}
	}
}

// refuseStandby is a standby's answer when awaitStandby, begun at start,
// left groups blocked: the refusal, logged as the machine logs its own.
func (n *Node) refuseStandby(bs []ha.StandbyBlock, start time.Time) error {
	err := standbyRefusal(bs, waitable(bs), time.Since(start))
	n.log.Warn(err.Error(), "topic", ha.TopicRefused)
	return err
}

// waitable reports whether every block of bs may end by itself.
func waitable(bs []ha.StandbyBlock) bool {
	for _, b := range bs {
		if !b.Wait {
			return false
		}
	}
	return true
}

// standbyRefusal is the error of a standby that waited (or could not wait)
// for bs: each group's refusal, with how long it waited when it did.
func standbyRefusal(bs []ha.StandbyBlock, waited bool, d time.Duration) error {
	msgs := make([]string, len(bs))
	for i, b := range bs {
		msgs[i] = b.Error()
	}
	msg := strings.Join(msgs, "; ")
	if waited && d > 0 {
		msg += fmt.Sprintf(" (after waiting %v for it)", d.Round(time.Millisecond))
	}
	return errors.New(msg)
}

// blocksText is what the groups of bs wait for, for logs and a drain's
// progress: "web: lb2 is not ready to take it: ...".
func blocksText(bs []ha.StandbyBlock) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = b.Group + ": " + b.Why
	}
	return strings.Join(parts, "; ")
}

// awaitLeave is a stop's wait before it tells the peers, standbyReadyWait
// at most: for a peer still getting ready to take the groups, as a
// planned standby waits, and for a peer in maintenance, which takes
// nothing (ha.StandbyBlock.Frozen), to leave it. A peer in maintenance is
// said at once: a script may be running "hactl maintenance off" there
// right now, but if nobody is, the groups are left with no holder, which
// the machine then logs as an error per group.
func (n *Node) awaitLeave(ctx context.Context) {
	start := time.Now()
	frozen := func(b ha.StandbyBlock) bool { return b.Frozen }
	endsSoon := func(b ha.StandbyBlock) bool { return b.Wait || b.Frozen }
	if bs, err := n.agent.StandbyBlocked(ctx, ""); err == nil && slices.ContainsFunc(bs, frozen) {
		n.log.Warn("stopping: waiting for a peer's maintenance to end, else groups are left with no holder",
			"reason", blocksText(slices.DeleteFunc(bs, func(b ha.StandbyBlock) bool { return !b.Frozen })), "bound", standbyReadyWait)
	}
	bs, err := n.awaitBlocks(ctx, "", standbyReadyWait, endsSoon)
	switch {
	case err != nil || len(bs) == 0:
	case waitable(bs):
		n.log.Warn("stopping: handing the groups over although the peer is not ready", "reason", blocksText(bs), "waited", time.Since(start).Round(time.Millisecond))
	case !slices.ContainsFunc(bs, func(b ha.StandbyBlock) bool { return !endsSoon(b) }):
		n.log.Warn("stopping: the peer's maintenance did not end", "waited", time.Since(start).Round(time.Millisecond))
	}
}
