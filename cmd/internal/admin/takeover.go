package admin

import (
	"sort"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/ctl"
)

// Takeover kinds: a takeover follows a lost peer (crash, cut links), a
// switchover is planned (a peer leaving, hactl takeover or standby).
const (
	KindTakeover   = "takeover"
	KindSwitchover = "switchover"
)

// Takeover phases, each measured from the moment this node began to take
// the group (the peer was declared lost, or the command or the leaving
// packet arrived), as DESIGN.md's timeline names them; PhaseVIPBound is
// when every resource of the group (its VIPs among them) had started, and
// PhaseFirstConn when the group's balancer scheduled its first client. PhaseDetection is
// the time before that moment: from the previous owner's last heartbeat to
// the decision (takeovers only).
const (
	PhaseDetection = "detection"
	PhaseVIPBound  = "vip_bound"
	PhaseFirstGARP = "first_garp"
	PhaseFirstConn = "first_connection"
	// PhaseFirstPacket is when the first packet for the group's VIPs
	// arrived (traffic confirmation: clients and routers use the new owner).
	PhaseFirstPacket = "first_packet"
)

// takeoverBuckets are the histogram's upper bounds in seconds, from the
// planned-switchover target (20 ms) past keepalived's 3.6 s crash failover.
var takeoverBuckets = []float64{0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30}

type phaseKey struct{ group, kind, phase string }

// histogram is a plain Prometheus-style histogram: per-bucket counts (not
// cumulative), the total count and the sum in seconds.
type histogram struct {
	counts []uint64
	count  uint64
	sum    float64
}

func (h *histogram) observe(d time.Duration) {
	v := d.Seconds()
	if h.counts == nil {
		h.counts = make([]uint64, len(takeoverBuckets))
	}
	if i := sort.SearchFloat64s(takeoverBuckets, v); i < len(takeoverBuckets) {
		h.counts[i]++
	}
	h.count++
	h.sum += v
}

// cumulative returns the bucket counts keyed by upper bound, as
// prometheus.NewConstHistogram wants them.
func (h *histogram) cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(takeoverBuckets))
	var n uint64
	for i, b := range takeoverBuckets {
		if h.counts != nil {
			n += h.counts[i]
		}
		out[b] = n
	}
	return out
}

// takeovers turns the takeover timelines of status snapshots into
// histograms. Each timeline is counted once per phase, when the phase first
// shows; a group taken twice between two observations counts once (the
// listener observes every 200 ms, far more often than a group can move).
type takeovers struct {
	mu   sync.Mutex
	seen map[string]*seenTimeline // group -> the takeover last recorded
	h    map[phaseKey]*histogram
}

type seenTimeline struct {
	started time.Time
	kind    string
	phases  map[string]bool
}

func newTakeovers() *takeovers {
	return &takeovers{seen: map[string]*seenTimeline{}, h: map[phaseKey]*histogram{}}
}

// observe records the phases of st's takeover timelines not recorded yet.
func (t *takeovers) observe(st ctl.Status) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, g := range st.Groups {
		tl := g.LastTakeover
		if tl == nil || tl.Started.IsZero() {
			continue
		}
		s := t.seen[g.Name]
		if s == nil || !s.started.Equal(tl.Started) {
			s = &seenTimeline{started: tl.Started, kind: takeoverKind(st), phases: map[string]bool{}}
			t.seen[g.Name] = s
		}
		if s.kind == KindTakeover && !tl.PeerLastHeard.IsZero() {
			t.record(g.Name, s, PhaseDetection, tl.Started.Sub(tl.PeerLastHeard))
		}
		if !tl.Running.IsZero() {
			t.record(g.Name, s, PhaseVIPBound, tl.Running.Sub(tl.Started))
		}
		if !tl.FirstARP.IsZero() {
			t.record(g.Name, s, PhaseFirstGARP, tl.FirstARP.Sub(tl.Started))
		}
		if !tl.FirstConnection.IsZero() {
			t.record(g.Name, s, PhaseFirstConn, tl.FirstConnection.Sub(tl.Started))
		}
		if !tl.FirstPacket.IsZero() {
			t.record(g.Name, s, PhaseFirstPacket, tl.FirstPacket.Sub(tl.Started))
		}
	}
}

func (t *takeovers) record(group string, s *seenTimeline, phase string, d time.Duration) {
	if s.phases[phase] {
		return
	}
	s.phases[phase] = true
	k := phaseKey{group, s.kind, phase}
	h := t.h[k]
	if h == nil {
		h = &histogram{}
		t.h[k] = h
	}
	h.observe(max(d, 0))
}

// snapshot copies the histograms.
func (t *takeovers) snapshot() map[phaseKey]histogram {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[phaseKey]histogram, len(t.h))
	for k, h := range t.h {
		c := *h
		c.counts = append([]uint64(nil), h.counts...)
		out[k] = c
	}
	return out
}

// takeoverKind tells a planned switchover (some peer still alive, or
// leaving on purpose) from a takeover after a lost peer.
func takeoverKind(st ctl.Status) string {
	for _, p := range st.Peers {
		if p.Alive || p.Leaving {
			return KindSwitchover
		}
	}
	return KindTakeover
}
