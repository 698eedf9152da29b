package link

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/realtime"
)

// maxBatchesPerTurn bounds how many batches one link is read for before the
// others get their turn: a flood on one link never starves another.
const maxBatchesPerTurn = 8

// receiveRealtime reads every link on one realtime thread until Close. It
// waits in ppoll(2) on the sockets and the Set's waiter, never in Go's
// network poller or timers, so its wake-up depends only on the kernel
// scheduling a SCHED_RR thread.
func (s *Set) receiveRealtime() {
	if err := realtime.LockThread(realtime.Priority); err != nil {
		s.cfg.Logger.Warn("heartbeat receive thread runs at normal priority", "err", err)
	}
	b := newBatch()
	for {
		ready, err := s.rt.Wait(-1)
		select {
		case <-s.done:
			return
		default:
		}
		if err != nil {
			if !s.readFailed(s.links[0], err) {
				return
			}
			continue
		}
		for i, l := range s.links {
			if !ready[i] {
				continue
			}
			for range maxBatchesPerTurn {
				n, err := b.read(l.fd)
				if errors.Is(err, unix.EAGAIN) {
					break
				}
				if err != nil {
					if !s.readFailed(l, err) {
						return
					}
					break
				}
				s.handleBatch(l, b, n)
				if n < batchSize {
					break // drained: ppoll says when more comes
				}
			}
		}
	}
}
