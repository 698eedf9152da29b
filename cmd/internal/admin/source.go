package admin

import (
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/proxy"
)

// Source is what the node hands the admin listener. Each method returns a
// fresh snapshot that shares nothing with the node, and is safe for
// concurrent use.
type Source interface {
	// Status is the document of `hactl status -o json`.
	Status() ctl.Status
	// Services is the balancer table of `hactl services`; nil when no
	// service is configured.
	Services() *proxy.Snapshot
	// Counters are the counters status does not carry.
	Counters() Counters
}

// Counters are node counters for /metrics beyond what Status shows.
type Counters struct {
	// Links are the heartbeat links' counters (sent, heard per peer, drops
	// per reason).
	Links link.Stats
	// Reloads counts config reloads (SIGHUP, hactl reload) by result:
	// "ok" or "failed".
	Reloads map[string]uint64
}
