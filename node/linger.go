package node

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
)

// A group's VIP used to leave the moment a successor claimed the group
// (Starting), before the successor had added it or sent its gratuitous
// ARP: a client's SYN sent in between went to this node's MAC and was
// dropped (a 1s retransmission later it reached the successor), and a
// request this node had accepted got an answer it could no longer send
// (the VIP, its source, was gone). The e2e lab saw both in about one
// planned move in four (test/e2e TestStandbyWaitsForRestartedPeer, a
// client every 10ms: "context deadline exceeded" after 1s). So a group
// whose VIPs front proxied services and nothing else that must run on one
// node at a time keeps its VIPs and services while it is released, until
// a successor holds the group (its VIPs added and announced) and the
// requests in flight here have been answered: the clients move with the
// successor's gratuitous ARP, and what this node had accepted finishes.
//
// What the linger alone cannot save: a client that finished its handshake here
// and sends its request (or anything else) after the successor's
// gratuitous ARP reached it. That segment goes to the successor, which
// knows no such connection and resets it ("connection reset by peer").
// Only the successor can help: it forwards the segments of flows it saw
// no SYN of to this node while it lingers (handoverForward).

// lingerBound bounds that wait, from the start of the release: a
// successor starts a vip and a balancer in milliseconds and a request in
// flight takes about as long; an L4 connection may stay open for hours,
// and its client reaches the successor once the ARP moved anyway.
const lingerBound = time.Second

// lingerPoll is how often the wait looks again (holdPoll's pace: the
// accept queues come from /proc/net/tcp, which costs more the more
// connections the host has).
const lingerPoll = 5 * time.Millisecond

// releaseLinger is the last resource of such a group (lingerServices):
// stopped first, its Stop is that wait. Start does nothing.
type releaseLinger struct {
	group    string
	services []string
	// successor reports who holds the group now, other than this node
	// ("" = nobody yet), and whether one may still come (a live peer
	// that can take it); quiet reports what is still in flight here
	// (requests and connections of services, and handshakes not yet
	// accepted on the group's VIPs). Node.successor and Node.inFlight.
	successor func(group string) (holder string, coming bool)
	quiet     func(group string, services []string) (int64, error)
	log       func(msg string, args ...any)
	bound     time.Duration // 0: lingerBound
}

var _ resource.Resource = (*releaseLinger)(nil)

func (r *releaseLinger) Name() string                 { return fmt.Sprintf("release linger %v", r.services) }
func (r *releaseLinger) Start(context.Context) error  { return nil }
func (r *releaseLinger) Status(context.Context) error { return nil }

// Stop waits, lingerBound at most, until a successor holds the group and
// nothing is in flight here; at once when no peer can take the group.
// It never fails: the release goes on whatever it finds.
func (r *releaseLinger) Stop(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(r.bound, lingerBound))
	defer cancel()
	tick := time.NewTicker(lingerPoll)
	defer tick.Stop()
	holder, open := "", int64(0)
	for {
		var coming bool
		if holder == "" {
			holder, coming = r.successor(r.group)
			if holder == "" && !coming {
				return nil // nobody takes it over: nothing to wait for
			}
		}
		if holder != "" {
			var err error
			if open, err = r.quiet(r.group, r.services); err == nil && open == 0 {
				r.log("released after the successor held the group and requests in flight ended", "group", r.group,
					"successor", holder, "waited", time.Since(start).Round(time.Millisecond))
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if holder == "" {
				r.log("releasing although no successor holds the group yet", "group", r.group, "waited", time.Since(start).Round(time.Millisecond))
			} else {
				r.log("releasing with connections still open; their clients reach the successor now", "group", r.group,
					"successor", holder, "open", open, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		case <-tick.C:
		}
	}
}

// lingerServices returns the proxied services of g's balancers when g
// lingers at release (releaseLinger): it has a vip, and its other
// resources are balancers of proxied services only. A script, a sync
// daemon or a kernel (nat, dr) service must not run on two nodes at once,
// and a bgp group moves make-before-break in the machine already.
func lingerServices(g config.Group, kernel map[string]bool) []string {
	var services []string
	vips := false
	for _, r := range g.Resources {
		switch r.Kind {
		case config.KindVIP:
			vips = true
		case config.KindBalancer:
			for _, s := range r.Balancer.Services {
				if kernel[s] {
					return nil
				}
				if !slices.Contains(services, s) {
					services = append(services, s)
				}
			}
		default:
			return nil
		}
	}
	if !vips {
		return nil
	}
	return services
}

// withLinger appends g's releaseLinger to rs (in start order) when g
// lingers and the node has a balancer to ask.
func (e *env) withLinger(g config.Group, rs []resource.Resource) []resource.Resource {
	services := lingerServices(g, e.kernelNames)
	if len(services) == 0 || e.successor == nil || e.inFlight == nil {
		return rs
	}
	return append(rs, &releaseLinger{group: g.Name, services: services, successor: e.successor, quiet: e.inFlight,
		log: func(msg string, args ...any) { e.log.Info(msg, args...) }})
}

// successor is releaseLinger's view of the machine: the live peer that
// holds group (Master), if any, and whether a live peer not leaving nor in
// maintenance may still take it.
func (n *Node) successor(group string) (holder string, coming bool) {
	if n.agent == nil {
		return "", false
	}
	return successorIn(n.agent.Status(), group)
}

// successorIn is successor on a status snapshot.
func successorIn(st ha.Status, group string) (holder string, coming bool) {
	for _, g := range st.Groups {
		if g.Name == group && g.Owner != "" && g.Owner != st.Node && g.OwnerHolds {
			return g.Owner, false
		}
	}
	return "", slices.ContainsFunc(st.Peers, func(p ha.PeerStatus) bool { return p.Alive && !p.Leaving && !p.Maintenance })
}

// inFlight is releaseLinger's count of what is still in flight here for
// group: the requests and connections of services (Balancer.OpenConns),
// then the connections in the accept queues of the group's VIPs, which
// the balancer has not seen yet, and the handshakes under way on them: a
// client's next segment that reaches the successor is forwarded here
// (handoverForward), so those handshakes complete here.
func (n *Node) inFlight(group string, services []string) (int64, error) {
	if n.balancer == nil {
		return 0, nil
	}
	open, err := n.balancer.OpenConns(services...)
	if err != nil || open > 0 {
		return open, err
	}
	queued, err := procQueues(heldVIPs(n.config(), []string{group}, services), true)
	return int64(queued), err
}
