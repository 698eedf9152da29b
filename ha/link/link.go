package link

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hapair/hapair/ha/replay"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/realtime"
	"github.com/hapair/hapair/internal/unicast"
)

// DefaultPort is Heartbeat's IANA port, ha-cluster.
const DefaultPort = 694

// gtsmTTL is the TTL we send with and the only one we accept (RFC 5082):
// a packet that crossed a router arrives with less.
const gtsmTTL = 255

// Spec describes one link.
type Spec struct {
	Name      string                // e.g. "mcast0", "ucast1"; used in stats and logs
	Kind      string                // KindMcast or KindUcast
	Interface string                // mcast: interface to join on and send from; ucast: optional bind device
	Group     netip.Addr            // mcast group (IPv4)
	Port      uint16                // UDP port (default 694)
	Peers     map[string]netip.Addr // ucast: node name -> address; the own entry is the bind address
}

// Keyring signs and verifies packets; *authkeys.Keyring satisfies it.
type Keyring interface {
	wire.Signer
	wire.Verifier
}

// Config configures a Set.
type Config struct {
	ClusterID uint32
	Self      string   // this node's name
	Nodes     []string // every node of the cluster, Self included
	Keyring   Keyring
	Links     []Spec
	Logger    *slog.Logger // nil: discard
	Clock     clock.Clock  // last-heard times, log rate limits, read-error pauses (default clock.Real{})
	// Realtime reads every link on one OS thread of its own, set to
	// SCHED_RR (realtime.Priority) and waiting in ppoll(2) rather than in
	// Go's network poller, so heartbeats are read on time on a loaded
	// machine (Heartbeat's `realtime on`). When the kernel refuses the
	// policy, the thread logs it once and reads at normal priority.
	Realtime bool
}

// Validate reports whether c describes a Set that Open could start, naming
// the link and field at fault; it touches nothing on the system (had --check
// calls it).
func (c *Config) Validate() error {
	if c.Self == "" {
		return errors.New("link: config: self node name is empty")
	}
	if !slices.Contains(c.Nodes, c.Self) {
		return fmt.Errorf("link: config: self %q is not among nodes %q", c.Self, c.Nodes)
	}
	if c.Keyring == nil {
		return errors.New("link: config: no keyring")
	}
	if len(c.Links) == 0 {
		return errors.New("link: config: no links")
	}
	seen := map[string]bool{}
	for i := range c.Links {
		s := &c.Links[i]
		if s.Name == "" || seen[s.Name] {
			return fmt.Errorf("link: config: link %d: name %q is empty or repeated", i, s.Name)
		}
		seen[s.Name] = true
		if err := s.Validate(c.Nodes); err != nil {
			return fmt.Errorf("link: config: link %q: %w", s.Name, err)
		}
		if _, ok := s.Peers[c.Self]; s.Kind == KindUcast && !ok {
			return fmt.Errorf("link: config: link %q: no address for self %q among peers", s.Name, c.Self)
		}
	}
	return nil
}

// Link kinds.
const (
	KindMcast = "mcast" // one multicast group reaches every node (Heartbeat's mcast)
	KindUcast = "ucast" // one datagram per peer address (Heartbeat's ucast)
)

