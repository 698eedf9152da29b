// Package sched chooses a real server for a new connection: round robin (rr),
// smooth weighted round robin (wrr), least connections (lc), weighted least
// connections (wlc) and source hashing (sh), with the semantics of the Linux
// IPVS schedulers of the same names (ip_vs_rr.c, ip_vs_wrr.c, ip_vs_lc.c,
// ip_vs_wlc.c, ip_vs_sh.c) that ldirectord drives, except where a type's doc
// says why it differs.
//
// It owns only the choice. It must not do I/O, read the clock, log, or use the
// global math/rand functions: randomness comes in as a *rand.Rand
// (math/rand/v2) given to New, so a seed makes every choice reproducible.
// Health, draining and persistence belong to the caller, which expresses them
// as weights: a candidate with Weight 0 (quiescent, drained, failed) is never
// picked.
//
// # Usage
//
//  1. At config time, s, err := New(name, rng), then s.(Validator).Validate(cands)
//     or the package-level Validate(name, cands) to reject bad weights.
//  2. Per new connection, i := s.Pick(cands, clientAddr); -1 means no candidate
//     has a positive weight (serve the fallback). Then count the connection in
//     cands[i].Active until it closes (lc and wlc read it).
//  3. Keep a real's index stable while it exists (set its Weight to 0 rather
//     than removing it) if rr/wrr fairness and sh stickiness across the change
//     matter; a change in len(cands) restarts the per-scheduler state.
//
// Every Scheduler is safe for concurrent use.
package sched
