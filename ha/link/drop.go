package link

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// DropReason says why a received datagram was not delivered.
type DropReason uint8

const (
	DropTTL           DropReason = iota // received TTL is not 255: off-link sender (GTSM)
	DropShort                           // shorter than the smallest packet
	DropBadMAC                          // MAC does not verify (wrong key, forged, corrupted)
	DropMalformed                       // authenticated but does not decode
	DropVersion                         // authenticated, another wire version
	DropWrongCluster                    // authenticated, another cluster id
	DropUnknownSender                   // sender is not in Config.Nodes
	DropSelf                            // sender is our own name: a node with our name, or a loop
	DropReplay                          // (generation, seq) older than the last accepted
	DropDuplicate                       // same (generation, seq) as the last accepted: already heard on another link; expected, not logged
	DropBacklog                         // accepted, but the agent fell behind: Received is full
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropTTL:           "ttl",
	DropShort:         "short",
	DropBadMAC:        "bad-mac",
	DropMalformed:     "malformed",
	DropVersion:       "version",
	DropWrongCluster:  "wrong-cluster",
	DropUnknownSender: "unknown-sender",
	DropSelf:          "self",
	DropReplay:        "replay",
	DropDuplicate:     "duplicate",
	DropBacklog:       "backlog",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// MarshalText makes DropReason usable as a JSON map key in status output.
func (r DropReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// logEvery is how often one (reason, peer address) pair may log: a flood of
// forged packets costs one line per 10 s, with the count of the rest.
const logEvery = 10 * time.Second

// maxLimiterKeys bounds the limiter's memory when spoofed source addresses
// vary; past it, new addresses share one key per reason.
const maxLimiterKeys = 256

type limiterKey struct {
	event string         // a DropReason's name, or "send", "read"
	addr  netip.AddrPort // zero for none (read errors)
	many  bool           // the shared key of sources past maxLimiterKeys
}

type limiterEntry struct {
	last       time.Time
	suppressed uint64
}

// limiter lets one (event, address) pair through at most once per logEvery
// and counts the rest.
type limiter struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[limiterKey]*limiterEntry
}

// allow reports whether a line for (event, addr) may be logged now, the
// address to log (addr, or a shared placeholder once too many sources were
// seen) and how many lines were suppressed since the last one. It
// allocates only for a source it has not seen.
func (lim *limiter) allow(event string, addr netip.AddrPort) (ok bool, logAddr string, suppressed uint64) {
	now := lim.now()
	lim.mu.Lock()
	defer lim.mu.Unlock()
	k := limiterKey{event: event, addr: addr}
	e := lim.entries[k]
	if e == nil {
		if len(lim.entries) >= maxLimiterKeys {
			for k, e := range lim.entries {
				if now.Sub(e.last) >= logEvery {
					delete(lim.entries, k)
				}
			}
		}
		if len(lim.entries) >= maxLimiterKeys {
			k = limiterKey{event: event, many: true}
		}
		if e = lim.entries[k]; e == nil {
			e = &limiterEntry{}
			lim.entries[k] = e
		}
	}
	if !e.last.IsZero() && now.Sub(e.last) < logEvery {
		e.suppressed++
		return false, "", 0
	}
	suppressed = e.suppressed
	e.last, e.suppressed = now, 0
	switch {
	case k.many:
		logAddr = "* (too many sources)"
	case addr.IsValid():
		logAddr = addr.String()
	default:
		logAddr = "unknown"
	}
	return true, logAddr, suppressed
}

// logLimited logs msg unless (event, addr) logged within logEvery.
func (s *Set) logLimited(msg, event, linkName string, addr netip.AddrPort, err error, extra ...any) {
	if ok, logAddr, suppressed := s.limit.allow(event, addr); ok {
		s.logLine(msg, linkName, logAddr, suppressed, err, extra...)
	}
}

// logLine logs one rate-limited line with the count of those suppressed.
func (s *Set) logLine(msg, linkName, addr string, suppressed uint64, err error, extra ...any) {
	attrs := append([]any{"link", linkName, "peer", addr}, extra...)
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	s.cfg.Logger.Warn(msg, attrs...)
}
