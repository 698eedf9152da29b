package realtime

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// blockingWriter holds every write until released, like a stderr pipe
// nobody drains.
type blockingWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestLogHandlerNeverWaits: a realtime thread's log calls return while
// the writer is stuck, records past the backlog are counted, not waited
// for, and Close writes what was queued in order with the count.
func TestLogHandlerNeverWaits(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	h := NewLogHandler(slog.NewTextHandler(w, nil))
	log := slog.New(h).With("node", "lb1")
	for i := range logBacklog + 50 { // the writer holds one, the queue the backlog
		log.Info("heartbeat", "i", i)
	}
	if h.dropped.Load() == 0 {
		t.Error("nothing counted as dropped past the backlog")
	}
	close(w.release)
	h.Close()
	out := w.buf.String()
	if !strings.Contains(out, "msg=heartbeat node=lb1 i=0") || !strings.Contains(out, "log_dropped=") {
		t.Errorf("written:\n%.300s\nwant the first record, its attrs, and the drop count", out)
	}
	log.Info("after close") // written directly
	if !strings.Contains(w.buf.String(), "after close") {
		t.Error("a record after Close was not written")
	}
	if !h.Enabled(context.Background(), slog.LevelInfo) || h.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("Enabled does not follow the inner handler's level")
	}
}
