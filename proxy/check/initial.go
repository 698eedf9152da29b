package check

import "github.com/hapair/hapair/internal/probe"

// InitialState is a real's health before its checks have decided; the
// rise/fall tracker that applies it is probe.Tracker, shared with ha/ping.
// probe.StartUnknown is not offered for reals: a real either gets traffic
// or does not.
type InitialState = probe.InitialState

// The initial states a real can have (config spelling: down, up, fully-down).
const (
	StartDown      = probe.StartDown
	StartUp        = probe.StartUp
	StartFullyDown = probe.StartFullyDown
)
