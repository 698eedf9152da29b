// Package ha is the pure per-group ownership state machine of hapair: it
// decides, for every resource group, which node of the cluster should hold it,
// following the rules of Heartbeat (haresources, auto_failback, initdead,
// warntime, deadtime, hb_takeover/hb_standby) and VRRP (RFC 9568: a node that
// stops on purpose advertises priority 0 so its peer takes over at once).
//
// The Machine owns no goroutine, socket, timer, logger or random source and
// never reads the clock: time arrives as Event.Now, and every side effect
// leaves as an Action carrying a human reason ("peer lb1 dead: silent for
// 412ms >= deadtime 400ms"). That keeps it deterministic, so the scenario
// scripts in testdata/ and the simulation in ha/sim drive it with a fake clock.
//
// # Usage
//
// The caller (ha/agent) owns one Machine and, from a single goroutine:
//
//  1. builds it with New(Config) and feeds Event{Kind: EventStart, Now: now};
//  2. feeds every received heartbeat as EventMessage, command as
//     EventTakeover/EventStandby/EventMaintenance/EventLeave, check result as
//     EventCheck, resource completion as EventStarted/EventStopped, and, for
//     groups with GroupConfig.FailbackGate, the balancer's readiness as
//     EventReadiness whenever it changes;
//  3. executes the returned actions in order: ActionSend broadcasts a Message,
//     ActionStart/ActionStop run a group (off the goroutine) and report back,
//     ActionAnnounce re-sends gratuitous ARP, ActionArmTimer asks for an
//     EventTick at Action.At (replacing any earlier request), ActionNotify and
//     ActionLog are transitions and remarks to log and hook.
//
// # Rules
//
// Per group, among the nodes that are alive and not leaving, the highest
// effective priority wins, ties going to the lower node name. Base priorities
// come from Config (the preferred node gets PriorityPreferred, others
// PriorityDefault); failed checks subtract their weight. With AutoFailback
// false an owner keeps its group until it fails, releases it or its effective
// priority drops below its base and a peer outranks it; with AutoFailback true
// a better node takes the group once it has been stable for FailbackHold.
// A group may override the cluster's AutoFailback (GroupConfig.AutoFailback).
// A node that has ping nodes, hears no live peer and reaches none of its ping
// nodes is isolated (Heartbeat ipfail, keepalived track FAULT): it advertises
// priority 0, acquires nothing and releases what it holds, so in a partition
// only the side that still reaches a ping node holds the groups. Nodes that
// hear each other are never isolated; a ping node not yet probed counts as
// reachable.
//
// At start a node waits Initdead for its peers unless every peer has been
// heard fresh: a heartbeat that says its sender last heard an earlier run
// of this node (an older generation) may have been sent before the start,
// queued while the node was down, and show a group unheld that the peer
// holds now; the peer's answer to the new run's first heartbeat is fresh.
// One-way loss (see oneway.go): heartbeats say what the sender hears of
// every other node; a node that a live peer reports not hearing, for at
// least three quarters of that peer's keepalive, advertises priority 0 for
// every group the peer can hold and releases what it holds once the peer
// claims it, so the peer, which decides without it, is the one owner.
// A node whose resources fail advertises priority 0 for that group and backs
// off before it may try again. Two owners (split brain) resolve to the better
// ranked one, which re-announces. An owner releases only once its successor
// claims the group (state Starting or Master), so a planned move costs one
// message, not deadtime. A group two nodes may hold at once (announced by
// BGP: GroupConfig.MakeBeforeBreak) moves make-before-break instead: the
// owner releases once its successor holds it (Master) and a further
// HandoverOverlap has passed, and both holding it meanwhile is a handover,
// not a split brain.
//
// # Failback readiness
//
// DESIGN.md gates failback on conditions, not only a timer: for a group
// with GroupConfig.FailbackGate (it has a balancer), auto_failback takes
// the group back from an owner at or above its base priority only once the
// returning node is ready, not merely stable for FailbackHold. Ready means
// its caller reported (EventReadiness) at least FailbackMinHealthy healthy
// reals, or by default at least as many as the owner advertises (1 when
// the owner advertises none: a peer predating the readiness payload), and
// the persistence table caught up with the owner's. Every gated node
// advertises its healthy count and whether it waits (GroupState.Healthy,
// NotReady, carried in the heartbeat's readiness payload, ha/wire), so
// every node reaches the same decision and status on each says who waits
// for what. Readiness never delays a takeover of a group nobody holds, an
// operator's takeover, or a move away from an owner whose checks failed:
// it only keeps a healthy owner from handing over to a node that would
// serve worse. The handover itself is the usual one: the returning node
// starts, and the owner releases once it sees it claim the group.
//
// A standby (EventStandby, Heartbeat's hb_standby) of a gated group waits
// for the same readiness, from the other side: the peer that would take the
// group advertises NotReady while it is not ready to take it from its owner,
// with or without auto_failback. The machine refuses a standby that would
// not move the group now, with the reason (a peer in standby itself that
// loses the tie, a peer not ready); StandbyBlocked lets the caller wait,
// within a bound, for a block that can end by itself before it asks.
//
// A node that starts a group its live peer holds takes it over as that
// peer decides too, and the peer releases it once it hears the claim:
// both holding it meanwhile is a handover, not a split brain, and so is a
// peer taking a group after this node's standby announced its release.
// One still holding it a deadtime after the new owner took it is a split
// brain after all.
package ha
