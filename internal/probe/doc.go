// Package probe is the health-checking leaf shared by ha/ping (ping nodes,
// track scripts) and proxy/check (balancer checks, Zeus monitors): the pure
// rise/fall Tracker (HAProxy's rise/fall and init-state, keepalived's
// track_script rise/fall) and Loop, which runs one probe every interval on a
// clock.Clock. Running programs is internal/runner's job, scheduling
// thousands of reals with bounded concurrency is proxy/check's Prober.
//
// The Tracker does no I/O and reads no clock; Loop reads only its Clock.
// Neither logs.
package probe
