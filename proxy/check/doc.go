// Package check decides whether real servers and monitored conditions are
// healthy: one-shot Checkers (connect, negotiate, http, sip, external and
// ldirectord's mixed "N"), a bounded Prober loop that runs checks for many
// reals through internal/probe's rise/fall tracker, and Zeus-style Monitor
// programs combined by a MonitorSet that chooses the primary or the backup
// pool. "Monitor" means only that here and in the whole tree (the config key
// is monitors); ha/ping's ping nodes and track scripts are checks.
//
// It follows ldirectord's checktype= semantics (connect, negotiate, external,
// a number N for "N connects then a negotiate"), HAProxy's rise/fall health
// counting, RFC 3261 for the SIP OPTIONS ping, and the Zeus Load Balancer
// service-monitor for monitors ("The script must simply output OK if
// everything is well, or FAIL if there is a problem").
//
// It owns probing and counting only. It must not change pools or weights,
// log, or import the proxy shell: the Prober reports transitions through a
// callback with a short reason ("negotiate: status 503, want 200") that the
// shell logs and shows in `hactl services`. Check errors are those reasons,
// deliberately without a package prefix; configuration errors from New start
// with "check: ".
//
// # Usage
//
//  1. c, err := New(spec) per service (one Checker serves every real).
//  2. p := NewProber(ProberConfig{OnChange: ...}); p.Add(Job{ID, Target,
//     Checker: c, Spec: spec}) per real; p.Remove(id) when a real goes;
//     p.Stop() at shutdown (it waits for every probe).
//  3. For Zeus pools: NewMonitorSet(monitors, onSwitch), Run(ctx, clock).
package check
