package runner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrExited is WaitReady's answer when the daemon exited before it
// answered.
var ErrExited = errors.New("exited before it answered")

// WaitReady is the start of a daemon hapair supervises (conntrackd,
// BIRD): it calls ready, a probe of the daemon's control socket, every
// interval until it returns nil. It returns ErrExited as soon as exited
// (closed when the daemon's process ends) is closed, checked before each
// probe; and ready's last error once timeout has passed or ctx has ended,
// for the caller to stop the daemon. Time is real time, as for Run.
func WaitReady(ctx context.Context, exited <-chan struct{}, timeout, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return ErrExited
		default:
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-exited:
		case <-time.After(interval): // polling the new socket
		}
	}
}

// MaxSocketPath is the longest Unix socket path a daemon can listen on:
// sun_path holds 108 bytes with the terminating NUL (unix(7)).
const MaxSocketPath = 107

// SocketPathError reports why path cannot be a supervised daemon's
// control socket (conntrackd's, BIRD's), nil when it can: it must fit
// sun_path, or the daemon fails to listen and WaitReady never sees it
// ready.
func SocketPathError(path string) error {
	if len(path) > MaxSocketPath {
		return fmt.Errorf("its control socket %s is %d bytes, longer than the %d a Unix socket path holds (sun_path, unix(7))", path, len(path), MaxSocketPath)
	}
	return nil
}
