package agent

import (
	"reflect"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/wire"
)

// TestReadinessPayload: the groups' readiness goes out in the heartbeat's
// payload and comes back the same; groups that say nothing send no payload
// (the packets of a pair without gated groups are unchanged); a malformed
// payload leaves the groups saying nothing.
func TestReadinessPayload(t *testing.T) {
	groups := []ha.GroupState{
		{Name: "web", Priority: 200, State: ha.StateStandby, Healthy: 1, HealthyKnown: true, NotReady: true},
		{Name: "db", Priority: 100, State: ha.StateMaster},
		{Name: "big", Priority: 100, State: ha.StateMaster, Healthy: 70000, HealthyKnown: true},
	}
	p := &wire.Packet{Sender: "lb1", Generation: 1, Keepalive: 100 * time.Millisecond, Payload: readinessPayload(groups)}
	for _, g := range groups {
		p.Groups = append(p.Groups, wire.Group{Name: g.Name, Priority: g.Priority, State: uint8(g.State)})
	}
	ev := messageEvent(p)
	if err := applyReadiness(ev.Msg, p); err != nil {
		t.Fatal(err)
	}
	want := append([]ha.GroupState(nil), groups...)
	want[2].Healthy = ha.MaxHealthy // clamped to the 16-bit field
	if !reflect.DeepEqual(ev.Msg.Groups, want) {
		t.Errorf("groups after the round trip = %+v, want %+v", ev.Msg.Groups, want)
	}
	if b := readinessPayload([]ha.GroupState{{Name: "web", Priority: 100, State: ha.StateMaster}}); b != nil {
		t.Errorf("payload of groups saying nothing = %x, want none", b)
	}
	p.Payload = p.Payload[:len(p.Payload)-1]
	ev = messageEvent(p)
	if err := applyReadiness(ev.Msg, p); err == nil {
		t.Error("applyReadiness(truncated payload) = nil error")
	}
	for _, g := range ev.Msg.Groups {
		if g.HealthyKnown || g.NotReady {
			t.Errorf("group %s after a malformed payload = %+v, want it saying nothing", g.Name, g)
		}
	}
}
