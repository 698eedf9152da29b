package main

import (
	"log/slog"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// sdNotify tells systemd about a state change; outside systemd it does
// nothing (NOTIFY_SOCKET unset).
func sdNotify(log *slog.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// startWatchdog pings systemd's watchdog at half its interval, but only
// while the agent loop answers: a wedged loop must get the daemon
// restarted, not kept alive by a healthy side goroutine.
func startWatchdog(log *slog.Logger, alive func(timeout time.Duration) bool) (stop func()) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if alive(interval / 2) {
					sdNotify(log, "WATCHDOG=1")
				} else {
					log.Error("agent loop not answering; withholding watchdog ping")
				}
			}
		}
	}()
	return func() { close(done) }
}
