package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/unicast"
)

// Config describes one VIP. Address is required; everything else has a
// default.
type Config struct {
	// Address is the VIP with its prefix length, e.g. 198.18.0.100/24
	// (IPaddr2's ip and cidr_netmask).
	Address netip.Prefix
	// Interface to add the address to; default: the interface with an
	// address whose subnet contains the VIP (longest prefix wins).
	Interface string
	// Label is the IPv4 address label, as `ip addr add ... label eth0:web`
	// (ip-address(8)): Interface itself or Interface + ":" + a suffix, at
	// most MaxLabel bytes. Empty: no label, IPaddr2's default.
	Label string
	// Schedule of announcements after a takeover (default DefaultSchedule).
	Schedule Schedule
	// Form of gratuitous ARP (default FormBoth).
	Form Form
	// Lifetime is the kernel lifetime (valid_lft and preferred_lft) the
	// address is added with, in whole seconds, at least 2s (default
	// DefaultLifetime). While the VIP is held it is refreshed every
	// Lifetime/4, so the address outlives a dead daemon (SIGKILL, OOM)
	// by at most Lifetime + 1s (the kernel checks lifetimes at whole
	// seconds) instead of answering ARP next to the new owner until the
	// daemon returns (as Heartbeat's and keepalived's VIPs do).
	Lifetime time.Duration

	// Confirm, when set, checks after each takeover that traffic for the
	// (IPv4) VIP arrives, re-announcing with backoff until it does (see
	// ConfirmFirst), for at most ConfirmFor (default DefaultConfirmFor).
	Confirm    Confirmer
	ConfirmFor time.Duration

	Kernel Kernel       // required: OpenNetlink("") in production
	Dial   Dialer       // default DialLink
	Clock  clock.Clock  // time of the announcement loop (default clock.Real{})
	Logger *slog.Logger // default: discard
}

// DefaultLifetime is the default Config.Lifetime: refreshed every second,
// it rides out three missed refreshes, and a dead daemon's address is
// gone within 5s.
const DefaultLifetime = 4 * time.Second

// ErrNotOwned is returned (wrapped) by Start when the address is already on
// the host but hapair did not add it: it carries no IFA_PROTO Proto mark.
// Such an address (the host's own, a link's source address, a copy added
// by hand or by another tool) is never taken over or removed.
var ErrNotOwned = errors.New("address not added by hapair")

// Stats are the VIP's counters and its last takeover's timeline.
type Stats struct {
	Held          bool
	Interface     string
	TakeoverAt    time.Time // when Start added (or kept) the address
	FirstAnnounce time.Time // when the first announcement of that takeover went out
	// FirstPacket is when the first packet for the VIP arrived after that
	// takeover (zero until then, and without Config.Confirm).
	FirstPacket time.Time
	// Reannounced counts announcements the confirmation loop added
	// because no packet for the VIP had arrived yet.
	Reannounced   uint64
	Announcements uint64 // sends since New
	SendErrors    uint64
	// Repairs counts refreshes that found the address gone while held
	// (removed by hand, by a link reset, or expired) and added it back.
	Repairs   uint64
	LastError string
}

// VIP is the vip resource. It is safe for concurrent use.
type VIP struct {
	cfg  Config
	ip   netip.Addr
	name string

	op       sync.Mutex // serializes Start, Stop and RemoveStale
	mu       sync.Mutex // guards the fields below
	running  *announcer // nil when not held
	stats    Stats
	announce chan struct{}
	repair   chan struct{} // wakes the keeper at once (AddrRemoved)
}

