package node

import (
	"slices"
	"testing"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/internal/ctl"
)

// TestGroupStates keeps ctl's list of state names (what scripts and the
// admin metrics enumerate) equal to ha's valid states.
func TestGroupStates(t *testing.T) {
	var want []string
	for s := ha.State(0); s < 16; s++ {
		if s.Valid() {
			want = append(want, s.String())
		}
	}
	if !slices.Equal(ctl.GroupStates, want) {
		t.Errorf("ctl.GroupStates = %q, want ha's valid states %q", ctl.GroupStates, want)
	}
}
