// Package node is one hapair node at run time, the way tailscale's tsd holds
// all the subsystems a node uses: from a validated config it builds the
// heartbeat links (ha/link), the agent around the ownership machine
// (ha/agent), the resource groups (one table row per resource kind: vip,
// balancer, script, ipvs-sync), the embedded balancer (proxy), notify hooks
// and ping/track checks; it runs them, reloads them (planning what a reload
// may change live and what needs a restart), assembles `hactl status` with
// each group's takeover timeline, and answers hactl's requests.
//
// It is the only package that imports both ha/... and proxy/... (test/archtest
// checks it): the balancer reaches the ownership side as a resource of a
// group (balancer.go), whose proxied services are activated first and
// deactivated last in the group, around its VIPs (proxiedActivation); a
// group of VIPs and proxied services keeps both, when released, until its
// successor holds it and the requests in flight here have ended
// (releaseLinger, linger.go); and `hactl standby --drain` quiesces them
// before a planned move (drain.go).
// cmd/had keeps only flags, signals, systemd and logging.
//
// Build with Options.DryRun runs the same constructors and validations but
// touches nothing on the system: no state directory, addresses, sockets,
// processes or netlink. `had --check` and `hactl check-config` use it, so a
// config that passes the check is one had builds. On the node itself
// Check also compares the config with the host (interfaces, own addresses,
// kernel pieces, programs, the socket directory), reading only, as a
// reload does; CheckOptions.NoHost (and Options.NoHost for the dry build)
// leaves the host out for a config meant for another machine.
package node