// Validate reports every problem in s for a cluster of nodes, as
// *field.Error values naming "kind", "interface", "group", "port" or
// "peers.NODE". Links carry IPv4 only: the off-link guard (GTSM, RFC 5082)
// reads the received TTL from IPv4 control messages, and IPv6 would need
// its hop-limit twin on a second socket family. A peer given as the zero
// Addr was written but is not an address: its parser reports that, so it
// is neither checked nor missing here.
func (s *Spec) Validate(nodes []string) error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, field.Errorf(path, format, args...)) }
	switch s.Kind {
	case KindMcast:
		switch {
		case !s.Group.IsValid():
			bad("group", "required for mcast links")
		case !s.Group.IsMulticast():
			bad("group", "%s is not a multicast address (want e.g. 239.255.0.94)", s.Group)
		case !s.Group.Is4():
			bad("group", "%s is IPv6; links carry IPv4 only (the TTL-255 guard reads IPv4 control messages)", s.Group)
		}
		if s.Interface == "" {
			bad("interface", "required for mcast links: the group is joined on it")
		}
	case KindUcast:
		for _, name := range slices.Sorted(maps.Keys(s.Peers)) {
			switch a := s.Peers[name]; {
			case !slices.Contains(nodes, name):
				errs = append(errs, field.KeyErrorf("peers."+name, "%q is not a node in %q", name, nodes))
			case !a.IsValid():
				// Written, but not an address: the caller that parsed it
				// reports it (config, at its position).
			case !a.Is4() || a.Is4In6():
				bad("peers."+name, "%s is not an IPv4 address; links carry IPv4 only (the TTL-255 guard reads IPv4 control messages)", a)
			case !a.IsLoopback() && unicast.Problem(a) != "":
				// Loopback has its own rule below (every node on it, for
				// a test on one host).
				bad("peers."+name, "%s cannot be a node's heartbeat address: %s", a, unicast.Problem(a))
			}
		}
		for _, n := range nodes {
			if _, ok := s.Peers[n]; !ok {
				bad("peers", "no address for node %q: every node needs one", n)
			}
		}
		s.loopbackMix(nodes, bad)
	default:
		bad("kind", "%q is not one of %s, %s", s.Kind, KindMcast, KindUcast)
	}
	return errors.Join(errs...)
}

// loopbackMix reports a node on a loopback address beside one that is
// not: a datagram to a loopback address never leaves the sending host, so
// the node elsewhere would never be heard (nodes all on loopback run on
// one host, in a test).
func (s *Spec) loopbackMix(nodes []string, bad func(path, format string, args ...any)) {
	var other string // first node, in nodes order, not on loopback
	for _, n := range nodes {
		if a, ok := s.Peers[n]; ok && a.IsValid() && !a.IsLoopback() {
			other = n
			break
		}
	}
	if other == "" {
		return
	}
	for _, n := range nodes {
		if a, ok := s.Peers[n]; ok && a.IsLoopback() {
			bad("peers."+n, "%s is a loopback address, but node %s's, %s, is not: heartbeats to a loopback address never leave the sending host; give %s's address on the link's network (every node on loopback is for a test on one host)", a, other, s.Peers[other], n)
		}
	}
}

func (s *Spec) port() uint16 {
	if s.Port == 0 {
		return DefaultPort
	}
	return s.Port
}

// Set is a group of links that send every packet on every link and deliver
// each fresh authenticated packet once.
type Set struct {
	cfg   Config
	in    chan *wire.Packet // accepted packets, for Received
	links []*link
	limit *limiter
	nodes map[string]bool
	wg    sync.WaitGroup
	done  chan struct{}

	sendMu  sync.Mutex
	sendBuf []byte
	seq     uint64 // last sequence number sent; guarded by sendMu

	// recvMu orders replay checks and deliveries across links, so deliver
	// sees each peer's packets in increasing (generation, seq) order and is
	// never called concurrently.
	recvMu  sync.Mutex
	filters map[string]*replay.Filter
	recent  map[string]*recentAccepted // guarded by recvMu
	// dropping holds, per peer whose packets are being dropped as
	// replays, the cause ("generation 1 < 3"); cleared when one of its
	// packets is accepted. Guarded by recvMu.
	dropping map[string]string

	// rejectMu guards rejected: the latest rejected packet of each peer
	// (Stats.Rejected), one entry per peer made at New, so recording a
	// drop allocates nothing.
	rejectMu sync.Mutex
	rejected map[string]*Rejection

	// wake is called after each delivery on in, from the receive
	// goroutine (OnReceive).
	wake atomic.Pointer[func()]
	// rt wakes the realtime receive thread at Close; nil without Realtime.
	rt *realtime.Waiter
	// closeLog flushes the queued log lines at Close (Realtime).
	closeLog func()

	closeOnce sync.Once
	closeErr  error
}

