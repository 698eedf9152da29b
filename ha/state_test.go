package ha

import (
	"slices"
	"testing"

	"github.com/hapair/hapair/internal/groupstate"
)

// TestStateNames keeps the states a peer may send (Valid) the ones
// internal/groupstate names for hactl and the metrics, in wire order.
func TestStateNames(t *testing.T) {
	var valid []string
	for s := State(0); s < 16; s++ {
		if s.Valid() {
			valid = append(valid, s.String())
		}
	}
	if want := groupstate.Names(); !slices.Equal(valid, want) {
		t.Errorf("ha's valid states %q, want groupstate.Names() %q", valid, want)
	}
	if got := State(9).String(); got != "State(9)" {
		t.Errorf("State(9).String() = %q, want State(9)", got)
	}
}
