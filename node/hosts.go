package node

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/hapair/hapair/internal/config"
)

// lastKnown resolves the host names of a reloaded config. A name that no
// longer resolves keeps the address it has in the running config, with a
// warning: a DNS outage must neither fail a reload nor take reals away.
// A name new to the file has no last address and fails the reload, as it
// fails a check.
type lastKnown struct {
	prev *config.Config
	next config.Resolver // nil: config.DefaultResolver
	log  *slog.Logger
}

func (l lastKnown) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r := l.next
	if r == nil {
		r = config.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, network, host)
	if err == nil && len(addrs) > 0 {
		return addrs, nil
	}
	if a, ok := l.last(host); ok {
		l.log.Warn("host name does not resolve; keeping its last address", "host", host, "address", a.String(), "err", err)
		return []netip.Addr{a}, nil
	}
	return addrs, err
}

// last is the address host had in the running config.
func (l lastKnown) last(host string) (netip.Addr, bool) {
	if l.prev == nil {
		return netip.Addr{}, false
	}
	for _, s := range l.prev.Services {
		if s.FallbackHost == host {
			return s.Fallback.Addr(), true
		}
		for _, r := range append(append([]config.Real(nil), s.Reals...), s.Backups...) {
			if r.Host == host {
				return r.Address.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}
