package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hapair/hapair/internal/ctl"
)

// drainPoll is how often `standby --drain` asks had how far the drain is.
const drainPoll = 50 * time.Millisecond

// cmdStandby is `hactl standby [--drain] [--timeout D] [GROUP]`:
// hb_standby, with an optional drain first (DESIGN.md "Ownership"): the
// group's services stop keeping clients (HAProxy's drain/soft-stop: HTTP
// keep-alive ends, new connections still served while the VIP is here),
// then the move waits until the peer holds this node's persistence table
// and no client connection is open, or until the timeout, and only then
// moves the group. Flags may come after GROUP.
//
// had moves the group or refuses at once, never leaves it pending (hb_standby
// semantics): a peer in standby itself is refused with the remedy; a peer
// not ready yet to serve the group (its reals not checked, the persistence
// table not synced: the failback gate) is waited for, up to 5s, or within
// the drain; and the SYN hold of a drained move goes in place only once the
// move can happen.
//
// --timeout is every daemon verb's wait for had's answer; with --drain it
// bounds the drain instead, and had's answers get their own defaults
// (queryTimeout for the drain's polls, waitTimeout for the move), so the
// command as a whole takes at most D + queryTimeout + waitTimeout.
func cmdStandby(args []string, stdout, stderr io.Writer) int {
	fs := newDaemonFlags("standby", "standby [-s SOCKET | -c CONFIG] [--drain] [--timeout D] [GROUP]", waitTimeout, stderr)
	drain := fs.Bool("drain", false, "quiesce the group's services and wait for its connections and the persistence sync before moving")
	fs.Lookup("timeout").Usage = "with --drain: how long to drain before moving anyway; without: how long to wait for had's answer"
	had, ok := fs.parse(args, 1)
	if !ok {
		return exitUsage
	}
	group := fs.Arg(0)
	if !*drain {
		return callPrint(stdout, stderr, had, ctl.Request{Verb: ctl.VerbStandby, Group: group})
	}
	polls := target{socket: had.socket, timeout: queryTimeout, verb: "standby"}
	// An operator who interrupts the wait keeps the group here: the drain
	// is lifted rather than left ending keep-alive with no move to come.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if code := drainGroup(ctx, stdout, stderr, polls, group, had.timeout); code != exitOK {
		return code
	}
	// Drain: had holds new connections (drops their SYNs, which clients
	// retransmit to the new owner) while the VIPs move, so none is accepted
	// here after the drain's last poll and reset as the VIP leaves.
	code := callPrint(stdout, stderr, target{socket: had.socket, timeout: waitTimeout}, ctl.Request{Verb: ctl.VerbStandby, Group: group, Drain: true})
	if code != exitOK {
		// The group stays here: let its clients keep their connections again.
		var st ctl.DrainState
		call(io.Discard, polls, ctl.Request{Verb: ctl.VerbDrain, Action: "cancel", Group: group}, &st)
	}
	return code
}

// drainGroup quiesces group and waits, printing progress, until it can
// move or timeout passes. At the timeout the move goes ahead, like
// HAProxy's hard-stop-after, and says what was still pending. A failure to
// start or follow the drain is an error, and so is ctx ending (hactl
// interrupted): then the drain is lifted and there is no move (exitFail).
func drainGroup(ctx context.Context, stdout, stderr io.Writer, had target, group string, timeout time.Duration) int {
	var st ctl.DrainState
	if code := call(stderr, had, ctl.Request{Verb: ctl.VerbDrain, Action: "start", Group: group}, &st); code != exitOK {
		return code
	}
	fmt.Fprintf(stdout, "draining %v (services %v): %s\n", st.Groups, st.Services, pendingText(st))
	start := time.Now()
	deadline := start.Add(timeout)
	// A line when what the drain waits for changes (connections, the
	// persistence table), else one a second: counts under load change at
	// every poll.
	kind := func(st ctl.DrainState) [2]bool { return [2]bool{st.Open > 0, st.PeersSynced} }
	last, lastPrint := kind(st), start
	for st.Waiting != "" {
		if time.Now().After(deadline) {
			fmt.Fprintf(stdout, "drain timeout %v passed with %s: moving anyway\n", timeout, st.Waiting)
			return exitOK
		}
		select {
		case <-ctx.Done():
			var lifted ctl.DrainState
			if code := call(stderr, had, ctl.Request{Verb: ctl.VerbDrain, Action: "cancel", Group: group}, &lifted); code != exitOK {
				return code
			}
			fmt.Fprintf(stdout, "drain of %v interrupted with %s: drain lifted, nothing moved\n", st.Groups, st.Waiting)
			return exitFail
		case <-time.After(drainPoll):
		}
		// A fresh value each time: had leaves Waiting out once nothing is
		// pending, and decoding into the last answer would keep its text,
		// so the drain would wait for requests long gone until the timeout.
		var next ctl.DrainState
		if code := call(stderr, had, ctl.Request{Verb: ctl.VerbDrain, Action: "check", Group: group}, &next); code != exitOK {
			call(io.Discard, had, ctl.Request{Verb: ctl.VerbDrain, Action: "cancel", Group: group}, &next)
			return code
		}
		st = next
		if kind(st) != last || st.Waiting == "" || time.Since(lastPrint) >= time.Second {
			fmt.Fprintf(stdout, "draining %v after %v: %s\n", st.Groups, time.Since(start).Round(time.Millisecond), pendingText(st))
			last, lastPrint = kind(st), time.Now()
		}
	}
	return exitOK
}

func pendingText(st ctl.DrainState) string {
	if st.Waiting == "" {
		return "no connection or request open, persistence table held by the peer: ready to move"
	}
	return "waiting for " + st.Waiting
}
