package admin

import (
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// Source is what the node hands the admin listener (*node.Node is one).
// Each method returns a fresh snapshot that shares nothing with the node,
// and is safe for concurrent use.
type Source interface {
	// Status is the document of `hactl status -o json`.
	Status() ctl.Status
	// Services is the balancer table of `hactl services`; nil when no
	// service is configured.
	Services() *proxy.Snapshot
	// Reloads counts config reloads by result: "ok" or "failed".
	Reloads() map[string]uint64
}
