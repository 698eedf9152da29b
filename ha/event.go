package ha

import (
	"fmt"
	"time"
)

// EventKind says what happened.
type EventKind uint8

const (
	EventStart       EventKind = iota + 1 // the machine starts (initdead begins)
	EventTick                             // a timer armed by ActionArmTimer fired
	EventMessage                          // a heartbeat from a peer (Msg)
	EventTakeover                         // operator: move Group ("" = all) here
	EventStandby                          // operator: move Group ("" = all) to a peer
	EventMaintenance                      // operator: freeze (On) or thaw
	EventLeave                            // this node stops on purpose
	EventCheck                            // a ping node or track check result (Check, OK, Reason)
	EventStarted                          // resources of Group started (OK) or failed (Reason)
	EventStopped                          // resources of Group stopped (OK) or failed (Reason)
	// EventFailed: a resource of Group failed while held (an interface
	// it uses went down, an address could not be repaired): the group is
	// stopped here and given up like a failed start (Reason).
	EventFailed
	// EventResetPeer: operator (`hactl peer reset PEER`): forget Peer's
	// generation, so its next heartbeat is taken whatever its generation
	// (after its state directory was lost).
	EventResetPeer
	// EventReadiness: what this node's balancer can serve for Group:
	// Healthy reals pass their checks here, and its persistence table
	// has caught up with the owner's (OK; Reason says what it lacks
	// otherwise). Only groups with GroupConfig.FailbackGate take it; see
	// the package doc, "Failback readiness".
	EventReadiness
)

var eventNames = [...]string{"", "start", "tick", "message", "takeover", "standby", "maintenance", "leave", "check", "started", "stopped", "failed", "reset-peer", "readiness"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one input to Machine.Step. Now is the caller's clock; it must not
// go backwards between events.
type Event struct {
	Kind    EventKind
	Now     time.Time
	Msg     *Message // EventMessage
	Group   string   // commands ("" = every group), EventStarted, EventStopped, EventFailed
	Check   string   // EventCheck
	On      bool     // EventMaintenance
	OK      bool     // EventCheck, EventStarted, EventStopped; EventReadiness: persistence table caught up
	Reason  string   // why a check or resource failed, or what the persistence table lacks
	Peer    string   // EventResetPeer
	Healthy int      // EventReadiness: reals of Group passing their checks here (>= 0)
}

// Message is one heartbeat, as package ha sees it. ha/agent maps it to and
// from wire.Packet.
type Message struct {
	From        string
	Generation  uint64
	Keepalive   time.Duration
	Leaving     bool // the sender stops on purpose: take over now
	Maintenance bool // the sender is frozen
	Groups      []GroupState
	// Hears is what the sender hears of the other nodes. nil means the
	// sender does not say (a wire version-1 peer): it is then never judged
	// deaf to us. A non-nil list without an entry for us means the same.
	Hears []Hearing
}

// Hearing is what a node hears of one other node, as carried in its
// heartbeats (wire.Heard).
type Hearing struct {
	Node       string
	Generation uint64        // generation last heard from Node; 0 = never
	Age        time.Duration // since the sender last heard Node (meaningless when Generation is 0)
	Alive      bool          // the sender counts Node alive
}

// GroupState is a node's advertised priority and state for one group.
type GroupState struct {
	Name     string
	Priority uint8
	State    State
	// Healthy is how many of the group's reals pass their checks on the
	// sender, when HealthyKnown (a group without a failback gate, a
	// sender whose balancer has not reported, or one that predates the
	// readiness payload says nothing).
	Healthy      int
	HealthyKnown bool
	// NotReady says the sender is not ready to take the group from its
	// owner (its reals or its persistence table): its auto_failback waits,
	// and so does the owner's standby to it.
	NotReady bool
}

// ActionKind says what the caller must do.
type ActionKind uint8

const (
	ActionSend     ActionKind = iota + 1 // broadcast Msg on every link
	ActionStart                          // start Group's resources, then feed EventStarted
	ActionStop                           // stop Group's resources, then feed EventStopped
	ActionAnnounce                       // re-send gratuitous ARP for Group's addresses
	ActionArmTimer                       // feed EventTick at At (replaces the previous timer)
	ActionNotify                         // Group moved to State: log it and run notify hooks
	ActionLog                            // a remark about Peer or the node: log it at Level
)

var actionNames = [...]string{"", "send", "start", "stop", "announce", "arm-timer", "notify", "log"}

func (k ActionKind) String() string {
	if int(k) < len(actionNames) && k != 0 {
		return actionNames[k]
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Level grades an ActionLog.
type Level uint8

const (
	LevelInfo Level = iota
	LevelWarn
	// LevelError: a service outage the operator must act on (a group
	// left with no holder).
	LevelError
)

func (l Level) String() string {
	switch l {
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "info"
}

// Action is one output of Machine.Step. Every action says why in Reason.
type Action struct {
	Kind   ActionKind
	Group  string    // start, stop, announce, notify
	State  State     // notify: the new state
	Peer   string    // log: the peer it is about, if any
	Level  Level     // log
	Topic  string    // log: stable tag for rate limits and counters: late, dead, alive, leaving, split-brain, split-brain-resolved, isolated, one-way
	At     time.Time // arm-timer
	Msg    *Message  // send
	Reason string
}

func (a Action) String() string {
	switch a.Kind {
	case ActionSend:
		return fmt.Sprintf("send %s", a.Msg)
	case ActionArmTimer:
		return fmt.Sprintf("arm-timer %s", a.At.Format("15:04:05.000"))
	case ActionNotify:
		return fmt.Sprintf("notify %s %s: %s", a.Group, a.State, a.Reason)
	case ActionLog:
		return fmt.Sprintf("log %s: %s", a.Level, a.Reason)
	default:
		return fmt.Sprintf("%s %s: %s", a.Kind, a.Group, a.Reason)
	}
}

func (m *Message) String() string {
	s := fmt.Sprintf("%s gen=%d", m.From, m.Generation)
	if m.Leaving {
		s += " leaving"
	}
	if m.Maintenance {
		s += " maintenance"
	}
	for _, g := range m.Groups {
		s += fmt.Sprintf(" %s=%s/%d", g.Name, g.State, g.Priority)
		if g.HealthyKnown {
			s += fmt.Sprintf("/healthy=%d", g.Healthy)
		}
		if g.NotReady {
			s += "/not-ready"
		}
	}
	return s
}
