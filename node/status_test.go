package node

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// TestAssembleStatus builds `hactl status` from fixed inputs: per-link
// peer health within deadtime, the group's reason with what it waits for,
// the takeover timeline bounded by the last peer heard before the start,
// drop counters by name, and the balancer counting primary reals only.
func TestAssembleStatus(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	cfg := &config.Config{
		Cluster: config.Cluster{Name: "web", ID: 7, Nodes: []string{"lb1", "lb2"}, Deadtime: 500 * time.Millisecond},
		Groups: []config.Group{
			{Name: "web", Preference: []string{"lb1"}, Priorities: map[string]uint8{"lb1": 200, "lb2": 100}, Resources: []config.Resource{{Kind: "vip", VIP: &config.VIP{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}},
			{Name: "db", Preference: []string{"lb2", "lb1"}, Priorities: map[string]uint8{"lb1": 199, "lb2": 200}},
		},
	}
	in := statusInput{
		cfg: cfg, self: "lb2", gen: 9, started: t0, now: at(2000),
		recent: []ctl.Transition{{Group: "web", State: "master"}},
		machine: ha.Status{
			Peers: []ha.PeerStatus{{Name: "lb1", Alive: false, LastHeard: at(1000), Generation: 4}},
			Groups: []ha.GroupStatus{
				{Name: "web", State: ha.StateMaster, Owner: "lb2", Priority: 100, Reason: "peer lb1 dead", Since: at(1500)},
				{Name: "db", State: ha.StateStandby, Owner: "", Priority: 200, Reason: "starting", Waiting: "initdead: waiting 3s for peers"},
			},
		},
		links: link.Stats{Links: []link.LinkStats{
			{Name: "mcast0", Kind: "mcast", Sent: 20, Received: 10, Drops: map[link.DropReason]uint64{link.DropBadMAC: 2},
				LastHeard: map[string]time.Time{"lb1": at(1000)}, Heard: map[string]uint64{"lb1": 8}},
			{Name: "ucast0", Kind: "ucast", Sent: 20, Received: 12, Drops: map[link.DropReason]uint64{},
				LastHeard: map[string]time.Time{"lb1": at(1600)}},
		}},
		timeline: func(group string) (started, running, firstARP time.Time) {
			if group == "web" {
				return at(1500), at(1520), at(1530)
			}
			return
		},
		balancer: &proxy.Snapshot{Services: []proxy.ServiceStatus{
			{Name: "http", Active: true, Reals: []proxy.RealStatus{
				{Pool: "primary", Healthy: true}, {Pool: "primary", Healthy: false}, {Pool: "backup", Healthy: true}}},
			{Name: "sip", Active: false, Reals: []proxy.RealStatus{{Pool: "primary", Healthy: true}}},
		}},
	}
	want := ctl.Status{
		Version: ctl.SchemaVersion, Recent: []ctl.Transition{{Group: "web", State: "master"}},
		Node: "lb2", Cluster: "web", ClusterID: 7, Generation: 9, Started: t0,
		Peers: []ctl.PeerStatus{{Name: "lb1", Alive: false, LastHeard: at(1000), Generation: 4,
			Links: map[string]bool{"mcast0": false, "ucast0": true}}},
		Groups: []ctl.GroupStatus{
			{Name: "web", Owner: "lb2", State: "master", Preferred: "lb1", Priority: 100,
				Preference: []string{"lb1"}, Priorities: []ctl.NodePriority{{Node: "lb1", Priority: 200}, {Node: "lb2", Priority: 100}}, Reason: "peer lb1 dead", Since: at(1500),
				VIPs: []string{"198.18.0.100/24"}, LastTakeover: &ctl.Timeline{PeerLastHeard: at(1000), Started: at(1500), Running: at(1520), FirstARP: at(1530)}},
			{Name: "db", State: "standby", Preferred: "lb2", Priority: 200,
				Preference: []string{"lb2", "lb1"}, Priorities: []ctl.NodePriority{{Node: "lb2", Priority: 200}, {Node: "lb1", Priority: 199}}, Reason: "starting; initdead: waiting 3s for peers"},
		},
		Links: []ctl.LinkStatus{
			{Name: "mcast0", Kind: "mcast", Sent: 20, Received: 10, Drops: map[string]uint64{"bad-mac": 2}, Heard: map[string]uint64{"lb1": 8}},
			{Name: "ucast0", Kind: "ucast", Sent: 20, Received: 12, Drops: map[string]uint64{}},
		},
		Balancer: &ctl.Balancer{Services: 2, Active: 1, RealsUp: 2, RealsTotal: 3},
	}
	if got := assembleStatus(in); !reflect.DeepEqual(got, want) {
		t.Errorf("assembleStatus() =\n%+v\nwant\n%+v", got, want)
	}
}
