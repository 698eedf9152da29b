package ha

import (
	"fmt"

	"github.com/hapair/hapair/internal/groupstate"
)

// State is a node's state for one group. Its values travel on the wire as
// wire.Group.State, so they are fixed numbers: never renumber them.
type State uint8

const (
	StateUnknown  State = 0 // not reported (zero value)
	StateStandby  State = 1 // not holding the group, ready to take it
	StateStarting State = 2 // acquiring: resources starting
	StateMaster   State = 3 // holding the group
	StateStopping State = 4 // releasing: resources stopping
	StateFailed   State = 5 // resources failed here; backing off, priority 0
)

// String returns the state's name (internal/groupstate owns the names).
func (s State) String() string {
	if n := groupstate.Name(uint8(s)); n != "" {
		return n
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Owns reports whether a node in state s counts as holding the group: it has
// started (or is starting) its resources and not begun to release them.
func (s State) Owns() bool { return s == StateStarting || s == StateMaster }

// Valid reports whether s is a state a peer may send.
func (s State) Valid() bool { return s >= StateStandby && s <= StateFailed }
