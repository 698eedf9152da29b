package proxy

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hapair/hapair/proxy/l4"
	"github.com/hapair/hapair/proxy/l7"
)

// Snapshot is the data of `hactl services` (and its -o json).
type Snapshot struct {
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one virtual service as seen now.
type ServiceStatus struct {
	Name       string `json:"name"`
	Protocol   string `json:"protocol"`
	Listen     string `json:"listen"`
	Mode       string `json:"mode"`
	Scheduler  string `json:"scheduler"`
	Persistent string `json:"persistent,omitempty"` // Go duration, "" when off
	Quiescent  bool   `json:"quiescent"`
	Check      string `json:"check"`
	Active     bool   `json:"active"` // accepting traffic on this node
	// FirstConnection is when the first connection, flow or request was
	// scheduled since the service was last activated here (zero: none
	// yet): the last step of a takeover's timeline.
	FirstConnection time.Time `json:"first_connection,omitzero"`
	// Pool is where new connections go: primary, backup, fallback or none.
	Pool       string       `json:"pool"`
	PoolReason string       `json:"pool_reason"`
	Fallback   *RealStatus  `json:"fallback,omitempty"`
	Reals      []RealStatus `json:"reals"`
	Stats      ServiceStats `json:"stats"`
}

// RealStatus is one real server of a service.
type RealStatus struct {
	Address string `json:"address"`
	Pool    string `json:"pool"`   // primary, backup or fallback
	Weight  int    `json:"weight"` // configured
	// Effective is the weight the scheduler sees now: 0 when down
	// (quiescent) or drained.
	Effective  int    `json:"effective_weight"`
	Healthy    bool   `json:"healthy"`
	Removed    bool   `json:"removed"` // down in a non-quiescent service
	Reason     string `json:"reason"`  // last check result
	Draining   bool   `json:"draining"`
	ActiveConn int64  `json:"active_conns"`
	InActConn  int64  `json:"inactive_conns"`
	// Checks and CheckFailures count the completed health checks and the
	// failed ones; LastCheckSeconds is how long the last one took and
	// CheckSeconds the sum over Checks (0 without checks).
	// Scheduled counts the connections, flows and requests sent to the
	// real, like ipvsadm --stats' Conns.
	Scheduled uint64 `json:"scheduled"`
	// BytesIn (client to real) and BytesOut (real to client) relayed,
	// like ipvsadm --stats (HTTP mode counts request and response bodies).
	BytesIn          uint64  `json:"bytes_in"`
	BytesOut         uint64  `json:"bytes_out"`
	Checks           uint64  `json:"checks"`
	CheckFailures    uint64  `json:"check_failures"`
	LastCheckSeconds float64 `json:"last_check_seconds"`
	CheckSeconds     float64 `json:"check_seconds"`
}

// ServiceStats are a service's data-path counters; one of the three is
// set, by protocol and mode.
type ServiceStats struct {
	TCP  *l4.TCPStats `json:"tcp,omitempty"`
	UDP  *l4.UDPStats `json:"udp,omitempty"`
	HTTP *l7.Stats    `json:"http,omitempty"`
}

// Stats is every service's counters by name, for the admin exporter.
type Stats struct {
	Services map[string]ServiceStats `json:"services"`
}

// Snapshot returns the current state of every service, in config order.
func (b *Balancer) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out Snapshot
	for _, name := range b.order {
		if s, ok := b.services[name]; ok {
			out.Services = append(out.Services, s.status())
		}
	}
	return out
}

// Stats returns every service's counters.
func (b *Balancer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := Stats{Services: make(map[string]ServiceStats, len(b.services))}
	for name, s := range b.services {
		st.Services[name] = s.stats()
	}
	return st
}

func (s *service) stats() ServiceStats {
	switch {
	case s.tcp != nil:
		st := s.tcp.Stats()
		return ServiceStats{TCP: &st}
	case s.udp != nil:
		st := s.udp.Stats()
		return ServiceStats{UDP: &st}
	default:
		st := s.web.Stats()
		return ServiceStats{HTTP: &st}
	}
}