// New validates cfg and returns the resource. It touches nothing: the
// interface is resolved at each Start.
func New(cfg Config) (*VIP, error) {
	if err := cfg.Validate(); err != nil {
		if !cfg.Address.IsValid() {
			return nil, fmt.Errorf("vip: %w", err)
		}
		return nil, fmt.Errorf("vip: %s: %w", cfg.Address, err)
	}
	ip := cfg.Address.Addr()
	if cfg.Kernel == nil {
		return nil, fmt.Errorf("vip: %s: no kernel access configured", cfg.Address)
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Lifetime < 2*time.Second || cfg.Lifetime%time.Second != 0 {
		return nil, fmt.Errorf("vip: %s: lifetime %v: want whole seconds, at least 2s", cfg.Address, cfg.Lifetime)
	}
	cfg.Schedule = cfg.Schedule.WithDefaults()
	if cfg.Dial == nil {
		cfg.Dial = DialLink
	}
	if cfg.ConfirmFor <= 0 {
		cfg.ConfirmFor = DefaultConfirmFor
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	name := "vip " + cfg.Address.String()
	if cfg.Interface != "" {
		name += " dev " + cfg.Interface
	}
	return &VIP{cfg: cfg, ip: ip, name: name, announce: make(chan struct{}, 1), repair: make(chan struct{}, 1)}, nil
}

// MaxLabel is the kernel's limit for an address label: IFNAMSIZ (16) less
// the terminating NUL.
const MaxLabel = 15

// Validate reports every problem in c's address, label and schedule (not
// its handles: Kernel, Dial, Clock, Logger) as *field.Error values naming
// "address", "label" or "garp.KEY".
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, field.Errorf(path, format, args...)) }
	ip := c.Address.Addr()
	if !c.Address.IsValid() {
		bad("address", "required")
	} else if err := AddressError(c.Address); err != nil {
		bad("address", "%v", err)
	}
	if c.Label != "" {
		switch {
		case ip.Is6():
			bad("label", "%q: IPv6 addresses carry no label", c.Label)
		case c.Interface == "":
			bad("label", "%q needs interface: the kernel wants a label to start with the device name", c.Label)
		case c.Label != c.Interface && !strings.HasPrefix(c.Label, c.Interface+":") || len(c.Label) > MaxLabel:
			bad("label", "%q must be %q or start with %q, at most %d bytes (e.g. %q)", c.Label, c.Interface, c.Interface+":", MaxLabel, c.Interface+":vip")
		case strings.ContainsFunc(c.Label, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }):
			// ifconfig and net-tools show a label as an interface
			// alias, and scripts split `ip addr` output at spaces.
			bad("label", "%q holds white space, a control character or '/': a label is named as an interface is", c.Label)
		}
	}
	if err := c.Schedule.Validate(); err != nil {
		errs = append(errs, field.In("garp", err))
	}
	return errors.Join(errs...)
}

// AddressError reports why p cannot be a virtual address, nil when it
// can: it must be a unicast, non-loopback IPv4 or IPv6 address with no
// zone, not IPv4-mapped, and an IPv4 one neither the limited broadcast
// 255.255.255.255 nor, on a prefix of /30 or shorter, the network or
// broadcast address of its own subnet (RFC 919 §7, RFC 922 §7; the kernel
// takes such an address, and then answers for the whole subnet's
// broadcasts while hosts on the LAN never unicast to it). /31 and /32
// have no broadcast (RFC 3021). Nor is it in 0.0.0.0/8, nor, for IPv6 on
// a prefix of /126 or shorter, the Subnet-Router anycast address (host
// bits zero, RFC 4291 section 2.6.1), as "::/64" is. An IPv6 link-local
// address is one: keepalived's VRRP for IPv6 (RFC 5798) announces one.
func AddressError(p netip.Prefix) error {
	ip := p.Addr()
	if why := unicast.Problem(ip); why != "" {
		return fmt.Errorf("%s cannot be a virtual address: %s", p, why)
	}
	if ip.Is4() && p.Bits() <= 30 {
		switch ip {
		case p.Masked().Addr():
			return fmt.Errorf("%s cannot be a virtual address: it is the network address of %s; pick a host address, or write the prefix of the subnet it belongs to", p, p.Masked())
		case Broadcast(p):
			return fmt.Errorf("%s cannot be a virtual address: it is the broadcast address of %s; pick a host address, or write the prefix of the subnet it belongs to", p, p.Masked())
		}
	}
	if ip.Is6() && p.Bits() <= 126 && ip == p.Masked().Addr() {
		return fmt.Errorf("%s cannot be a virtual address: it is the Subnet-Router anycast address of %s (RFC 4291 section 2.6.1), which the routers on the link answer; pick a host address, or write the prefix of the subnet it belongs to", p, p.Masked())
	}
	return nil
}

