package ctl

import (
	"encoding/json"
	"fmt"
	"strings"
)

// DefaultSocket is where had listens and hactl dials unless configured.
const DefaultSocket = "/run/hapair/had.sock"

// Verbs understood by had. A request names one.
const (
	VerbStatus      = "status"
	VerbTakeover    = "takeover"
	VerbStandby     = "standby"
	VerbMaintenance = "maintenance"
	VerbReload      = "reload"
	VerbServices    = "services"
	VerbReal        = "real"
	VerbPeer        = "peer"
	// VerbDrain is the daemon side of `hactl standby --drain`: Action
	// "start" quiesces the group's services, "check" reports a DrainState,
	// "cancel" ends the drain without moving.
	VerbDrain = "drain"
)

// DrainState is had's answer to VerbDrain: how far a drain of Group ("" =
// every group held here) has come.
type DrainState struct {
	Groups   []string `json:"groups"`   // the groups being drained
	Services []string `json:"services"` // their services on this node's balancer
	// Open is the TCP connections and HTTP requests in flight on Services.
	Open int64 `json:"open"`
	// PeersSynced: every live peer holds this node's persistence table up
	// to the drain's start (true without persistence sync).
	PeersSynced bool `json:"peers_synced"`
	// Waiting says what the move still waits for ("" when nothing).
	Waiting string `json:"waiting,omitempty"`
}

// Request is what hactl sends. Fields not used by a verb stay empty.
type Request struct {
	Verb    string `json:"verb"`
	Group   string `json:"group,omitempty"`   // takeover, standby: "" means every group
	On      bool   `json:"on,omitempty"`      // maintenance
	DryRun  bool   `json:"dry_run,omitempty"` // reload: report the diff only
	Action  string `json:"action,omitempty"`  // real: "disable" | "enable"; drain: "start" | "check" | "cancel"
	Service string `json:"service,omitempty"` // real
	Real    string `json:"real,omitempty"`    // real: "198.18.0.21:80"
	Peer    string `json:"peer,omitempty"`    // peer: the node whose replay state to reset (Action "reset")
	// Drain (standby): the groups were drained (VerbDrain); had holds new
	// connections to their services during the move (SYN hold).
	Drain bool `json:"drain,omitempty"`
}

// Response is what had answers. Error is set when the verb failed; Result
// holds the verb's JSON payload otherwise.
type Response struct {
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// maxMessage bounds one request or response so a confused peer cannot make
// either side buffer without limit. Status of a large balancer fits easily.
const maxMessage = 8 << 20

// RemoteError is a failure reported by had, as opposed to a failure to
// reach it. hactl exits 1 for the former and 2 for the latter.
type RemoteError struct {
	Verb string
	Msg  string
}

// Error names the verb once: had's message may already start with it
// ("reload: had.toml:25:1: ...").
func (e *RemoteError) Error() string {
	if strings.HasPrefix(e.Msg, e.Verb+": ") {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Verb, e.Msg)
}
