package l4

import (
	"log/slog"
	"sync/atomic"

	"github.com/hapair/hapair/proxy/upstream"
)

// proxyBase is what the TCP and the UDP proxy share: the picker, the
// logger, the settings (swapped whole, so a connection or a datagram reads
// one consistent set) and the on/off switch. C is TCPConfig or UDPConfig.
type proxyBase[C interface{ withDefaults() C }] struct {
	picker upstream.Picker
	log    *slog.Logger
	cfg    atomic.Pointer[C]
	active atomic.Bool
}

// init sets the picker, the logger (nil discards) and the first settings.
func (b *proxyBase[C]) init(p upstream.Picker, cfg C, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b.picker, b.log = p, log
	b.setConfig(cfg)
}

// setConfig replaces the settings; zero fields mean the defaults.
func (b *proxyBase[C]) setConfig(cfg C) {
	cfg = cfg.withDefaults()
	b.cfg.Store(&cfg)
}

// SetActive turns forwarding of new connections or datagrams on or off.
// Established connections are not touched either way, and existing UDP
// flows keep forwarding replies until they expire.
func (b *proxyBase[C]) SetActive(on bool) { b.active.Store(on) }

// Active reports whether new connections or datagrams are forwarded.
func (b *proxyBase[C]) Active() bool { return b.active.Load() }
