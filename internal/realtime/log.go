package realtime

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// LogHandler is a slog.Handler for realtime threads: Handle queues a copy
// of the record and returns at once, and one normal goroutine writes the
// queued records with the inner handler. A realtime thread that logged
// through the shared handler directly would wait for its mutex and for the
// write to stderr; when a normal-priority goroutine holding that mutex has
// been descheduled by the load, the heartbeat thread would wait behind it
// (priority inversion), at the worst moment: the "peer late" line is
// written just when the timing is tight. When the queue is full the record
// is dropped and counted, and the count is logged with the next record
// written.
type LogHandler struct {
	inner   slog.Handler
	q       *logQueue
	dropped *atomic.Uint64
}

type logQueue struct {
	mu     sync.RWMutex // Handle against Close; only Close takes it for writing
	closed bool
	ch     chan logItem
	done   chan struct{}
}

type logItem struct {
	h slog.Handler
	r slog.Record
}

// logBacklog is how many records may wait: far more than a heartbeat loop
// logs in the time a loaded machine takes to schedule the writer.
const logBacklog = 256

// NewLogHandler starts the writer goroutine of a LogHandler over inner;
// Close stops it after writing what is queued.
func NewLogHandler(inner slog.Handler) *LogHandler {
	h := &LogHandler{inner: inner, q: &logQueue{ch: make(chan logItem, logBacklog), done: make(chan struct{})}, dropped: new(atomic.Uint64)}
	go h.write()
	return h
}

func (h *LogHandler) write() {
	defer close(h.q.done)
	for it := range h.q.ch {
		if n := h.dropped.Swap(0); n > 0 {
			it.r.AddAttrs(slog.Uint64("log_dropped", n))
		}
		it.h.Handle(context.Background(), it.r)
	}
}

// Enabled reports whether the inner handler takes records at level.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle queues a copy of r without waiting (after Close it writes r
// itself); it never fails.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.q.mu.RLock()
	defer h.q.mu.RUnlock()
	if h.q.closed {
		return h.inner.Handle(ctx, r)
	}
	select {
	case h.q.ch <- logItem{h.inner, r.Clone()}:
	default:
		h.dropped.Add(1)
	}
	return nil
}

// WithAttrs returns a handler sharing the queue, over inner.WithAttrs.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{inner: h.inner.WithAttrs(attrs), q: h.q, dropped: h.dropped}
}

// WithGroup returns a handler sharing the queue, over inner.WithGroup.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{inner: h.inner.WithGroup(name), q: h.q, dropped: h.dropped}
}

// Close writes what is queued and stops the writer; later records are
// written directly. Closing twice is harmless.
func (h *LogHandler) Close() {
	h.q.mu.Lock()
	if !h.q.closed {
		h.q.closed = true
		close(h.q.ch)
	}
	h.q.mu.Unlock()
	<-h.q.done
}
