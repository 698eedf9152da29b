package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/hapair/hapair/node"
	"github.com/hapair/hapair/node/nodetest"
)

// TestConfigs checks every config the scenarios run had with, without root
// or a lab (it runs in `make unit`, unlike the scenarios): a schema change
// shows up here and not only in a chaos run.
func TestConfigs(t *testing.T) {
	for _, o := range []pairOpts{
		{keepalive: 50 * time.Millisecond},
		{keepalive: 100 * time.Millisecond},
		{keepalive: 100 * time.Millisecond, ping: "198.18.0.21"},
		{keepalive: 100 * time.Millisecond, weight: 2},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			path, _ := nodetest.Sandbox(t, configText("/run/chaos", "/run/chaos/had.sock", o), 0o600)
			if _, err := node.Check(path, node.CheckOptions{NoHost: true}); err != nil { // a config for the lab's namespaces
				t.Errorf("node.Check(chaos config %+v) = %v", o, err)
			}
		})
	}
}