// Broadcast returns the broadcast address of an IPv4 prefix's subnet, its
// host bits all ones (RFC 919 §7): 198.18.0.255 for 198.18.0.100/24, the
// address the kernel gives an address added with `brd +` (ip-address(8)).
// On /31 and /32 it is the prefix's last address, which RFC 3021 does not
// use as a broadcast. It is the zero Addr for an IPv6 prefix (IPv6 has no
// broadcast).
func Broadcast(p netip.Prefix) netip.Addr {
	if !p.Addr().Is4() {
		return netip.Addr{}
	}
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Name returns "vip 198.18.0.100/24 dev eth0" (without "dev" when the
// interface is found from the subnet).
func (v *VIP) Name() string { return v.name }

// link resolves the interface the VIP belongs on.
func (v *VIP) link(addrs []Addr) (Link, error) {
	if v.cfg.Interface != "" {
		l, err := v.cfg.Kernel.LinkByName(v.cfg.Interface)
		if err != nil {
			return Link{}, fmt.Errorf("vip: finding interface %q for %s: %w", v.cfg.Interface, v.cfg.Address, err)
		}
		return l, nil
	}
	idx, ok := linkFor(addrs, v.ip)
	if !ok {
		return Link{}, fmt.Errorf("vip: no interface has a subnet containing %s; set interface", v.ip)
	}
	l, err := v.cfg.Kernel.LinkByIndex(idx)
	if err != nil {
		return Link{}, fmt.Errorf("vip: finding interface %d for %s: %w", idx, v.cfg.Address, err)
	}
	return l, nil
}

// Start adds the address (idempotently) with the Proto mark and a finite
// Lifetime and announces it at once, then keeps announcing on the schedule
// and refreshing the lifetime until Stop. A copy of the address already
// present is never trusted to be announced: Start always sends. A copy
// that hapair added on another interface is moved, one with another prefix
// length replaced; a copy it did not add makes Start fail with ErrNotOwned
// and is left alone.
func (v *VIP) Start(ctx context.Context) error {
	v.op.Lock()
	defer v.op.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	addrs, err := v.cfg.Kernel.Addrs()
	if err != nil {
		return fmt.Errorf("vip: listing addresses for %s: %w", v.cfg.Address, err)
	}
	l, err := v.link(addrs)
	if err != nil {
		return err
	}
	if !l.Up {
		// The address would be added but carry nothing; the peer, whose
		// interface works, should hold the group instead.
		return fmt.Errorf("vip: %s: interface %s down (admin down or no carrier)", v.cfg.Address, l.Name)
	}
	for _, a := range addrs {
		if a.Prefix.Addr() == v.ip && a.Proto != Proto {
			return v.notOwned(a)
		}
	}
	for _, a := range addrs {
		if a.Prefix.Addr() == v.ip && (a.LinkIndex != l.Index || a.Prefix.Bits() != v.cfg.Address.Bits()) {
			if err := v.del(a); err != nil {
				return err
			}
		}
	}
	// Added or, when present, refreshed: either way it ends with the mark
	// and a full lifetime.
	if err := v.cfg.Kernel.AddrAdd(l, v.want(l)); err != nil {
		return fmt.Errorf("vip: adding %s to %q: %w", v.cfg.Address, l.Name, err)
	}
	if v.running != nil && v.running.link.Index == l.Index {
		v.announceLocked()
		return nil
	}
	v.stopAnnouncer()
	s, err := v.cfg.Dial(l, v.ip)
	if err != nil {
		return err
	}
	now := v.cfg.Clock.Now()
	v.stats.Held, v.stats.Interface, v.stats.TakeoverAt, v.stats.FirstPacket = true, l.Name, now, time.Time{}
	a := &announcer{v: v, link: l, sender: s, stop: make(chan struct{}), done: make(chan struct{}), kept: make(chan struct{}),
		confirmed: make(chan struct{})}
	v.running = a
	// The first announcement goes out before Start returns, so "VIP bound"
	// and "first gratuitous ARP" are one step in the takeover timeline.
	v.sendLocked(a, now)
	go a.run(now)
	go a.keep()
	if v.cfg.Confirm != nil && v.ip.Is4() {
		go a.confirm(now)
	} else {
		close(a.confirmed)
	}
	return nil
}

// want is the address as Start adds it on l.
func (v *VIP) want(l Link) Addr {
	a := Addr{Prefix: v.cfg.Address, LinkIndex: l.Index, Proto: Proto, Lifetime: v.cfg.Lifetime}
	if v.ip.Is4() {
		a.Label = v.cfg.Label
	}
	return a
}

// notOwned names an address hapair must leave alone.
func (v *VIP) notOwned(a Addr) error {
	dev := fmt.Sprintf("interface %d", a.LinkIndex)
	if l, err := v.cfg.Kernel.LinkByIndex(a.LinkIndex); err == nil {
		dev = fmt.Sprintf("%q", l.Name)
	}
	return fmt.Errorf("vip: %s is already on %s with protocol %d, not %d: %w; it is the host's or another tool's, so hapair neither takes it over nor removes it",
		a.Prefix, dev, a.Proto, Proto, ErrNotOwned)
}

// del removes one address, naming its link in errors.
func (v *VIP) del(a Addr) error {
	l, err := v.cfg.Kernel.LinkByIndex(a.LinkIndex)
	if err != nil {
		return fmt.Errorf("vip: finding interface %d holding %s: %w", a.LinkIndex, a.Prefix, err)
	}
	if err := v.cfg.Kernel.AddrDel(l, a); err != nil {
		return fmt.Errorf("vip: removing %s from %q: %w", a.Prefix, l.Name, err)
	}
	return nil
}

// Stop stops announcing and removes the address wherever it is. Stopping
// a VIP that is not present succeeds.
func (v *VIP) Stop(ctx context.Context) error {
	v.op.Lock()
	defer v.op.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopAnnouncer()
	_, err := v.removeLocked()
	return err
}

// RemoveStale removes the address if this host holds a copy hapair added
// (one with the Proto mark), without announcing anything. The agent calls
// it for groups this node does not own: a VIP left behind by a crash would
// answer ARP and split the traffic. A copy without the mark is logged and
// left alone. It reports whether an address was removed.
func (v *VIP) RemoveStale(ctx context.Context) (bool, error) {
	v.op.Lock()
	defer v.op.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.running != nil {
		return false, fmt.Errorf("vip: not removing %s as stale: it is held", v.cfg.Address)
	}
	return v.removeLocked()
}

func (v *VIP) removeLocked() (bool, error) {
	addrs, err := v.cfg.Kernel.Addrs()
	if err != nil {
		return false, fmt.Errorf("vip: listing addresses for %s: %w", v.cfg.Address, err)
	}
	removed := false
	var errs []error
	for _, a := range addrs {
		if a.Prefix.Addr() != v.ip {
			continue
		}
		if a.Proto != Proto {
			v.cfg.Logger.Warn("not removing address", "vip", v.cfg.Address, "reason", v.notOwned(a).Error())
			continue
		}
		if err := v.del(a); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = true
	}
	return removed, errors.Join(errs...)
}

// Status reports nil when the address is on its interface and announced.
func (v *VIP) Status(ctx context.Context) error {
	v.mu.Lock()
	running := v.running
	v.mu.Unlock()
	if running == nil {
		return fmt.Errorf("vip: %s is not started", v.cfg.Address)
	}
	addrs, err := v.cfg.Kernel.Addrs()
	if err != nil {
		return fmt.Errorf("vip: listing addresses for %s: %w", v.cfg.Address, err)
	}
	for _, a := range addrs {
		if a.Prefix.Addr() == v.ip && a.LinkIndex == running.link.Index {
			return nil
		}
	}
	return fmt.Errorf("vip: %s is missing from %q", v.cfg.Address, running.link.Name)
}

// Announce restarts the announcement schedule (both bursts) from now, for
// a rival owner heard after a partition. It does not block; it does
// nothing when the VIP is not held.
func (v *VIP) Announce() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.announceLocked()
}

func (v *VIP) announceLocked() {
	if v.running == nil {
		return
	}
	select {
	case v.announce <- struct{}{}:
	default: // one pending re-announce is enough
	}
}

// LinkChanged is told of every link change (from Netlink.Watch). It
// returns why the VIP can no longer be served when the link it is held on
// went down or away ("interface eth0 down"), and "" otherwise: the owner
// then gives the group up, since re-adding cannot help.
func (v *VIP) LinkChanged(l Link) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.running == nil || l.Index != v.running.link.Index {
		return ""
	}
	switch {
	case l.Gone:
		return fmt.Sprintf("interface %s removed", v.running.link.Name)
	case !l.Up:
		return fmt.Sprintf("interface %s down", v.running.link.Name)
	}
	return ""
}

