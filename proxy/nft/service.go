package nft

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"time"

	"github.com/hapair/hapair/internal/fwd"
	"github.com/hapair/hapair/proxy/sched"
)

// The kernel's forwarding methods; internal/fwd owns their names.
const (
	MethodNAT = fwd.NAT
	MethodDR  = fwd.DR
)

// Flow idle timeouts of dr's flow map, IPVS's defaults (ipvsadm --set:
// tcp 900 s, udp 300 s): a dr flow unseen this long is forgotten, and its
// next packet is scheduled again.
const (
	FlowTimeoutTCP = 900 * time.Second
	FlowTimeoutUDP = 300 * time.Second
)

// MaxSlots bounds a wrr slot map: the weights divided by their greatest
// common divisor must add up to at most this many slots.
const MaxSlots = 4096

// MinPersistent is the shortest persistence timeout Validate takes:
// ipvsadm -p counts whole seconds.
const MinPersistent = time.Second

// ErrUnsupportedScheduler is wrapped by Validate for lc and wlc: the rule
// path cannot count a real's connections (that takes a conntrack walk per
// new connection, which nftables cannot express).
var ErrUnsupportedScheduler = errors.New("the kernel rule path cannot count a real's connections: nftables cannot read them without a conntrack walk per new connection; use rr, wrr or sh, or method \"proxy\"")

// SchedulerError reports why the kernel methods cannot build scheduler
// name (ipvsadm -s), nil when they can: rr, wrr and sh are built; lc and
// wlc wrap ErrUnsupportedScheduler.
func SchedulerError(name string) error {
	switch name {
	case "rr", "wrr", "sh":
		return nil
	case "lc", "wlc":
		return ErrUnsupportedScheduler
	}
	return errors.New("want rr, wrr or sh")
}

// Service is one kernel virtual service (one ipvsadm -A line with its -a lines).
type Service struct {
	Name      string         // unique, [A-Za-z0-9_-], at most 64 bytes
	Method    fwd.Method     // MethodNAT or MethodDR
	Protocol  string         // "tcp" or "udp"
	VIP       netip.AddrPort // IPv4 virtual address and port
	Scheduler string         // "rr", "wrr" or "sh" (ipvsadm -s)
	// Persistent is the ipvsadm -p timeout: a client (by source address)
	// returns to the same real until it has sent nothing to the service
	// for this long. 0 means no persistence.
	Persistent time.Duration
	Reals      []Real
	// Fallback serves new connections while no real can take them
	// (ldirectord fallback=); invalid means none. For dr it is a real like
	// the others (VIP on its loopback, on-link).
	Fallback *Real
	// Ingress is the interface clients' packets for the VIP arrive on;
	// dr hooks its ingress. Required for dr, ignored for nat.
	Ingress string
	// Seed are persistence entries (from the peer, at a takeover) loaded
	// into a real's persistence set when Apply creates it; a set that
	// exists already keeps the kernel's own entries, which are newer.
	// Entries for other reals, non-IPv4 clients or with no time left
	// are skipped.
	Seed []Persisted
	// SeedFlows are dr flows (from the peer, at a takeover) loaded into
	// a real's flow set when Apply creates it, on the same terms as Seed.
	SeedFlows []Flow
}

// Real is one real server and its state.
type Real struct {
	Addr netip.AddrPort // for dr the port must equal the VIP's (ipvsadm -g cannot remap ports)
	// Weight is the ipvsadm -w weight, 0..65535. 0 is quiescent: no new
	// connections are scheduled to it, established ones continue, and
	// persistent clients keep returning to it (IPVS's default,
	// expire_quiescent_template=0).
	Weight int
	// Down takes the real out for new connections and persistence
	// (failed health check, or drained by `hactl real disable`); its
	// established connections continue.
	Down bool
	// For dr: the interface that reaches the real (on-link), its index
	// and MAC, and the real's MAC. Filled by ResolveDR.
	Link      string
	LinkIndex int
	LinkMAC   net.HardwareAddr
	MAC       net.HardwareAddr
}

// live reports whether r may take persistent clients.
func (r Real) live() bool { return !r.Down }

// schedulable reports whether r takes new connections from the scheduler.
func (r Real) schedulable() bool { return !r.Down && r.Weight > 0 }

