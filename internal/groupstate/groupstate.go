// Package groupstate names a node's states for one resource group: the
// words `hactl status`, the JSON status and the admin metrics show. The
// state machine (ha.State's String) and the control protocol (internal/ctl,
// which hactl imports and which must not import the state machine) share
// this one list.
//
// The package is pure: no I/O, standard library only.
package groupstate

import "slices"

// The state names. Master is Heartbeat's and keepalived's word for the
// node holding a group.
const (
	Unknown  = "unknown"  // not reported (the zero value)
	Standby  = "standby"  // not holding the group, ready to take it
	Starting = "starting" // acquiring: resources starting
	Master   = "master"   // holding the group
	Stopping = "stopping" // releasing: resources stopping
	Failed   = "failed"   // resources failed here; backing off
)

// names is indexed by the state's value on the wire (ha.State): these
// numbers are fixed, so the order never changes.
var names = [...]string{Unknown, Standby, Starting, Master, Stopping, Failed}

// Name returns the name of the state with wire value v (ha.State), "" when
// v has none.
func Name(v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return ""
}

// Names lists the states a node reports, in wire order: standby, starting,
// master, stopping, failed (Unknown is never reported). The caller owns
// the slice.
func Names() []string { return slices.Clone(names[1:]) }
