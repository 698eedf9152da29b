package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Daemon is a program hapair supervises for as long as it runs (BIRD,
// conntrackd), started by StartDaemon under Run's kill and output
// policies.
type Daemon struct {
	pid    int
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	res    Result        // Run's, after done
	err    error
}

// StartDaemon starts c in the background and returns once it has started,
// or exec's error when it could not. Run runs it on an OS thread of its
// own, locked for the daemon's whole life and never handed back to Go,
// with DieWithParent set: the kernel kills the daemon when that thread
// ends, so only when had does. onThread, when not nil, runs first on that thread,
// before the fork: what it sets on the thread (a realtime scheduling
// policy without reset-on-fork, as chrt(1) does) the daemon inherits, and
// a thread so changed must not run other goroutines afterwards.
func StartDaemon(c Command, onThread func()) (*Daemon, error) {
	c.DieWithParent = true
	ctx, cancel := context.WithCancel(context.Background())
	d := &Daemon{cancel: cancel, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(d.done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if onThread != nil {
			onThread()
		}
		d.res, d.err = run(ctx, c, func(pid int, err error) {
			d.pid = pid
			started <- err
		})
	}()
	if err := <-started; err != nil {
		<-d.done
		cancel()
		return nil, err
	}
	return d, nil
}

// Pid is the daemon's process id (the leader of its process group).
func (d *Daemon) Pid() int { return d.pid }

// Done is closed when the daemon has exited and Run has returned.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Exited reports whether the daemon has exited.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Ready waits for the daemon as WaitReady does: ready, a probe of its
// control socket, every interval for at most timeout. A daemon that exits
// first: an error wrapping ErrExited with Reason ("exited before it
// answered: exit status 2: output \"cannot bind\""). One that still does
// not answer once timeout has passed or ctx has ended is stopped (Stop),
// and the error gives the timeout and ready's last error.
func (d *Daemon) Ready(ctx context.Context, timeout, interval time.Duration, ready func() error) error {
	err := WaitReady(ctx, d.done, timeout, interval, ready)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrExited):
		return fmt.Errorf("%w: %s", err, d.Reason())
	}
	d.Stop()
	return fmt.Errorf("not answering after %v (stopped): %w", timeout, err)
}

// Running reports nil while d runs; otherwise an error naming the daemon
// by what ("bgp: BIRD"): "bgp: BIRD not started" for a nil d, "bgp: BIRD
// exited: " and Reason once it has exited. It is a resource's Status.
func (d *Daemon) Running(what string) error {
	switch {
	case d == nil:
		return fmt.Errorf("%s not started", what)
	case d.Exited():
		return fmt.Errorf("%s exited: %s", what, d.Reason())
	}
	return nil
}

// Reason says how the daemon ended, once Done is closed: Run's error, or
// its exit status and output ("exit status 1: output \"...\"").
func (d *Daemon) Reason() string {
	if d.err != nil {
		return d.err.Error()
	}
	return d.res.Status + QuoteOutput(d.res.Output)
}

// Stop ends the daemon as Run ends a program whose context ended
// (SIGTERM to its process group, SIGKILL after c.KillGrace) and returns
// once it has exited. It does nothing more on an exited daemon.
func (d *Daemon) Stop() {
	d.cancel()
	<-d.done
}