// AddrRemoved is told of every removed address (from Netlink.Watch); when
// it is this held VIP, the keeper adds it back at once instead of at its
// next refresh. It reports whether it was this VIP.
func (v *VIP) AddrRemoved(a Addr) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.running == nil || a.Prefix.Addr() != v.ip || a.LinkIndex != v.running.link.Index {
		return false
	}
	select {
	case v.repair <- struct{}{}:
	default:
	}
	return true
}

// Stats returns a snapshot of the counters.
func (v *VIP) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stats
}

// stopAnnouncer ends the loop and waits for it. Called with v.op and v.mu
// held; it lets go of v.mu while waiting, since the loop takes v.mu to send.
func (v *VIP) stopAnnouncer() {
	a := v.running
	if a == nil {
		return
	}
	v.running = nil
	v.stats.Held = false
	close(a.stop)
	v.mu.Unlock()
	<-a.done
	<-a.kept
	<-a.confirmed
	v.mu.Lock()
	if err := a.sender.Close(); err != nil {
		v.cfg.Logger.Warn("closing announcement socket", "vip", v.ip, "iface", a.link.Name, "err", err)
	}
	select {
	case <-v.announce:
	default:
	}
}

func (v *VIP) sendLocked(a *announcer, now time.Time) {
	err := a.sender.Send(v.ip, v.cfg.Form)
	v.stats.Announcements++
	if v.stats.FirstAnnounce.Before(v.stats.TakeoverAt) {
		v.stats.FirstAnnounce = now
	}
	if err != nil {
		v.stats.SendErrors++
		v.stats.LastError = err.Error()
		v.cfg.Logger.Warn("announcing vip", "vip", v.ip, "iface", a.link.Name, "err", err)
	}
}