// id is a real's stable number inside its service: the flow and
// persistence maps store it, so it must not change when other reals come
// and go. FNV-1a of the address, never 0 (0 reads as "no data").
func (r Real) id() uint32 {
	h := fnv.New32a()
	b, _ := r.Addr.MarshalBinary()
	h.Write(b)
	if v := h.Sum32(); v != 0 {
		return v
	}
	return 1
}

// Validate checks s without touching the kernel: the errors name the
// service and the field.
func (s *Service) Validate() error {
	if err := ValidName(s.Name); err != nil {
		return err
	}
	where := fmt.Sprintf("nft: service %q", s.Name)
	if !s.Method.Kernel() {
		return fmt.Errorf("%s: method %q: want %q or %q", where, s.Method, MethodNAT, MethodDR)
	}
	if s.Protocol != "tcp" && s.Protocol != "udp" {
		return fmt.Errorf("%s: protocol %q: want tcp or udp", where, s.Protocol)
	}
	if !s.VIP.Addr().Is4() || s.VIP.Port() == 0 {
		return fmt.Errorf("%s: virtual address %s: want IPv4 address and port (IPv6 is not supported by the kernel methods yet)", where, s.VIP)
	}
	if err := SchedulerError(s.Scheduler); err != nil {
		return fmt.Errorf("%s: scheduler %q with method %q: %w", where, s.Scheduler, s.Method, err)
	}
	if s.Persistent < 0 || (s.Persistent > 0 && s.Persistent < MinPersistent) {
		return fmt.Errorf("%s: persistent %s: want 0 (off) or at least 1s", where, s.Persistent)
	}
	if s.Method == MethodDR && s.Ingress == "" {
		return fmt.Errorf("%s: dr needs the ingress interface the VIP's packets arrive on", where)
	}
	seen := map[uint32]netip.AddrPort{}
	all := s.Reals
	if s.Fallback != nil {
		all = append(append([]Real(nil), s.Reals...), *s.Fallback)
	}
	for i, r := range all {
		what := fmt.Sprintf("real %s", r.Addr)
		if s.Fallback != nil && i == len(all)-1 {
			what = fmt.Sprintf("fallback %s", r.Addr)
		}
		if !r.Addr.Addr().Is4() || r.Addr.Port() == 0 {
			return fmt.Errorf("%s: %s: want IPv4 address and port", where, what)
		}
		if r.Addr.Addr().IsLoopback() {
			return fmt.Errorf("%s: %s: a loopback address is not reachable by forwarded packets", where, what)
		}
		if r.Weight < 0 || r.Weight > sched.MaxWeight {
			return fmt.Errorf("%s: %s: weight %d out of range 0..%d", where, what, r.Weight, sched.MaxWeight)
		}
		if s.Method == MethodDR && r.Addr.Port() != s.VIP.Port() {
			return fmt.Errorf("%s: %s: dr forwards frames unchanged, so the real's port must be the virtual port %d", where, what, s.VIP.Port())
		}
		if o, dup := seen[r.id()]; dup {
			return fmt.Errorf("%s: %s: listed twice or its id collides with %s", where, what, o)
		}
		seen[r.id()] = r.Addr
	}
	// sh weights its hash buckets from the same slot table as wrr.
	if Weighted(s.Scheduler) {
		if n := len(wrrSlots(s.Reals)); n > MaxSlots {
			return fmt.Errorf("%s: %s weights need %d slots, more than %d: use smaller weights with a common divisor", where, s.Scheduler, n, MaxSlots)
		}
	}
	return nil
}

// resolved reports a dr real that lacks its link or MACs.
func (r Real) resolved() error {
	if r.LinkIndex <= 0 || len(r.MAC) != 6 || len(r.LinkMAC) != 6 {
		return fmt.Errorf("nft: dr real %s: link and MAC addresses not resolved", r.Addr)
	}
	return nil
}

// ValidName reports whether n can name a service's chains, sets and
// maps: 1..64 letters, digits, '_' and '-'.
func ValidName(n string) error {
	if n == "" || len(n) > 64 {
		return fmt.Errorf("nft: service name %q: want 1..64 bytes", n)
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("nft: service name %q: only letters, digits, '_' and '-' can name its chains and maps", n)
		}
	}
	return nil
}