// New runs a Set over conns the caller opened: conns[i] carries
// cfg.Links[i]. New sets the unicast and multicast TTL to 255 and turns on
// TTL control messages (IP_RECVTTL); it fails if the conn cannot do that,
// since the TTL check is not optional. Multicast membership is the caller's
// job (Open does it). The Set owns the conns and closes them in Close.
//
// Every packet that passes every check comes out of Received, once.
func New(cfg Config, conns []net.PacketConn) (*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(conns) != len(cfg.Links) {
		return nil, fmt.Errorf("link: %d conns for %d links", len(conns), len(cfg.Links))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.Or(cfg.Clock)
	s := &Set{
		cfg:      cfg,
		in:       make(chan *wire.Packet, receiveBacklog),
		limit:    &limiter{now: cfg.Clock.Now, entries: map[limiterKey]*limiterEntry{}},
		nodes:    map[string]bool{},
		done:     make(chan struct{}),
		sendBuf:  make([]byte, 0, wire.MaxPacketSize),
		filters:  map[string]*replay.Filter{},
		recent:   map[string]*recentAccepted{},
		dropping: map[string]string{},
		rejected: map[string]*Rejection{},
	}
	for _, n := range cfg.Nodes {
		s.nodes[n] = true
		if n != cfg.Self {
			s.filters[n] = new(replay.Filter)
			s.recent[n] = new(recentAccepted)
			s.rejected[n] = new(Rejection)
		}
	}
	for i, c := range conns {
		l, err := newLink(cfg.Links[i], c, cfg.Self, cfg.Nodes)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		s.links = append(s.links, l)
	}
	if cfg.Realtime {
		// The reader's drop and send-failure lines are queued for a normal
		// goroutine to write (see realtime.LogHandler); Close flushes them.
		lh := realtime.NewLogHandler(s.cfg.Logger.Handler())
		s.cfg.Logger, s.closeLog = slog.New(lh), lh.Close
		fds := make([]int, len(s.links))
		for i, l := range s.links {
			fds[i] = l.fd
		}
		w, err := realtime.NewWaiter(fds...)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			lh.Close()
			return nil, fmt.Errorf("link: %w", err)
		}
		s.rt = w
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.receiveRealtime()
		}()
		return s, nil
	}
	for _, l := range s.links {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.receive(l)
		}()
	}
	return s, nil
}

// OnReceive sets f to be called after each packet is put on Received, on
// the receiving goroutine; f must not block. The agent's realtime loop uses
// it to be woken without Go's scheduler. A nil f removes it.
func (s *Set) OnReceive(f func()) {
	if f == nil {
		s.wake.Store(nil)
		return
	}
	s.wake.Store(&f)
}

// receiveBacklog is how many accepted packets wait for the reader of
// Received: several keepalives of every peer, so only a reader stuck far
// longer than a deadtime loses any (counted as DropBacklog).
const receiveBacklog = 256

// Received returns the channel every packet that passed every check comes
// out of, once, in increasing (generation, seq) order per peer. The reader
// (the agent) pulls from it, as wireguard-go's device pulls from the
// receive functions its Bind opened; the Set never waits for it. The
// channel is never closed.
func (s *Set) Received() <-chan *wire.Packet { return s.in }

