// Package proxy is the embedded load balancer's shell: it owns the virtual
// services of a node (what ldirectord plus IPVS, or HAProxy, do for the
// people behind the VIP), their reals and pools, and wires the leaves
// together: proxy/sched chooses, proxy/persist remembers client affinity,
// health comes from Checkers (proxy/check), and proxy/l4 and proxy/l7 move
// the bytes.
//
// # Behaviour
//
//   - Every service is bound (IP_FREEBIND) and health-checked on every node,
//     active or not, so a takeover costs only the VIP move and an atomic
//     flag: Activate/Deactivate never bind, unbind or wait. A deactivated
//     service resets new TCP connections and drops datagrams; established
//     ones finish.
//   - A real takes new connections when it is healthy, not drained and has
//     weight > 0. Quiescent services keep failed reals at weight 0 (and
//     their clients' affinity); others remove them from scheduling and
//     forget their affinity entries, as ldirectord does.
//   - Pools follow Zeus: any monitor FAIL, error or timeout switches the
//     service to its backup pool, all OK switches back; so does a primary
//     pool with no usable real. The fallback (sorry) server takes traffic
//     only when no pool has a usable real.
//   - Reload changes services and reals in place; established connections
//     are never closed by it.
//
// # Files
//
// One concern each: balancer.go the lifecycle (New, Activate, Deactivate,
// Close, drain), reload.go reload planning, service.go one service's
// listener and data path, pools.go the pools and the upstream.Picker,
// health.go checks, monitors and the pool choice, persistence.go affinity
// export, import and expiry, snapshot.go the status view.
//
// It must not import ha/... or parse configuration files (internal/config
// builds Config), and it logs only transitions, never per connection.
package proxy