// announcer is the loop of one takeover.
type announcer struct {
	v      *VIP
	link   Link
	sender Sender
	stop   chan struct{}
	done   chan struct{} // closed when run returns
	kept   chan struct{} // closed when keep returns
	// confirmed is closed when the confirmation loop returns (at once
	// without Config.Confirm).
	confirmed chan struct{}
}

// keep refreshes the address's lifetime every Lifetime/4 while held, and
// adds it back when it is gone (a repair, logged and counted).
func (a *announcer) keep() {
	defer close(a.kept)
	v := a.v
	every := v.cfg.Lifetime / 4
	for {
		select {
		case <-a.stop:
			return
		case <-v.cfg.Clock.After(every):
		case <-v.repair:
		}
		if !a.whileHeld(func() { v.refreshLocked(a.link) }) {
			return
		}
	}
}

// whileHeld runs f with v.mu held unless the announcer was stopped (the
// group released: nothing may be sent or added for it any more), and
// reports whether it ran.
func (a *announcer) whileHeld(f func()) bool {
	a.v.mu.Lock()
	defer a.v.mu.Unlock()
	select {
	case <-a.stop:
		return false
	default:
	}
	f()
	return true
}

func (v *VIP) refreshLocked(l Link) {
	addrs, err := v.cfg.Kernel.Addrs()
	if err != nil {
		v.stats.LastError = err.Error()
		v.cfg.Logger.Warn("refreshing vip", "vip", v.cfg.Address, "iface", l.Name, "err", err)
		return
	}
	present := false
	for _, a := range addrs {
		if a.Prefix == v.cfg.Address && a.LinkIndex == l.Index {
			present = true
		}
	}
	if err := v.cfg.Kernel.AddrAdd(l, v.want(l)); err != nil {
		v.stats.LastError = err.Error()
		v.cfg.Logger.Warn("refreshing vip", "vip", v.cfg.Address, "iface", l.Name, "err", err)
		return
	}
	if !present {
		v.stats.Repairs++
		v.cfg.Logger.Warn("vip repaired", "vip", v.cfg.Address, "iface", l.Name, "reason", "address was gone while held; added it back")
	}
}

func (a *announcer) run(takeover time.Time) {
	defer close(a.done)
	v := a.v
	sent := 1 // Start sent the first
	for {
		due, next, more := v.cfg.Schedule.Due(takeover, v.cfg.Clock.Now(), sent)
		if due > 0 {
			if !a.whileHeld(func() { v.sendLocked(a, v.cfg.Clock.Now()) }) {
				return
			}
			sent += due
			continue
		}
		var wake <-chan time.Time
		if more {
			wake = v.cfg.Clock.After(next.Sub(v.cfg.Clock.Now()))
		}
		select {
		case <-a.stop:
			return
		case <-v.announce:
			takeover, sent = v.cfg.Clock.Now(), 0
		case <-wake:
		}
	}
}