// Send seals p once and writes it on every link, to the multicast group or
// to every unicast peer but ourselves. The Set owns two header fields and
// stamps them: ClusterID (from the Config) and Seq (one counter per Set,
// from 1; with the generation it makes each packet fresh for ha/replay).
// p must leave them zero. An empty Sender is filled from the Config; another
// node's name is an error. Send returns an error only when no link could
// send; single failures are counted and logged.
func (s *Set) Send(p *wire.Packet) error {
	q := *p
	if q.Sender == "" {
		q.Sender = s.cfg.Self
	}
	if q.Sender != s.cfg.Self {
		return fmt.Errorf("link: sending packet from %q: this node is %q", q.Sender, s.cfg.Self)
	}
	if q.ClusterID != 0 || q.Seq != 0 {
		return fmt.Errorf("link: sending packet with cluster id %d and seq %d: the link set stamps both, leave them zero", q.ClusterID, q.Seq)
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	q.ClusterID = s.cfg.ClusterID
	q.Seq = s.seq + 1
	b, err := wire.AppendSeal(s.sendBuf[:0], &q, s.cfg.Keyring)
	if err != nil {
		return fmt.Errorf("link: sending: %w", err)
	}
	s.seq = q.Seq // a packet that could not be sealed used no number
	var errs []error
	sent := false
	for _, l := range s.links {
		ok, fails := l.send(b)
		sent = sent || ok
		for _, f := range fails {
			errs = append(errs, f.err)
			s.logLimited("heartbeat send failed", "send", l.spec.Name, f.dest.(*net.UDPAddr).AddrPort(), f.err)
		}
	}
	if !sent {
		return fmt.Errorf("link: sending on every link failed: %w", errors.Join(errs...))
	}
	return nil
}

// Close stops every link, closes its socket and waits for its goroutine.
func (s *Set) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		var errs []error
		if s.rt != nil {
			// The realtime thread polls the sockets' descriptors by
			// number: it must be gone before they close and the numbers
			// can be reused.
			s.rt.Wake()
			s.wg.Wait()
			if err := s.rt.Close(); err != nil {
				errs = append(errs, fmt.Errorf("link: %w", err))
			}
		}
		for _, l := range s.links {
			if err := l.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("link: closing %q: %w", l.spec.Name, err))
			}
		}
		s.wg.Wait()
		if s.closeLog != nil {
			s.closeLog()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// link is one Spec's socket, destinations and counters.
type link struct {
	spec  Spec
	conn  net.PacketConn
	pc    *ipv4.PacketConn
	rc    syscall.RawConn // conn's descriptor, read with recvmmsg(2)
	fd    int             // the descriptor's number, for the realtime thread's ppoll
	dests []net.Addr
	// to names the peers each destination reaches: one peer per unicast
	// address, every other node for the multicast group.
	to    [][]string
	stats linkStats
}

func newLink(spec Spec, c net.PacketConn, self string, nodes []string) (*link, error) {
	l := &link{spec: spec, conn: c, pc: ipv4.NewPacketConn(c)}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("link: %q: %T has no file descriptor to read batches from", spec.Name, c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("link: %q: reaching the socket: %w", spec.Name, err)
	}
	l.rc = rc
	if err := rc.Control(func(fd uintptr) { l.fd = int(fd) }); err != nil {
		return nil, fmt.Errorf("link: %q: reaching the socket: %w", spec.Name, err)
	}
	l.stats.lastHeard = map[string]time.Time{}
	l.stats.heardN = map[string]uint64{}
	l.stats.sentTo = map[string]*atomic.Uint64{}
	for _, n := range nodes {
		if n != self {
			l.stats.sentTo[n] = new(atomic.Uint64) // fixed from here on: read without a lock
		}
	}
	port := int(spec.port())
	switch spec.Kind {
	case KindMcast:
		l.dests = []net.Addr{&net.UDPAddr{IP: spec.Group.AsSlice(), Port: port}}
		l.to = [][]string{slices.Sorted(maps.Keys(l.stats.sentTo))}
		if err := l.pc.SetMulticastTTL(gtsmTTL); err != nil {
			return nil, fmt.Errorf("link: %q: setting multicast TTL %d: %w", spec.Name, gtsmTTL, err)
		}
	case KindUcast:
		names := make([]string, 0, len(spec.Peers))
		for name := range spec.Peers {
			if name != self {
				names = append(names, name)
			}
		}
		slices.Sort(names) // deterministic send order
		for _, name := range names {
			l.dests = append(l.dests, &net.UDPAddr{IP: spec.Peers[name].AsSlice(), Port: port})
			l.to = append(l.to, []string{name})
		}
	}
	if err := l.pc.SetTTL(gtsmTTL); err != nil {
		return nil, fmt.Errorf("link: %q: setting TTL %d: %w", spec.Name, gtsmTTL, err)
	}
	if err := l.pc.SetControlMessage(ipv4.FlagTTL, true); err != nil {
		return nil, fmt.Errorf("link: %q: enabling TTL control messages: %w", spec.Name, err)
	}
	return l, nil
}

type sendFailure struct {
	dest net.Addr
	err  error
}

// send writes b to every destination of l. It reports whether any write
// succeeded, and the failures.
func (l *link) send(b []byte) (ok bool, fails []sendFailure) {
	for i, d := range l.dests {
		if _, err := l.pc.WriteTo(b, nil, d); err != nil {
			l.stats.sendErrors.Add(1)
			fails = append(fails, sendFailure{d, fmt.Errorf("link: %q: sending to %v: %w", l.spec.Name, d, err)})
			continue
		}
		l.stats.sent.Add(1)
		for _, peer := range l.to[i] {
			if n := l.stats.sentTo[peer]; n != nil {
				n.Add(1)
			}
		}
		ok = true
	}
	return ok, fails
}