func (s *service) status() ServiceStatus {
	ps := s.picker.pools.Load()
	c := ps.cfg
	st := ServiceStatus{
		Name: s.name, Protocol: c.Protocol, Listen: c.Listen.String(), Mode: c.Mode,
		Scheduler: c.Scheduler, Quiescent: c.Quiescent, Check: checkDesc(c.Check),
		Active: s.isActive(), Stats: s.stats(),
	}
	if ns := s.picker.first.Load(); ns != 0 {
		st.FirstConnection = time.Unix(0, ns)
	}
	if c.Persistent > 0 {
		st.Persistent = c.Persistent.String()
	}
	s.mu.Lock()
	st.Pool, st.PoolReason = s.pool, s.poolReason
	s.mu.Unlock()
	real := func(r *real, pool string) RealStatus {
		rs := RealStatus{
			Address: r.addr.String(), Pool: pool, Weight: int(r.weight.Load()),
			Healthy: r.healthy.Load(), Draining: r.draining.Load(),
			ActiveConn: r.active.Load(), InActConn: r.inactive.Load(), Scheduled: r.scheduled.Load(),
			BytesIn: r.bytesIn.Load(), BytesOut: r.bytesOut.Load(),
		}
		if r.usable() {
			rs.Effective = rs.Weight
		}
		rs.Removed = !rs.Healthy && !c.Quiescent
		rs.Reason = "not checked"
		if pool != "fallback" {
			rs.Reason = s.b.healthReason(s, r)
			s.b.checkCounts(s, r, &rs)
		}
		return rs
	}
	for _, r := range ps.primaries {
		st.Reals = append(st.Reals, real(r, "primary"))
	}
	for _, r := range ps.backups {
		st.Reals = append(st.Reals, real(r, "backup"))
	}
	if ps.fallback != nil {
		f := real(ps.fallback, "fallback")
		st.Fallback = &f
	}
	return st
}

// WriteTable writes the snapshot in the layout of `ipvsadm -Ln`, one
// service line followed by its reals, with hapair's extra columns (pool,
// health with reason, drain):
//
//	Prot LocalAddress:Port Scheduler Flags
//	  -> RemoteAddress:Port   Pool     Weight ActiveConn InActConn Health
//	TCP  198.18.0.10:80 wrr persistent 300 (http: mode http, active, pool primary)
//	  -> 198.18.1.1:80        primary  1      3          0         up (ok)
func (s Snapshot) WriteTable(w io.Writer) error {
	tw := &errWriter{w: w}
	fmt.Fprintln(tw, "Prot LocalAddress:Port Scheduler Flags")
	fmt.Fprintf(tw, realFormat, "RemoteAddress:Port", "Pool", "Weight", "ActiveConn", "InActConn", "Health")
	for _, sv := range s.Services {
		var flags []string
		if sv.Persistent != "" {
			flags = append(flags, "persistent "+persistSeconds(sv.Persistent))
		}
		if sv.Quiescent {
			flags = append(flags, "quiescent")
		}
		state := "inactive"
		if sv.Active {
			state = "active"
		}
		head := strings.Join(append([]string{strings.ToUpper(sv.Protocol), sv.Listen, sv.Scheduler}, flags...), " ")
		fmt.Fprintf(tw, "%s (%s: mode %s, check %s, %s, pool %s: %s)\n",
			head, sv.Name, sv.Mode, sv.Check, state, sv.Pool, sv.PoolReason)
		rows := slices.Clone(sv.Reals)
		if sv.Fallback != nil {
			rows = append(rows, *sv.Fallback)
		}
		for _, r := range rows {
			health := "up"
			switch {
			case !r.Healthy && r.Removed:
				health = "down, removed"
			case !r.Healthy:
				health = "down, weight 0"
			}
			health += " (" + r.Reason + ")"
			if r.Draining {
				health += " draining"
			}
			fmt.Fprintf(tw, realFormat, r.Address, r.Pool, strconv.Itoa(r.Effective),
				strconv.FormatInt(r.ActiveConn, 10), strconv.FormatInt(r.InActConn, 10), health)
		}
	}
	return tw.err
}

// realFormat is ipvsadm's real-server line ("  -> %-28s %-7s %-6d %-10d
// %-10d") with hapair's pool and health columns.
const realFormat = "  -> %-28s %-8s %-6s %-10s %-10s %s\n"

// errWriter keeps the first write error so WriteTable can return it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// persistSeconds prints a Go duration the way ipvsadm prints -p: seconds.
func persistSeconds(d string) string {
	if n, err := parseDurationSeconds(d); err == nil {
		return fmt.Sprintf("%g", n)
	}
	return d
}

func parseDurationSeconds(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}
