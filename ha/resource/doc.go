// Package resource runs a resource group the way Heartbeat's haresources
// does: resources start in the order they are listed and stop in reverse;
// a resource that fails to start rolls the group back (the failed resource
// and every resource already started are stopped, in reverse order) so the
// node can give the group to its peer with nothing half-held.
//
// It owns the ordering, rollback and per-resource timeouts and nothing
// else: resources (vip, script, ...) live in adapter packages and reach this
// package only through the Resource interface.
//
// The package is pure: it imports only the standard library, starts no
// timers of its own (timeouts are contexts derived from the caller's) and
// never logs; errors carry the group, the resource and the cause.
package resource
